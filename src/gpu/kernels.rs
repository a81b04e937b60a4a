//! Shader assembly, the pipeline cache, uniform layouts, and one-kernel runners.
//!
//! Every kernel is `common.wgsl` + (for weight readers) one `weights_*.wgsl`
//! snippet with its binding numbers filled in + the kernel file. Pipelines are
//! compiled once per (kernel, weight kind) and cached.

use std::cell::RefCell;
use std::collections::HashMap;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::context::{GpuContext, GpuError};
use crate::format::{Matrix, WeightFormat};

/// The compute kernels in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    Embed,
    RmsNorm,
    Rope,
    Attention,
    Swiglu,
    Matmul,
    Pick,
    Commit,
}

/// How weights sit in GPU memory: f32 and f16 files both upload as f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuWeights {
    Dense,
    Q8,
    Q4,
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

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const SAMPLER_COMMON: &str = include_str!("../../shaders/sampler_common.wgsl");
const WORKGROUP: &str = include_str!("../../shaders/workgroup.wgsl");

/// The full WGSL source of a kernel; `weights` is required for Embed and Matmul.
pub fn shader_source(kernel: Kernel, weights: Option<GpuWeights>) -> String {
    let (body, w_binding) = match kernel {
        Kernel::Embed => (include_str!("../../shaders/embed.wgsl"), 4),
        Kernel::RmsNorm => (include_str!("../../shaders/rmsnorm.wgsl"), 0),
        Kernel::Rope => (include_str!("../../shaders/rope.wgsl"), 0),
        Kernel::Attention => (include_str!("../../shaders/attention.wgsl"), 0),
        Kernel::Swiglu => (include_str!("../../shaders/swiglu.wgsl"), 0),
        Kernel::Matmul => (include_str!("../../shaders/matmul.wgsl"), 6),
        Kernel::Pick => (include_str!("../../shaders/pick.wgsl"), 0),
        Kernel::Commit => (include_str!("../../shaders/commit.wgsl"), 0),
    };
    let mut src = String::from(COMMON);
    if matches!(kernel, Kernel::Pick | Kernel::Commit) {
        src.push_str(SAMPLER_COMMON);
    }
    if matches!(kernel, Kernel::RmsNorm | Kernel::Attention | Kernel::Pick) {
        src.push_str(WORKGROUP);
    }
    if let Some(w) = weights {
        let snippet = match w {
            GpuWeights::Dense => include_str!("../../shaders/weights_dense.wgsl"),
            GpuWeights::Q8 => include_str!("../../shaders/weights_q8.wgsl"),
            GpuWeights::Q4 => include_str!("../../shaders/weights_q4.wgsl"),
        };
        src.push_str(
            &snippet
                .replace("{{W_BINDING}}", &w_binding.to_string())
                .replace("{{S_BINDING}}", &(w_binding + 1).to_string()),
        );
    }
    src.push_str(body);
    src
}

/// Compiled pipelines, built on first use and kept.
#[derive(Default)]
pub struct Pipelines {
    cache: RefCell<HashMap<(Kernel, Option<GpuWeights>), wgpu::ComputePipeline>>,
}

impl Pipelines {
    pub fn get(&self, device: &wgpu::Device, kernel: Kernel, weights: Option<GpuWeights>) -> wgpu::ComputePipeline {
        self.cache
            .borrow_mut()
            .entry((kernel, weights))
            .or_insert_with(|| {
                let label = format!("{kernel:?}/{weights:?}");
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(shader_source(kernel, weights).into()),
                });
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .clone()
    }
}

/// Mirrors `Dims` in common.wgsl (48 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Dims {
    pub t: u32,
    pub d: u32,
    pub f: u32,
    pub v: u32,
    pub n_heads: u32,
    pub head_dim: u32,
    /// 1: causal attention.
    pub causal: u32,
    pub mask_id: u32,
    pub eps: f32,
    pub rope_theta: f32,
    /// 1: the embedding reads [MASK] then the tokens shifted right by one
    /// (`ModelConfig::shifts_input`).
    pub shifted: u32,
    pub _pad: u32,
}

