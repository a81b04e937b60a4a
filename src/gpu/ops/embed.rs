//! x (T, D) = E[tokens]: the embedding lookup (behind [MASK] for a shifted model).

use super::{bind, Grid, Op, Shared, DIMS, STATE};
use crate::gpu::context::{GpuContext, GpuError};
use crate::gpu::shader::{slot, Access, KernelDef};
use crate::gpu::tensor::{check_shape, GpuMatrix, Tensor};

pub const DEF: KernelDef = KernelDef {
    name: "embed",
    body: include_str!("../../../shaders/embed.wgsl"),
    sampler: false,
    workgroup: false,
    weights: true,
    slots: &[DIMS, STATE, slot("tokens", Access::Read, "array<u32>"), slot("x", Access::ReadWrite, "array<f32>")],
};

/// `tokens` (T, 1) and the table (V, D) into `x` (T, D).
pub fn op(
    ctx: &GpuContext,
    s: Shared,
    tokens: &Tensor<u32>,
    table: &GpuMatrix,
    x: &Tensor<f32>,
) -> Result<Op, GpuError> {
    check_shape(DEF.name, "x", x.shape(), [tokens.rows, table.cols])?;
    check_shape(DEF.name, "tokens", tokens.shape(), [x.rows, 1])?;
    let b = [("dims", &**s.dims), ("state", s.state), ("tokens", tokens), ("x", x)];
    Ok(bind(ctx, &DEF, Some(table), &b, Grid::Items { per_row: table.cols }, vec![]))
}

#[cfg(feature = "kernel-tests")]
impl super::KernelRunner<'_> {
    /// x (T, D) = E[tokens].
    pub async fn embed(&self, tokens: &[u32], m: &crate::Matrix) -> Result<Vec<f32>, GpuError> {
        let gm = GpuMatrix::upload(self.dev(), m, "emb");
        let t = tokens.len();
        let dims = super::Dims { t: t as u32, d: m.cols as u32, ..Default::default() };
        let (dims, st) = self.shared(dims, super::State::default());
        let tb = Tensor::column(self.dev(), "tokens", tokens);
        let x = Tensor::zeros(self.dev(), "x", t, m.cols);
        let o = op(self.ctx, Shared { dims: &dims, state: &st }, &tb, &gm, &x)?;
        super::run_and_read(self.ctx, &[o], t, &x).await
    }
}
