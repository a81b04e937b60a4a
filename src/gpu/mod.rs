//! The GPU engine: the model's forward pass and the whole unmasking loop as WGSL
//! compute kernels through `wgpu` (WebGPU in the browser, Vulkan/Metal/DX12 natively).
//!
//! - [`context`]: adapter/device, limits, counters and the one read-back path.
//! - [`shader`]: each kernel's bindings (`KernelDef`) and its WGSL source.
//! - [`pipelines`]: the device's pipeline cache.
//! - [`kernels`]: each kernel as a typed operation (its constructor), uniforms,
//!   buffers, and one-kernel runners the tests compare against the CPU reference.
//! - [`model`]: weights on the GPU, the recorded forward pass and `generate`.

pub mod context;
pub mod kernels;
pub mod model;
pub mod pipelines;
pub mod shader;

pub use context::{Counters, GpuContext, GpuError};
pub use model::GpuModel;