impl Dims {
    pub fn new(c: &crate::ModelConfig, t: usize) -> Self {
        Dims {
            t: t as u32,
            d: c.d_model as u32,
            f: c.d_ff as u32,
            v: c.vocab_size as u32,
            n_heads: c.n_heads as u32,
            head_dim: c.head_dim() as u32,
            causal: c.causal as u32,
            shifted: c.shifts_input() as u32,
            mask_id: c.mask_id,
            eps: c.norm_eps,
            rope_theta: c.rope_theta,
            ..Default::default()
        }
    }
}

/// Mirrors `MatParams` in matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MatParams {
    pub k: u32,
    pub n: u32,
    pub accumulate: u32,
    pub masked_only: u32,
}

/// Mirrors `Sampler` in sampler_common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SamplerUniform {
    pub seed: u32,
    pub temperature: f32,
    pub remasking: u32,
    pub use_threshold: u32,
    pub threshold: f32,
    pub block_length: u32,
    pub mask_id: u32,
    pub pad_id: u32,
    pub unk_id: u32,
    pub history: u32,
    pub max_steps: u32,
    pub _pad: u32,
}

impl SamplerUniform {
    pub fn new(c: &crate::ModelConfig, p: &crate::sampler::SamplerParams, max_steps: usize, history: bool) -> Self {
        SamplerUniform {
            seed: p.seed,
            temperature: p.temperature,
            remasking: (p.remasking == crate::sampler::Remasking::Random) as u32,
            use_threshold: p.threshold.is_some() as u32,
            threshold: p.threshold.unwrap_or(2.0),
            block_length: p.block_length as u32,
            mask_id: c.mask_id,
            pad_id: c.pad_id,
            unk_id: c.unk_id,
            history: history as u32,
            max_steps: max_steps as u32,
            _pad: 0,
        }
    }
}

/// Mirrors `State` in common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq, Eq)]
pub struct State {
    pub step: u32,
    pub steps_run: u32,
    pub done: u32,
    /// 1 once pick met a non-finite logit (`SampleError::NonFinite`).
    pub fault: u32,
}

/// A matrix in GPU memory: its words and (quantized) its block scales.
pub struct GpuMatrix {
    pub rows: usize,
    pub cols: usize,
    pub kind: GpuWeights,
    pub words: wgpu::Buffer,
    pub scales: Option<wgpu::Buffer>,
}

impl GpuMatrix {
    pub fn upload(device: &wgpu::Device, m: &Matrix, label: &str) -> Self {
        let words = storage_init(device, label, bytemuck::cast_slice(&m.gpu_words()));
        let scales = (!m.scales().is_empty()).then(|| storage_init(device, label, bytemuck::cast_slice(m.scales())));
        GpuMatrix { rows: m.rows, cols: m.cols, kind: m.format().into(), words, scales }
    }

    /// The weight bindings in snippet order.
    pub fn bindings(&self) -> Vec<&wgpu::Buffer> {
        std::iter::once(&self.words).chain(self.scales.as_ref()).collect()
    }
}

pub fn storage_init(device: &wgpu::Device, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    })
}

pub fn storage(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

pub fn uniform<T: Pod>(device: &wgpu::Device, label: &str, value: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    })
}

/// A bind group whose binding `i` is `buffers[i]` (the shaders number their
/// bindings in the order they declare them).
pub fn bind(device: &wgpu::Device, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// A kernel with its buffers bound; the grid is given when it is recorded (the
/// model's grids depend on each generation's length).
pub struct Bound {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group: wgpu::BindGroup,
}

impl Bound {
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, groups: (u32, u32, u32)) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, groups.2);
    }
}

/// A bound kernel and its grid: one dispatch of a single-kernel test run.
pub struct Dispatch {
    pub bound: Bound,
    pub groups: (u32, u32, u32),
}

impl Dispatch {
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.bound.record(pass, self.groups);
    }
}

