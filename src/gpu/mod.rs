//! The GPU engine: the model's forward pass and the whole unmasking loop as WGSL
//! compute kernels through `wgpu` (WebGPU in the browser, Vulkan/Metal/DX12 natively).
//!
//! - [`context`]: adapter/device, limits, counters and the one read-back path.
//! - [`kernels`]: shader assembly, the pipeline cache, and one-kernel runners the
//!   tests compare against the CPU reference.
//! - [`model`]: weights on the GPU, the recorded forward pass and `generate`.

pub mod context;
pub mod kernels;
pub mod model;

pub use context::{Counters, GpuContext, GpuError};
pub use model::GpuModel;
