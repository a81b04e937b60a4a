//! What a kernel binds and its WGSL source: [`KernelDef`] (bindings by name, type
//! and access; each kernel's is in its op file, `gpu::ops`), the structs shared
//! with WGSL ([`wgsl_struct!`]: declared once, in Rust), the weight kinds a weight
//! reader is compiled for, and the assembly of a kernel's source from the shared
//! snippets with its generated structs, bindings and bind group layout. Nothing
//! here needs a device but the layout.

use crate::format::WeightFormat;

/// How weights sit in GPU memory: f32 and f16 files both upload as f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuWeights {
    Dense,
    Q8,
    Q4,
}

impl GpuWeights {
    pub const ALL: [GpuWeights; 3] = [GpuWeights::Dense, GpuWeights::Q8, GpuWeights::Q4];
}

impl From<WeightFormat> for GpuWeights {
    fn from(f: WeightFormat) -> Self {
        match f {
            WeightFormat::F32 | WeightFormat::F16 => GpuWeights::Dense,
            WeightFormat::Q8 => GpuWeights::Q8,
            WeightFormat::Q4 => GpuWeights::Q4,
        }
    }
}

/// How a kernel uses one of its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Uniform,
    Read,
    ReadWrite,
}

/// One binding of a kernel: its WGSL name and type and how the kernel uses it.
/// Bindings are numbered by their place in [`KernelDef::slots`]. A binding of a
/// struct type carries the struct's layout, whose WGSL declaration is generated
/// from the Rust struct ([`wgsl_struct!`]).
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub name: &'static str,
    pub access: Access,
    pub ty: &'static str,
    pub layout: Option<&'static StructLayout>,
}

/// A binding of an array (or other built-in) type.
pub const fn slot(name: &'static str, access: Access, ty: &'static str) -> Slot {
    Slot { name, access, ty, layout: None }
}

/// A binding of the struct `T`, declared in WGSL from its Rust definition.
pub const fn struct_slot<T: WgslStruct>(name: &'static str, access: Access) -> Slot {
    Slot { name, access, ty: T::LAYOUT.name, layout: Some(T::LAYOUT) }
}

/// A struct shared by Rust and WGSL: its name, its WGSL declaration, and its
/// fields' byte offsets and size as Rust lays it out (`tests/shaders.rs` holds
/// them against naga's layout of the declaration).
#[derive(Debug)]
pub struct StructLayout {
    pub name: &'static str,
    pub wgsl: &'static str,
    pub fields: &'static [(&'static str, usize)],
    pub size: usize,
}

/// A `#[repr(C)]` struct written into a uniform or storage buffer.
pub trait WgslStruct: bytemuck::Pod {
    const LAYOUT: &'static StructLayout;
}

/// The scalar types a shared struct's fields may have: the same name and size in
/// Rust and WGSL.
pub trait WgslScalar {}
impl WgslScalar for u32 {}
impl WgslScalar for i32 {}
impl WgslScalar for f32 {}
pub const fn is_scalar<T: WgslScalar>() {}

/// Defines a `#[repr(C)]` struct of `u32`/`i32`/`f32` fields and its
/// [`WgslStruct`] layout, so the WGSL declaration cannot drift from the Rust one.
#[macro_export]
macro_rules! wgsl_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ident,)* }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }

        impl $crate::gpu::shader::WgslStruct for $name {
            const LAYOUT: &'static $crate::gpu::shader::StructLayout = &$crate::gpu::shader::StructLayout {
                name: stringify!($name),
                wgsl: concat!("struct ", stringify!($name), " {\n", $("    ", stringify!($f), ": ", stringify!($t), ",\n",)* "}\n"),
                fields: &[$((stringify!($f), core::mem::offset_of!($name, $f)),)*],
                size: core::mem::size_of::<$name>(),
            };
        }

        const _: () = { $($crate::gpu::shader::is_scalar::<$t>();)* };
    };
}

/// A compute kernel: its WGSL, the shared snippets it needs and its bindings.
#[derive(Debug)]
pub struct KernelDef {
    pub name: &'static str,
    pub body: &'static str,
    /// Needs `sampler_common.wgsl` (the repeat rule's helpers).
    pub sampler: bool,
    /// Needs `workgroup.wgsl` (workgroup reductions, `loop_done`).
    pub workgroup: bool,
    /// Reads a weight matrix: the format's snippet, and its bindings after `slots`.
    pub weights: bool,
    pub slots: &'static [Slot],
}

/// The bindings a weight format adds after a kernel's own.
pub fn weight_slots(w: GpuWeights) -> &'static [Slot] {
    const WORDS: Slot = slot("w_words", Access::Read, "array<u32>");
    const BLOCKS: [Slot; 2] = [WORDS, slot("w_scales", Access::Read, "array<f32>")];
    match w {
        GpuWeights::Dense => &[WORDS],
        GpuWeights::Q8 | GpuWeights::Q4 => &BLOCKS,
    }
}

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const SAMPLER_COMMON: &str = include_str!("../../shaders/sampler_common.wgsl");
const WORKGROUP: &str = include_str!("../../shaders/workgroup.wgsl");

impl KernelDef {
    /// Every binding, the weight format's last; `weights` must be given exactly
    /// when the kernel reads weights.
    pub fn all_slots(&self, weights: Option<GpuWeights>) -> Vec<Slot> {
        assert_eq!(weights.is_some(), self.weights, "{}: weight format given wrongly", self.name);
        self.slots.iter().chain(weights.map(weight_slots).unwrap_or(&[])).copied().collect()
    }

    /// The full WGSL source.
    pub fn source(&self, weights: Option<GpuWeights>) -> String {
        let mut src = String::from(COMMON);
        if self.sampler {
            src.push_str(SAMPLER_COMMON);
        }
        let slots = self.all_slots(weights);
        src.push_str(&format!("\n// Structs and bindings of `{}`, generated by gpu::shader.\n", self.name));
        let mut declared: Vec<&str> = Vec::new();
        for l in slots.iter().filter_map(|s| s.layout) {
            if !declared.contains(&l.name) {
                declared.push(l.name);
                src.push_str(l.wgsl);
            }
        }
        for (i, s) in slots.iter().enumerate() {
            let space = match s.access {
                Access::Uniform => "uniform",
                Access::Read => "storage, read",
                Access::ReadWrite => "storage, read_write",
            };
            src.push_str(&format!("@group(0) @binding({i}) var<{space}> {}: {};\n", s.name, s.ty));
        }
        if self.workgroup {
            src.push_str(WORKGROUP);
        }
        if let Some(w) = weights {
            src.push_str(match w {
                GpuWeights::Dense => include_str!("../../shaders/weights_dense.wgsl"),
                GpuWeights::Q8 => include_str!("../../shaders/weights_q8.wgsl"),
                GpuWeights::Q4 => include_str!("../../shaders/weights_q4.wgsl"),
            });
        }
        src.push_str(self.body);
        src
    }

    pub(super) fn layout(&self, device: &wgpu::Device, weights: Option<GpuWeights>) -> wgpu::BindGroupLayout {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = self
            .all_slots(weights)
            .iter()
            .enumerate()
            .map(|(i, s)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match s.access {
                        Access::Uniform => wgpu::BufferBindingType::Uniform,
                        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(self.name), entries: &entries })
    }
}
