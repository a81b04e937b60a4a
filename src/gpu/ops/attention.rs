//! out (T, D) = softmax(q kᵀ/√hd) v per head, from the stacked (T, 3D) q | k | v.

use super::{bind, Grid, Op, Shared, DIMS, STATE};
use crate::gpu::context::{GpuContext, GpuError};
use crate::gpu::shader::{slot, Access, KernelDef};
use crate::gpu::tensor::{check, check_shape, Tensor};

pub const DEF: KernelDef = KernelDef {
    name: "attention",
    body: include_str!("../../../shaders/attention.wgsl"),
    sampler: false,
    workgroup: false,
    weights: false,
    slots: &[
        DIMS,
        STATE,
        slot("qkv", Access::Read, "array<vec2<f32>>"),
        slot("out", Access::ReadWrite, "array<vec2<f32>>"),
    ],
};

/// `qkv` (T, 3D) into `out` (T, D), `n_heads` heads of an even width.
pub fn op(ctx: &GpuContext, s: Shared, qkv: &Tensor<f32>, out: &Tensor<f32>, n_heads: usize) -> Result<Op, GpuError> {
    check_shape(DEF.name, "qkv", qkv.shape(), [out.rows, 3 * out.cols])?;
    check(DEF.name, n_heads > 0 && out.cols.is_multiple_of(2 * n_heads), || {
        format!("{} columns do not split into {n_heads} heads of an even width", out.cols)
    })?;
    let b = [("dims", &**s.dims), ("state", s.state), ("qkv", qkv), ("out", out)];
    Ok(bind(ctx, &DEF, None, &b, Grid::Queries { heads: n_heads as u32 }, vec![]))
}

#[cfg(feature = "kernel-tests")]
impl super::KernelRunner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub async fn attention(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        t: usize,
        nh: usize,
        hd: usize,
        causal: bool,
    ) -> Result<Vec<f32>, GpuError> {
        let d = nh * hd;
        let dims = super::Dims {
            t: t as u32,
            d: d as u32,
            n_heads: nh as u32,
            head_dim: hd as u32,
            causal: causal as u32,
            ..Default::default()
        };
        let (dims, st) = self.shared(dims, super::State::default());
        // The fused Q/K/V product's layout: per row q | k | v.
        let qkv: Vec<f32> = (0..t)
            .flat_map(|i| [q, k, v].into_iter().flat_map(move |m| m[i * d..(i + 1) * d].iter().copied()))
            .collect();
        let qb = self.tensor(&qkv, t, 3 * d)?;
        let out = Tensor::zeros(self.dev(), "out", t, d);
        let o = op(self.ctx, Shared { dims: &dims, state: &st }, &qb, &out, nh)?;
        super::run_and_read(self.ctx, &[o], t, &out).await
    }
}
