//! Per masked position, the token the sampler would commit, its probability and
//! its ranking key (confidence, or random remasking's noise), with the exclusion
//! and constraint tables applied.

use super::{bind, Grid, Op, PickBuffers, Shared, DIMS, SAMPLER, STATE_RW};
use crate::gpu::context::{GpuContext, GpuError};
use crate::gpu::shader::{slot, Access, KernelDef};
use crate::gpu::tensor::{check_shape, Tensor};
use crate::sampler::{SamplerParams, MAX_CLASSES};
use crate::MAX_SEQ_LEN;

pub const DEF: KernelDef = KernelDef {
    name: "pick",
    body: include_str!("../../../shaders/pick.wgsl"),
    sampler: true,
    workgroup: true,
    weights: false,
    slots: &[
        DIMS,
        SAMPLER,
        STATE_RW,
        slot("logits", Access::Read, "array<f32>"),
        slot("tokens", Access::Read, "array<u32>"),
        slot("pred", Access::ReadWrite, "array<u32>"),
        slot("prob", Access::ReadWrite, "array<f32>"),
        slot("key", Access::ReadWrite, "array<f32>"),
        slot("exclude", Access::Read, "array<u32>"),
    ],
};

/// (token, probability, key) for every masked position of `logits` (T, V);
/// `exclude` is [`pick_tables`] for V.
pub fn op(
    ctx: &GpuContext,
    s: Shared,
    logits: &Tensor<f32>,
    p: PickBuffers,
    exclude: &Tensor<u32>,
) -> Result<Op, GpuError> {
    let t = p.check(DEF.name)?;
    check_shape(DEF.name, "logits", logits.shape(), [t, logits.cols])?;
    check_shape(DEF.name, "exclude", exclude.shape(), [1, pick_table_words(logits.cols)])?;
    let b = [
        ("dims", &**s.dims),
        ("sp", &**p.sampler),
        ("state", s.state),
        ("logits", logits),
        ("tokens", p.tokens),
        ("pred", p.pred),
        ("prob", p.prob),
        ("key", p.key),
        ("exclude", exclude),
    ];
    Ok(bind(ctx, &DEF, None, &b, Grid::Rows { y: 1 }, vec![]))
}

/// Words of the pick kernel's exclusion table for a `vocab`-id vocabulary: per
/// position (`MAX_SEQ_LEN` words) its class index in the low 8 bits and its repeat-rule
/// line id above them, then `2 + MAX_CLASSES` rows of one bit per id: first the ids
/// that may stand beside themselves in a line (`Constraints::may_double`), then
/// `SamplerParams::exclude`, then for each constraint class k that plus class k.
pub fn pick_table_words(vocab: usize) -> usize {
    MAX_SEQ_LEN + (2 + MAX_CLASSES) * vocab.div_ceil(32).max(1)
}

/// `p.exclude` and `p.constraints` as the pick kernel reads them (see
/// [`pick_table_words`]); ids past the vocabulary are ignored.
pub fn pick_tables(vocab: usize, p: &SamplerParams) -> Vec<u32> {
    let w = vocab.div_ceil(32).max(1);
    let mut t = vec![0u32; pick_table_words(vocab)];
    let c = &p.constraints;
    for (i, &k) in c.at.iter().take(MAX_SEQ_LEN).enumerate() {
        t[i] = u32::from(k);
    }
    for (i, &l) in c.line.iter().take(MAX_SEQ_LEN).enumerate() {
        t[i] |= u32::from(l) << 8;
    }
    let (doubles, rows) = t[MAX_SEQ_LEN..].split_at_mut(w);
    for id in (0..vocab as u32).filter(|&id| c.may_double(id)) {
        doubles[id as usize / 32] |= 1 << (id % 32);
    }
    for k in 0..=c.classes.len().min(MAX_CLASSES) {
        let extra = if k == 0 { &[][..] } else { c.classes[k - 1].as_slice() };
        for &id in p.exclude.iter().chain(extra).filter(|&&id| (id as usize) < vocab) {
            rows[k * w + id as usize / 32] |= 1 << (id % 32);
        }
    }
    t
}

#[cfg(feature = "kernel-tests")]
impl super::KernelRunner<'_> {
    /// Pick for every position of `logits` (T, V); returns (pred, prob, key).
    pub async fn pick(
        &self,
        logits: &[f32],
        tokens: &[u32],
        cfg: &crate::ModelConfig,
        p: &SamplerParams,
        step: u32,
    ) -> Result<(Vec<u32>, Vec<f32>, Vec<f32>), GpuError> {
        let t = tokens.len();
        let (dims, st) = self.shared(super::Dims::new(cfg, t), super::State { step, ..Default::default() });
        let sp = crate::gpu::tensor::Uniform::new(self.dev(), "sp", &super::SamplerUniform::new(cfg, p, 1, 0, false));
        let lb = self.tensor(logits, t, cfg.vocab_size)?;
        let tb = Tensor::column(self.dev(), "tokens", tokens);
        let (pred, prob, key) = (
            Tensor::zeros(self.dev(), "pred", t, 1),
            Tensor::zeros(self.dev(), "prob", t, 1),
            Tensor::zeros(self.dev(), "key", t, 1),
        );
        let ex = Tensor::row(self.dev(), "exclude", &pick_tables(cfg.vocab_size, p));
        let pb = PickBuffers { sampler: &sp, tokens: &tb, pred: &pred, prob: &prob, key: &key };
        let o = op(self.ctx, Shared { dims: &dims, state: &st }, &lb, pb, &ex)?;
        let pr: Vec<u32> = super::run_and_read(self.ctx, &[o], t, &pred).await?;
        let pb: Vec<f32> = super::run_and_read(self.ctx, &[], t, &prob).await?;
        let kb: Vec<f32> = super::run_and_read(self.ctx, &[], t, &key).await?;
        Ok((pr, pb, kb))
    }
}
