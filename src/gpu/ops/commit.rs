//! One step's commit: the best picks (by the schedule's count, or the threshold)
//! take their tokens, the repeat rule re-checked among them; the history, the
//! loop's state and the next dispatches' workgroup counts advance.

use super::{bind, Grid, Op, PickBuffers, Shared, DIMS, SAMPLER, STATE_RW};
use crate::gpu::context::{GpuContext, GpuError};
use crate::gpu::shader::{slot, Access, KernelDef};
use crate::gpu::tensor::{check, check_shape, Tensor};
use crate::sampler::Constraints;

pub const DEF: KernelDef = KernelDef {
    name: "commit",
    body: include_str!("../../../shaders/commit.wgsl"),
    sampler: true,
    workgroup: false,
    weights: false,
    slots: &[
        DIMS,
        SAMPLER,
        STATE_RW,
        slot("tokens", Access::ReadWrite, "array<u32>"),
        slot("pred", Access::Read, "array<u32>"),
        slot("prob", Access::Read, "array<f32>"),
        slot("key", Access::Read, "array<f32>"),
        slot("schedule", Access::Read, "array<u32>"),
        slot("history", Access::ReadWrite, "array<u32>"),
        slot("indirect", Access::ReadWrite, "array<u32>"),
    ],
};

/// One commit step. `schedule`: [`commit_table`], (S + T, 1) for at most S steps.
/// `history`: (2S, T) — each step's tokens, then its probabilities as bits.
/// `indirect`: the loop's workgroup counts, zeroed when the loop ends.
pub fn op(
    ctx: &GpuContext,
    s: Shared,
    p: PickBuffers,
    schedule: &Tensor<u32>,
    history: &Tensor<u32>,
    indirect: &wgpu::Buffer,
) -> Result<Op, GpuError> {
    let t = p.check(DEF.name)?;
    check(DEF.name, schedule.cols == 1 && schedule.rows >= t, || {
        format!("the schedule is {}×{}, needs (steps + {t})×1", schedule.rows, schedule.cols)
    })?;
    check_shape(DEF.name, "history", history.shape(), [2 * (schedule.rows - t), t])?;
    let b = [
        ("dims", &**s.dims),
        ("sp", &**p.sampler),
        ("state", s.state),
        ("tokens", p.tokens),
        ("pred", p.pred),
        ("prob", p.prob),
        ("key", p.key),
        ("schedule", schedule),
        ("history", history),
        ("indirect", indirect),
    ];
    Ok(bind(ctx, &DEF, None, &b, Grid::Fixed([1, 1, 1]), vec![]))
}

/// The commit kernel's table: the schedule padded to `steps` entries, then the
/// repeat rule's line id of each of the `t` positions.
pub fn commit_table(sched: &[u32], steps: usize, c: &Constraints, t: usize) -> Vec<u32> {
    let mut out = sched.to_vec();
    out.resize(steps, 0);
    out.extend((0..t).map(|i| u32::from(c.line.get(i).copied().unwrap_or(0))));
    out
}

#[cfg(feature = "kernel-tests")]
impl super::KernelRunner<'_> {
    /// One commit step; returns the tokens after it and the state.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit(
        &self,
        tokens: &[u32],
        pred: &[u32],
        prob: &[f32],
        key: &[f32],
        cfg: &crate::ModelConfig,
        p: &crate::sampler::SamplerParams,
        schedule: &[u32],
        step: u32,
    ) -> Result<(Vec<u32>, super::State), GpuError> {
        let last = schedule.len().max(1) - 1;
        self.commit_from(tokens, pred, prob, key, cfg, p, schedule, step, last).await
    }

    /// [`Self::commit`] with the loop's last steps starting at `last_step` (steps
    /// from it to the schedule's end are last steps, with spare ones after it).
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_from(
        &self,
        tokens: &[u32],
        pred: &[u32],
        prob: &[f32],
        key: &[f32],
        cfg: &crate::ModelConfig,
        p: &crate::sampler::SamplerParams,
        schedule: &[u32],
        step: u32,
        last_step: usize,
    ) -> Result<(Vec<u32>, super::State), GpuError> {
        let t = tokens.len();
        let steps = schedule.len().max(1);
        let (dims, st) = self.shared(super::Dims::new(cfg, t), super::State { step, ..Default::default() });
        let sp = crate::gpu::tensor::Uniform::new(
            self.dev(),
            "sp",
            &super::SamplerUniform::new(cfg, p, steps, last_step, false),
        );
        let col = |label: &str, v: &[u32]| Tensor::column(self.dev(), label, v);
        let (tb, pb) = (col("tokens", tokens), col("pred", pred));
        let (rb, kb) = (Tensor::column(self.dev(), "prob", prob), Tensor::column(self.dev(), "key", key));
        let sb = col("schedule", &commit_table(schedule, steps, &p.constraints, t));
        let hist = Tensor::zeros(self.dev(), "history", 2 * steps, t);
        let indirect = crate::gpu::tensor::storage(self.dev(), "indirect", 16);
        let bufs = PickBuffers { sampler: &sp, tokens: &tb, pred: &pb, prob: &rb, key: &kb };
        let o = op(self.ctx, Shared { dims: &dims, state: &st }, bufs, &sb, &hist, &indirect)?;
        let out: Vec<u32> = super::run_and_read(self.ctx, &[o], t, &tb).await?;
        let s: Vec<super::State> = super::run_and_read(self.ctx, &[], t, &st).await?;
        Ok((out, s[0]))
    }
}
