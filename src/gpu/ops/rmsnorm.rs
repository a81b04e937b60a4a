//! y = x / rms(x) · weight, per row.

use super::{bind, Grid, Op, Shared, DIMS, STATE};
use crate::gpu::context::{GpuContext, GpuError};
use crate::gpu::shader::{slot, Access, KernelDef};
use crate::gpu::tensor::{check_shape, Tensor};

pub const DEF: KernelDef = KernelDef {
    name: "rmsnorm",
    body: include_str!("../../../shaders/rmsnorm.wgsl"),
    sampler: false,
    workgroup: true,
    weights: false,
    slots: &[
        DIMS,
        STATE,
        slot("x", Access::Read, "array<f32>"),
        slot("weight", Access::Read, "array<f32>"),
        slot("y", Access::ReadWrite, "array<f32>"),
    ],
};

/// `x` (T, D) normed by the gain `weight` (1, D) into `y` (T, D).
pub fn op(ctx: &GpuContext, s: Shared, x: &Tensor<f32>, weight: &Tensor<f32>, y: &Tensor<f32>) -> Result<Op, GpuError> {
    check_shape(DEF.name, "weight", weight.shape(), [1, x.cols])?;
    check_shape(DEF.name, "y", y.shape(), x.shape())?;
    let b = [("dims", &**s.dims), ("state", s.state), ("x", x), ("weight", weight), ("y", y)];
    Ok(bind(ctx, &DEF, None, &b, Grid::Rows { y: 1 }, vec![]))
}

#[cfg(feature = "kernel-tests")]
impl super::KernelRunner<'_> {
    pub async fn rmsnorm(&self, x: &[f32], w: &[f32], eps: f32) -> Result<Vec<f32>, GpuError> {
        let d = w.len();
        let t = x.len() / d.max(1);
        let dims = super::Dims { t: t as u32, d: d as u32, eps, ..Default::default() };
        let (dims, st) = self.shared(dims, super::State::default());
        let (xb, wb) = (self.tensor(x, t, d)?, self.tensor(w, 1, d)?);
        let y = Tensor::zeros(self.dev(), "y", t, d);
        let o = op(self.ctx, Shared { dims: &dims, state: &st }, &xb, &wb, &y)?;
        super::run_and_read(self.ctx, &[o], t, &y).await
    }
}
