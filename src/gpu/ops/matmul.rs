//! y = x (T, K) · Wᵀ with W (N, K) in the file's weight format, then an
//! [`Epilogue`]: the fused dequantize-matmul every product of the model runs.

use super::{bind, Grid, Op, Shared, DIMS, STATE};
use crate::gpu::context::{GpuContext, GpuError};
use crate::gpu::shader::{slot, struct_slot, Access, KernelDef};
use crate::gpu::tensor::{check, check_shape, GpuMatrix, Tensor, Uniform};

crate::wgsl_struct! {
    /// The product's sizes and epilogue.
    pub struct MatParams {
        /// K: inputs per row.
        pub k: u32,
        /// N: rows of W (columns of the product).
        pub n: u32,
        /// An [`Epilogue`].
        pub mode: u32,
        pub _pad: u32,
    }
}

pub const DEF: KernelDef = KernelDef {
    name: "matmul",
    body: include_str!("../../../shaders/matmul.wgsl"),
    sampler: false,
    workgroup: false,
    weights: true,
    slots: &[
        DIMS,
        struct_slot::<MatParams>("mp", Access::Uniform),
        STATE,
        slot("x", Access::Read, "array<vec4<f32>>"),
        slot("y", Access::ReadWrite, "array<f32>"),
        slot("tokens", Access::Read, "array<u32>"),
    ],
};

/// What the matmul does with x · Wᵀ (`mp.mode` in matmul.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epilogue {
    Store = 0,
    /// y += x · Wᵀ (the residual stream).
    Accumulate = 1,
    /// Store only the rows whose token is [MASK] (the head inside the loop).
    MaskedRows = 2,
    /// W is Q/K/V stacked (3D, D): RoPE turns the Q and K parts.
    Rope = 3,
    /// W is gate/up stacked (2F, D): y (T, F) = silu(gate) · up.
    Swiglu = 4,
}

/// y (T, N) — (T, N/2) for SwiGLU — = x (T, K) · Wᵀ through `epilogue`;
/// `tokens` (T, 1) tells masked rows apart.
pub fn op(
    ctx: &GpuContext,
    s: Shared,
    x: &Tensor<f32>,
    w: &GpuMatrix,
    y: &Tensor<f32>,
    tokens: &Tensor<u32>,
    epilogue: Epilogue,
) -> Result<Op, GpuError> {
    let name = DEF.name;
    check(name, w.cols.is_multiple_of(4), || format!("K = {} is not a multiple of 4 (x is read as vec4)", w.cols))?;
    check_shape(name, "x", x.shape(), [x.rows, w.cols])?;
    let n = match epilogue {
        Epilogue::Swiglu => w.rows / 2,
        _ => w.rows,
    };
    if matches!(epilogue, Epilogue::Rope | Epilogue::Swiglu) {
        check(name, w.rows.is_multiple_of(2), || format!("a stacked matrix of {} rows: not even", w.rows))?;
    }
    check_shape(name, "y", y.shape(), [x.rows, n])?;
    check_shape(name, "tokens", tokens.shape(), [x.rows, 1])?;
    let mp = Uniform::new(
        &ctx.device,
        "mp",
        &MatParams { k: w.cols as u32, n: w.rows as u32, mode: epilogue as u32, _pad: 0 },
    );
    let b = [("dims", &**s.dims), ("mp", &*mp), ("state", s.state), ("x", x), ("y", y), ("tokens", tokens)];
    let grid = Grid::Pairs { pairs: w.rows.div_ceil(2) };
    let mut o = bind(ctx, &DEF, Some(w), &b, grid, vec![(*mp).clone()]);
    o.label += match epilogue {
        Epilogue::Store => "",
        Epilogue::Accumulate => " +acc",
        Epilogue::MaskedRows => " masked rows",
        Epilogue::Rope => " +rope",
        Epilogue::Swiglu => " +swiglu",
    };
    Ok(o)
}

#[cfg(feature = "kernel-tests")]
impl super::KernelRunner<'_> {
    /// y (T, N) = x (T, K) · Wᵀ (+ y0 when given).
    pub async fn matmul(
        &self,
        x: &[f32],
        t: usize,
        m: &crate::Matrix,
        y0: Option<&[f32]>,
    ) -> Result<Vec<f32>, GpuError> {
        let epilogue = if y0.is_some() { Epilogue::Accumulate } else { Epilogue::Store };
        let y = match y0 {
            Some(v) => self.tensor(v, t, m.rows)?,
            None => Tensor::zeros(self.dev(), "y", t, m.rows),
        };
        self.matmul_into(x, t, &[m], &y, super::Dims { t: t as u32, ..Default::default() }, epilogue).await
    }

    async fn matmul_into(
        &self,
        x: &[f32],
        t: usize,
        parts: &[&crate::Matrix],
        y: &Tensor<f32>,
        dims: super::Dims,
        epilogue: Epilogue,
    ) -> Result<Vec<f32>, GpuError> {
        let gm = GpuMatrix::stacked(self.dev(), parts, "w");
        let (dims, st) = self.shared(dims, super::State::default());
        let (xb, tokens) = (self.tensor(x, t, gm.cols)?, Tensor::column(self.dev(), "tokens", &vec![0u32; t]));
        let o = op(self.ctx, Shared { dims: &dims, state: &st }, &xb, &gm, y, &tokens, epilogue)?;
        super::run_and_read(self.ctx, &[o], t, y).await
    }

    /// The fused Q/K/V product with RoPE: (T, 3D) = q, k turned, and v, per row.
    #[allow(clippy::too_many_arguments)]
    pub async fn qkv_rope(
        &self,
        x: &[f32],
        t: usize,
        wq: &crate::Matrix,
        wk: &crate::Matrix,
        wv: &crate::Matrix,
        n_heads: usize,
        theta: f32,
    ) -> Result<Vec<f32>, GpuError> {
        let d = wq.rows;
        let dims = super::Dims {
            t: t as u32,
            d: d as u32,
            n_heads: n_heads as u32,
            head_dim: (d / n_heads) as u32,
            rope_theta: theta,
            ..Default::default()
        };
        let y = Tensor::zeros(self.dev(), "qkv", t, 3 * d);
        self.matmul_into(x, t, &[wq, wk, wv], &y, dims, Epilogue::Rope).await
    }

    /// The fused gate/up product with SwiGLU: (T, F) = silu(x·W_gateᵀ) · (x·W_upᵀ).
    pub async fn gate_up(
        &self,
        x: &[f32],
        t: usize,
        wg: &crate::Matrix,
        wu: &crate::Matrix,
    ) -> Result<Vec<f32>, GpuError> {
        let y = Tensor::zeros(self.dev(), "g", t, wg.rows);
        let dims = super::Dims { t: t as u32, ..Default::default() };
        self.matmul_into(x, t, &[wg, wu], &y, dims, Epilogue::Swiglu).await
    }
}