/// Words of the pick kernel's exclusion table for a `vocab`-id vocabulary: per
/// position (`MAX_SEQ_LEN` words) its class index in the low 8 bits and its repeat-rule
/// line id above them, then `1 + MAX_CLASSES` rows of one bit per id — row 0
/// `SamplerParams::exclude`, row k that plus constraint class k.
pub fn pick_table_words(vocab: usize) -> usize {
    crate::MAX_SEQ_LEN + (1 + crate::sampler::MAX_CLASSES) * vocab.div_ceil(32).max(1)
}

/// `p.exclude` and `p.constraints` as the pick kernel reads them (see
/// [`pick_table_words`]); ids past the vocabulary are ignored.
pub fn pick_tables(vocab: usize, p: &crate::sampler::SamplerParams) -> Vec<u32> {
    let w = vocab.div_ceil(32).max(1);
    let mut t = vec![0u32; pick_table_words(vocab)];
    let c = &p.constraints;
    for (i, &k) in c.at.iter().take(crate::MAX_SEQ_LEN).enumerate() {
        t[i] = u32::from(k);
    }
    for (i, &l) in c.line.iter().take(crate::MAX_SEQ_LEN).enumerate() {
        t[i] |= u32::from(l) << 8;
    }
    let rows = &mut t[crate::MAX_SEQ_LEN..];
    for k in 0..=c.classes.len().min(crate::sampler::MAX_CLASSES) {
        let extra = if k == 0 { &[][..] } else { c.classes[k - 1].as_slice() };
        for &id in p.exclude.iter().chain(extra).filter(|&&id| (id as usize) < vocab) {
            rows[k * w + id as usize / 32] |= 1 << (id % 32);
        }
    }
    t
}

/// The commit kernel's table: the schedule padded to `steps` entries, then the
/// repeat rule's line id of each of the `t` positions.
pub fn commit_table(sched: &[u32], steps: usize, c: &crate::sampler::Constraints, t: usize) -> Vec<u32> {
    let mut out = sched.to_vec();
    out.resize(steps, 0);
    out.extend((0..t).map(|i| u32::from(c.line.get(i).copied().unwrap_or(0))));
    out
}

/// Workgroups of 64 to cover `n` items.
pub fn groups64(n: usize) -> u32 {
    n.div_ceil(64) as u32
}

/// Workgroup counts of each kernel for sequence length `t`.
pub fn matmul_groups(t: usize, n: usize) -> (u32, u32, u32) {
    (groups64(n), t.div_ceil(4) as u32, 1)
}

// ------------------------------------------------------------------ runners
//
// One kernel at a time on host data: what the GPU-vs-CPU tests call. Each makes
// its own buffers, submits once and reads the output back.

/// Runs `dispatch` on a fresh encoder and reads back `out` as T.
pub async fn run_and_read<T: Pod>(
    ctx: &GpuContext,
    dispatches: &[Dispatch],
    out: &wgpu::Buffer,
) -> Result<Vec<T>, GpuError> {
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("staging"),
        size: out.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        for d in dispatches {
            d.record(&mut pass);
        }
    }
    ctx.count(|c| c.dispatches += dispatches.len() as u64);
    enc.copy_buffer_to_buffer(out, 0, &staging, 0, out.size());
    ctx.submit(enc);
    let bytes = ctx.read(&staging).await?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// One-kernel runs for tests, sharing a pipeline cache.
pub struct KernelRunner<'a> {
    pub ctx: &'a GpuContext,
    pub pipelines: Pipelines,
}

impl<'a> KernelRunner<'a> {
    pub fn new(ctx: &'a GpuContext) -> Self {
        KernelRunner { ctx, pipelines: Pipelines::default() }
    }

    fn dev(&self) -> &wgpu::Device {
        &self.ctx.device
    }

    fn dims(&self, dims: Dims) -> wgpu::Buffer {
        uniform(self.dev(), "dims", &dims)
    }

    fn state(&self, s: State) -> wgpu::Buffer {
        storage_init(self.dev(), "state", bytemuck::bytes_of(&s))
    }

