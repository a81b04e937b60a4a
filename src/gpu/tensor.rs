//! Buffers with the shape the kernels read them as: a [`Tensor`] is a storage
//! buffer of `rows × cols` elements of one type, a [`Uniform`] a buffer holding one
//! shared struct, and a [`GpuMatrix`] a weight matrix in its file's format. The
//! kernel constructors (`gpu::ops`) check the shapes they are given against each
//! other before binding anything, so a forward pass wired wrongly is refused with
//! a reason instead of reading past a row.

use std::marker::PhantomData;
use std::ops::Deref;

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use super::context::GpuError;
use super::shader::{GpuWeights, WgslStruct};
use crate::format::Matrix;

/// A storage buffer of `rows × cols` values of `E` (`f32`, `u32` or a shared
/// struct), row-major. Activations have `rows` = the longest sequence; a dispatch
/// covers the first T of them.
pub struct Tensor<E> {
    buffer: wgpu::Buffer,
    pub rows: usize,
    pub cols: usize,
    _elem: PhantomData<E>,
}

impl<E: Pod> Tensor<E> {
    /// A zeroed tensor.
    pub fn zeros(device: &wgpu::Device, label: &str, rows: usize, cols: usize) -> Self {
        let bytes = (rows * cols * size_of::<E>()) as u64;
        Tensor { buffer: storage(device, label, bytes), rows, cols, _elem: PhantomData }
    }

    /// A tensor holding `data`, which must have `rows × cols` values.
    pub fn from_data(
        device: &wgpu::Device,
        label: &str,
        rows: usize,
        cols: usize,
        data: &[E],
    ) -> Result<Self, GpuError> {
        if data.len() != rows * cols {
            return Err(GpuError::Shape(format!("{label}: {} values for a {rows}×{cols} tensor", data.len())));
        }
        Ok(Tensor { buffer: storage_init(device, label, bytemuck::cast_slice(data)), rows, cols, _elem: PhantomData })
    }

    /// A single row holding `data`.
    pub fn row(device: &wgpu::Device, label: &str, data: &[E]) -> Self {
        Tensor {
            buffer: storage_init(device, label, bytemuck::cast_slice(data)),
            rows: 1,
            cols: data.len(),
            _elem: PhantomData,
        }
    }

    /// A single column holding `data` (one value per position).
    pub fn column(device: &wgpu::Device, label: &str, data: &[E]) -> Self {
        Tensor {
            buffer: storage_init(device, label, bytemuck::cast_slice(data)),
            rows: data.len(),
            cols: 1,
            _elem: PhantomData,
        }
    }

    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E> Deref for Tensor<E> {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

/// A uniform buffer holding one `T`.
pub struct Uniform<T> {
    buffer: wgpu::Buffer,
    _value: PhantomData<T>,
}

impl<T: WgslStruct> Uniform<T> {
    pub fn new(device: &wgpu::Device, label: &str, value: &T) -> Self {
        let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        Uniform { buffer, _value: PhantomData }
    }

    /// Replaces the value (on the queue: before the next submission runs).
    pub fn write(&self, queue: &wgpu::Queue, value: &T) {
        queue.write_buffer(&self.buffer, 0, bytemuck::bytes_of(value));
    }
}

impl<T> Deref for Uniform<T> {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

/// Refuses `got` where `want` was needed: what a kernel constructor says when its
/// operands do not fit together.
pub fn check_shape(kernel: &str, what: &str, got: [usize; 2], want: [usize; 2]) -> Result<(), GpuError> {
    if got == want {
        Ok(())
    } else {
        Err(GpuError::Shape(format!("{kernel}: {what} is {}×{}, needs {}×{}", got[0], got[1], want[0], want[1])))
    }
}

/// Refuses `ok == false` with `why`: a constraint on one operand.
pub fn check(kernel: &str, ok: bool, why: impl FnOnce() -> String) -> Result<(), GpuError> {
    if ok {
        Ok(())
    } else {
        Err(GpuError::Shape(format!("{kernel}: {}", why())))
    }
}

/// A matrix in GPU memory: its words and (quantized) its block scales.
pub struct GpuMatrix {
    pub rows: usize,
    pub cols: usize,
    pub kind: GpuWeights,
    pub words: wgpu::Buffer,
    pub scales: Option<wgpu::Buffer>,
}

impl GpuMatrix {
    pub fn upload(device: &wgpu::Device, m: &Matrix, label: &str) -> Self {
        Self::stacked(device, &[m], label)
    }

    /// `parts` stacked by rows into one matrix (Q/K/V, gate/up): one product
    /// instead of several. They share a format and a column count, a multiple of
    /// the 32-weight block, so each row's words and scales stay whole.
    pub fn stacked(device: &wgpu::Device, parts: &[&Matrix], label: &str) -> Self {
        let first = parts[0];
        assert!(
            parts.iter().all(|m| m.cols == first.cols && m.format() == first.format()),
            "{label}: stacked matrices differ in shape or format"
        );
        let kind: GpuWeights = first.format().into();
        assert!(parts.len() == 1 || kind == GpuWeights::Dense || first.cols.is_multiple_of(32));
        let words: Vec<u32> = parts.iter().flat_map(|m| m.gpu_words()).collect();
        let scales: Vec<f32> = parts.iter().flat_map(|m| m.scales().iter().copied()).collect();
        GpuMatrix {
            rows: parts.iter().map(|m| m.rows).sum(),
            cols: first.cols,
            kind,
            words: storage_init(device, label, bytemuck::cast_slice(&words)),
            scales: (!scales.is_empty()).then(|| storage_init(device, label, bytemuck::cast_slice(&scales))),
        }
    }

    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
}

pub fn storage_init(device: &wgpu::Device, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    })
}

pub fn storage(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}
