//! The GPU engine: the model's forward pass and the whole unmasking loop as WGSL
//! compute kernels through `wgpu` (WebGPU in the browser, Vulkan/Metal/DX12 natively).
//!
//! - [`context`]: adapter/device, limits, counters and the one read-back path.
//! - [`shader`]: what a kernel definition is (`KernelDef`: bindings by name,
//!   structs declared from Rust) and the assembly of its WGSL source.
//! - [`pipelines`]: the device's pipeline cache.
//! - [`tensor`]: buffers with shapes (`Tensor`, `Uniform`, `GpuMatrix`).
//! - [`ops`]: one file per kernel — its definition, its shape-checking
//!   constructor, its own uniform struct, and (feature `kernel-tests`) the
//!   one-kernel runner the tests compare against the CPU reference.
//! - [`model`]: weights on the GPU, the recorded forward pass and `generate`.

pub mod context;
pub mod model;
pub mod ops;
pub mod pipelines;
pub mod shader;
pub mod tensor;

pub use context::{Counters, GpuContext, GpuError};
pub use model::GpuModel;