    fn f32s(&self, v: &[f32]) -> wgpu::Buffer {
        storage_init(self.dev(), "data", bytemuck::cast_slice(v))
    }

    fn u32s(&self, v: &[u32]) -> wgpu::Buffer {
        storage_init(self.dev(), "data", bytemuck::cast_slice(v))
    }

    fn dispatch(
        &self,
        kernel: Kernel,
        w: Option<GpuWeights>,
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32, u32),
    ) -> Dispatch {
        let pipeline = self.pipelines.get(self.dev(), kernel, w);
        let bind_group = bind(self.dev(), &pipeline, buffers);
        Dispatch { bound: Bound { pipeline, bind_group }, groups }
    }

    /// y (T, N) = x (T, K) · Wᵀ (+ y0 when given).
    pub async fn matmul(&self, x: &[f32], t: usize, m: &Matrix, y0: Option<&[f32]>) -> Result<Vec<f32>, GpuError> {
        let gm = GpuMatrix::upload(self.dev(), m, "w");
        let dims = self.dims(Dims { t: t as u32, ..Default::default() });
        let mp = uniform(
            self.dev(),
            "mp",
            &MatParams { k: m.cols as u32, n: m.rows as u32, accumulate: y0.is_some() as u32, masked_only: 0 },
        );
        let (st, xb) = (self.state(State::default()), self.f32s(x));
        let tokens = self.u32s(&vec![0; t]);
        let y = match y0 {
            Some(v) => self.f32s(v),
            None => storage(self.dev(), "y", (t * m.rows * 4) as u64),
        };
        let mut b = vec![&dims, &mp, &st, &xb, &y, &tokens];
        b.extend(gm.bindings());
        let d = self.dispatch(Kernel::Matmul, Some(gm.kind), &b, matmul_groups(t, m.rows));
        run_and_read(self.ctx, &[d], &y).await
    }

    /// x (T, D) = E[tokens].
    pub async fn embed(&self, tokens: &[u32], m: &Matrix) -> Result<Vec<f32>, GpuError> {
        let gm = GpuMatrix::upload(self.dev(), m, "emb");
        let t = tokens.len();
        let dims = self.dims(Dims { t: t as u32, d: m.cols as u32, ..Default::default() });
        let (st, tb) = (self.state(State::default()), self.u32s(tokens));
        let x = storage(self.dev(), "x", (t * m.cols * 4) as u64);
        let mut b = vec![&dims, &st, &tb, &x];
        b.extend(gm.bindings());
        let d = self.dispatch(Kernel::Embed, Some(gm.kind), &b, (groups64(t * m.cols), 1, 1));
        run_and_read(self.ctx, &[d], &x).await
    }

    pub async fn rmsnorm(&self, x: &[f32], w: &[f32], eps: f32) -> Result<Vec<f32>, GpuError> {
        let d = w.len();
        let t = x.len() / d;
        let dims = self.dims(Dims { t: t as u32, d: d as u32, eps, ..Default::default() });
        let (st, xb, wb) = (self.state(State::default()), self.f32s(x), self.f32s(w));
        let y = storage(self.dev(), "y", (x.len() * 4) as u64);
        let disp = self.dispatch(Kernel::RmsNorm, None, &[&dims, &st, &xb, &wb, &y], (t as u32, 1, 1));
        run_and_read(self.ctx, &[disp], &y).await
    }

    /// RoPE on q and k (T, H·hd); returns (q, k).
    pub async fn rope(
        &self,
        q: &[f32],
        k: &[f32],
        t: usize,
        nh: usize,
        hd: usize,
        theta: f32,
    ) -> Result<(Vec<f32>, Vec<f32>), GpuError> {
        let dims = self.dims(Dims {
            t: t as u32,
            d: (nh * hd) as u32,
            n_heads: nh as u32,
            head_dim: hd as u32,
            rope_theta: theta,
            ..Default::default()
        });
        let (st, qb, kb) = (self.state(State::default()), self.f32s(q), self.f32s(k));
        let d = self.dispatch(Kernel::Rope, None, &[&dims, &st, &qb, &kb], (groups64(t * nh * hd / 2), 1, 1));
        let qo = run_and_read(self.ctx, &[d], &qb).await?;
        let ko = run_and_read(self.ctx, &[], &kb).await?;
        Ok((qo, ko))
    }

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
        let dims = self.dims(Dims {
            t: t as u32,
            d: (nh * hd) as u32,
            n_heads: nh as u32,
            head_dim: hd as u32,
            causal: causal as u32,
            ..Default::default()
        });
        let (st, qb, kb, vb) = (self.state(State::default()), self.f32s(q), self.f32s(k), self.f32s(v));
        let out = storage(self.dev(), "out", (q.len() * 4) as u64);
        let d = self.dispatch(Kernel::Attention, None, &[&dims, &st, &qb, &kb, &vb, &out], (t as u32, nh as u32, 1));
        run_and_read(self.ctx, &[d], &out).await
    }

    pub async fn swiglu(&self, g: &[f32], u: &[f32]) -> Result<Vec<f32>, GpuError> {
        let dims = self.dims(Dims { t: 1, f: g.len() as u32, ..Default::default() });
        let (st, gb, ub) = (self.state(State::default()), self.f32s(g), self.f32s(u));
        let d = self.dispatch(Kernel::Swiglu, None, &[&dims, &st, &gb, &ub], (groups64(g.len()), 1, 1));
        run_and_read(self.ctx, &[d], &gb).await
    }

    /// Pick for every position of `logits` (T, V); returns (pred, prob, key).
    #[allow(clippy::too_many_arguments)]
    pub async fn pick(
        &self,
        logits: &[f32],
        tokens: &[u32],
        cfg: &crate::ModelConfig,
        p: &crate::sampler::SamplerParams,
        step: u32,
    ) -> Result<(Vec<u32>, Vec<f32>, Vec<f32>), GpuError> {
        let t = tokens.len();
        let dims = self.dims(Dims::new(cfg, t));
        let sp = uniform(self.dev(), "sp", &SamplerUniform::new(cfg, p, 1, false));
        let st = self.state(State { step, ..Default::default() });
        let (lb, tb) = (self.f32s(logits), self.u32s(tokens));
        let (pred, prob, key) = (
            storage(self.dev(), "pred", t as u64 * 4),
            storage(self.dev(), "prob", t as u64 * 4),
            storage(self.dev(), "key", t as u64 * 4),
        );
        let ex = self.u32s(&pick_tables(cfg.vocab_size, p));
        let d =
            self.dispatch(Kernel::Pick, None, &[&dims, &sp, &st, &lb, &tb, &pred, &prob, &key, &ex], (t as u32, 1, 1));
        let pr: Vec<u32> = run_and_read(self.ctx, &[d], &pred).await?;
        let pb: Vec<f32> = run_and_read(self.ctx, &[], &prob).await?;
        let kb: Vec<f32> = run_and_read(self.ctx, &[], &key).await?;
        Ok((pr, pb, kb))
    }

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
    ) -> Result<(Vec<u32>, State), GpuError> {
        let t = tokens.len();
        let dims = self.dims(Dims::new(cfg, t));
        let steps = schedule.len().max(1);
        let sp = uniform(self.dev(), "sp", &SamplerUniform::new(cfg, p, steps, false));
        let st = self.state(State { step, ..Default::default() });
        let (tb, pb, rb, kb) = (self.u32s(tokens), self.u32s(pred), self.f32s(prob), self.f32s(key));
        let sb = self.u32s(&commit_table(schedule, steps, &p.constraints, t));
        let (ht, hp) = (storage(self.dev(), "ht", 16), storage(self.dev(), "hp", 16));
        let d = self.dispatch(Kernel::Commit, None, &[&dims, &sp, &st, &tb, &pb, &rb, &kb, &sb, &ht, &hp], (1, 1, 1));
        let out: Vec<u32> = run_and_read(self.ctx, &[d], &tb).await?;
        let s: Vec<State> = run_and_read(self.ctx, &[], &st).await?;
        Ok((out, s[0]))
    }
}
