//! The compute kernels as typed operations: each kernel is one WGSL file plus one
//! [`KernelDef`] (`shader.rs`: its bindings by name, type and access) and one constructor
//! function that takes the buffers by name and returns an [`Op`] — a bound
//! dispatch with its grid. The model and the one-kernel test runners build their
//! dispatches through the same constructors. Binding declarations and the bind
//! group layout are both generated from the `KernelDef`, so the WGSL never numbers
//! a binding and the two sides cannot disagree on the order.
//!
//! Every kernel is `common.wgsl` + (pick, commit) `sampler_common.wgsl` + the
//! generated bindings + (rmsnorm, pick) `workgroup.wgsl` + (weight
//! readers) one `weights_*.wgsl` snippet + the kernel file. Pipelines are compiled
//! once per (kernel, weight kind) and device, and shared by every model on it
//! ([`GpuContext::pipeline`]).
//!
//! Adding a kernel: its `.wgsl` file, its `KernelDef` in `shader.rs` (listed in
//! [`KERNELS`]), and here its constructor.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::context::{GpuContext, GpuError};
pub use super::pipelines::{Pipeline, Pipelines};
pub use super::shader::*;
use crate::format::Matrix;

/// How many workgroups a dispatch needs for a sequence of length T.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// (T, y, 1): one workgroup per row (and per head).
    Rows {
        y: u32,
    },
    /// (T/64, heads, 1): an invocation per query and head.
    Queries {
        heads: u32,
    },
    /// Workgroups of 64 covering T · `per_row` items.
    Items {
        per_row: usize,
    },
    /// The matmul's: 64 column pairs by 4 rows per workgroup.
    Pairs {
        pairs: usize,
    },
    Fixed([u32; 3]),
}

impl Grid {
    pub fn at(&self, t: usize) -> [u32; 3] {
        match *self {
            Grid::Rows { y } => [t as u32, y, 1],
            Grid::Queries { heads } => [groups64(t), heads, 1],
            Grid::Items { per_row } => [groups64(t * per_row), 1, 1],
            Grid::Pairs { pairs } => [groups64(pairs.div_ceil(4)), t.div_ceil(4) as u32, 1],
            Grid::Fixed(g) => g,
        }
    }
}

/// A kernel with its buffers bound and its grid: one dispatch per recording.
pub struct Op {
    /// The kernel and what this dispatch does with it (`matmul 768x256 +rope`):
    /// what per-kernel timings are grouped by.
    pub label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    pub grid: Grid,
    /// Buffers the op made for itself (its parameters), kept alive with it.
    _owned: Vec<wgpu::Buffer>,
}

impl Op {
    /// Records the dispatch for a sequence of length `t`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, t: usize) {
        let [x, y, z] = self.grid.at(t);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }

    /// Records the dispatch with its workgroup counts read, when it runs, from
    /// `args` at `offset` (three u32: what [`Grid::at`] gives, or zeros).
    pub fn record_indirect(&self, pass: &mut wgpu::ComputePass<'_>, args: &wgpu::Buffer, offset: u64) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups_indirect(args, offset);
    }
}

/// Binds `buffers` — named, in the kernel's binding order — to `def`'s pipeline.
/// A name out of place is a bug in a constructor below, and panics.
fn op(
    ctx: &GpuContext,
    def: &'static KernelDef,
    weights: Option<&GpuMatrix>,
    buffers: &[(&str, &wgpu::Buffer)],
    grid: Grid,
    owned: Vec<wgpu::Buffer>,
) -> Op {
    let kind = weights.map(|w| w.kind);
    let slots = def.all_slots(kind);
    let mut all: Vec<(&str, &wgpu::Buffer)> = buffers.to_vec();
    if let Some(w) = weights {
        all.push(("w_words", &w.words));
        all.extend(w.scales.as_ref().map(|s| ("w_scales", s)));
    }
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    let want: Vec<&str> = slots.iter().map(|s| s.name).collect();
    assert_eq!(names, want, "{}: buffers bound out of order", def.name);
    let p = ctx.pipeline(def, kind);
    let entries: Vec<wgpu::BindGroupEntry> = all
        .iter()
        .enumerate()
        .map(|(i, (_, b))| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
        .collect();
    let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(def.name),
        layout: &p.layout,
        entries: &entries,
    });
    let label = match weights {
        Some(w) => format!("{} {}x{}", def.name, w.rows, w.cols),
        None => def.name.to_string(),
    };
    Op { label, pipeline: p.pipeline, bind_group, grid, _owned: owned }
}

/// The two buffers nearly every kernel reads: sizes (`Dims`) and the loop's `State`.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    pub dims: &'a wgpu::Buffer,
    pub state: &'a wgpu::Buffer,
}

/// x (T, D) = E[tokens] (shifted behind [MASK] for a shifted model).
pub fn embed(ctx: &GpuContext, s: Shared, tokens: &wgpu::Buffer, table: &GpuMatrix, x: &wgpu::Buffer) -> Op {
    let b = [("dims", s.dims), ("state", s.state), ("tokens", tokens), ("x", x)];
    op(ctx, &EMBED, Some(table), &b, Grid::Items { per_row: table.cols }, vec![])
}

/// y = x / rms(x) · weight, per row.
pub fn rmsnorm(ctx: &GpuContext, s: Shared, x: &wgpu::Buffer, weight: &wgpu::Buffer, y: &wgpu::Buffer) -> Op {
    let b = [("dims", s.dims), ("state", s.state), ("x", x), ("weight", weight), ("y", y)];
    op(ctx, &RMSNORM, None, &b, Grid::Rows { y: 1 }, vec![])
}

/// out (T, D) = softmax(q kᵀ/√hd) v per head, from the stacked (T, 3D) `qkv`.
pub fn attention(ctx: &GpuContext, s: Shared, qkv: &wgpu::Buffer, out: &wgpu::Buffer, n_heads: usize) -> Op {
    let b = [("dims", s.dims), ("state", s.state), ("qkv", qkv), ("out", out)];
    op(ctx, &ATTENTION, None, &b, Grid::Queries { heads: n_heads as u32 }, vec![])
}

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

/// y = x (T, K) · Wᵀ through `epilogue`; `tokens` tells masked rows apart.
pub fn matmul(
    ctx: &GpuContext,
    s: Shared,
    x: &wgpu::Buffer,
    w: &GpuMatrix,
    y: &wgpu::Buffer,
    tokens: &wgpu::Buffer,
    epilogue: Epilogue,
) -> Op {
    if matches!(epilogue, Epilogue::Rope | Epilogue::Swiglu) {
        assert!(w.rows.is_multiple_of(2), "a stacked matrix has an even row count");
    }
    let mp =
        uniform(&ctx.device, "mp", &MatParams { k: w.cols as u32, n: w.rows as u32, mode: epilogue as u32, _pad: 0 });
    let b = [("dims", s.dims), ("mp", &mp), ("state", s.state), ("x", x), ("y", y), ("tokens", tokens)];
    let grid = Grid::Pairs { pairs: w.rows.div_ceil(2) };
    let mut o = op(ctx, &MATMUL, Some(w), &b, grid, vec![mp.clone()]);
    o.label += match epilogue {
        Epilogue::Store => "",
        Epilogue::Accumulate => " +acc",
        Epilogue::MaskedRows => " masked rows",
        Epilogue::Rope => " +rope",
        Epilogue::Swiglu => " +swiglu",
    };
    o
}

/// The sampler's buffers (`SamplerUniform`, the sequence and per-position picks).
#[derive(Clone, Copy)]
pub struct PickBuffers<'a> {
    pub sampler: &'a wgpu::Buffer,
    pub tokens: &'a wgpu::Buffer,
    pub pred: &'a wgpu::Buffer,
    pub prob: &'a wgpu::Buffer,
    pub key: &'a wgpu::Buffer,
}

/// (token, probability, key) for every masked position of `logits` (T, V).
pub fn pick(ctx: &GpuContext, s: Shared, logits: &wgpu::Buffer, p: PickBuffers, exclude: &wgpu::Buffer) -> Op {
    let b = [
        ("dims", s.dims),
        ("sp", p.sampler),
        ("state", s.state),
        ("logits", logits),
        ("tokens", p.tokens),
        ("pred", p.pred),
        ("prob", p.prob),
        ("key", p.key),
        ("exclude", exclude),
    ];
    op(ctx, &PICK, None, &b, Grid::Rows { y: 1 }, vec![])
}

/// One commit step: the best picks take their tokens; history and state advance.
/// `history`: (2, max_steps, T) — each step's tokens, then its probabilities as
/// bits. `indirect`: the loop's workgroup counts, zeroed when the loop ends.
pub fn commit(
    ctx: &GpuContext,
    s: Shared,
    p: PickBuffers,
    schedule: &wgpu::Buffer,
    history: &wgpu::Buffer,
    indirect: &wgpu::Buffer,
) -> Op {
    let b = [
        ("dims", s.dims),
        ("sp", p.sampler),
        ("state", s.state),
        ("tokens", p.tokens),
        ("pred", p.pred),
        ("prob", p.prob),
        ("key", p.key),
        ("schedule", schedule),
        ("history", history),
        ("indirect", indirect),
    ];
    op(ctx, &COMMIT, None, &b, Grid::Fixed([1, 1, 1]), vec![])
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
    /// An [`Epilogue`].
    pub mode: u32,
    pub _pad: u32,
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
        Self::stacked(device, &[m], label)
    }

    /// `parts` stacked by rows into one matrix (Q/K/V, gate/up): one product
    /// instead of several. They share a format and a column count, a multiple of
    /// the 32-weight block, so each row's words and scales stay whole.
    pub fn stacked(device: &wgpu::Device, parts: &[&Matrix], label: &str) -> Self {
        let first = parts[0];
        assert!(
            parts.iter().all(|m| m.cols == first.cols && m.format() == first.format()),
            "{label}: stacked matrices differ in shape or format"
        );
        let kind: GpuWeights = first.format().into();
        assert!(parts.len() == 1 || kind == GpuWeights::Dense || first.cols.is_multiple_of(32));
        let words: Vec<u32> = parts.iter().flat_map(|m| m.gpu_words()).collect();
        let scales: Vec<f32> = parts.iter().flat_map(|m| m.scales().iter().copied()).collect();
        GpuMatrix {
            rows: parts.iter().map(|m| m.rows).sum(),
            cols: first.cols,
            kind,
            words: storage_init(device, label, bytemuck::cast_slice(&words)),
            scales: (!scales.is_empty()).then(|| storage_init(device, label, bytemuck::cast_slice(&scales))),
        }
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

/// Words of the pick kernel's exclusion table for a `vocab`-id vocabulary: per
/// position (`MAX_SEQ_LEN` words) its class index in the low 8 bits and its repeat-rule
/// line id above them, then `2 + MAX_CLASSES` rows of one bit per id: first the ids
/// that may stand beside themselves in a line (`Constraints::may_double`), then
/// `SamplerParams::exclude`, then for each constraint class k that plus class k.
pub fn pick_table_words(vocab: usize) -> usize {
    crate::MAX_SEQ_LEN + (2 + crate::sampler::MAX_CLASSES) * vocab.div_ceil(32).max(1)
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
    let (doubles, rows) = t[crate::MAX_SEQ_LEN..].split_at_mut(w);
    for id in (0..vocab as u32).filter(|&id| c.may_double(id)) {
        doubles[id as usize / 32] |= 1 << (id % 32);
    }
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

// ------------------------------------------------------------------ runners
//
// One kernel at a time on host data: what the GPU-vs-CPU tests call. Each makes
// its own buffers, submits once and reads the output back.

/// Records `ops` for length `t` on a fresh encoder, submits, and reads back `out` as T.
pub async fn run_and_read<T: Pod>(
    ctx: &GpuContext,
    ops: &[Op],
    t: usize,
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
        for o in ops {
            o.record(&mut pass, t);
        }
    }
    ctx.count(|c| c.dispatches += ops.len() as u64);
    enc.copy_buffer_to_buffer(out, 0, &staging, 0, out.size());
    ctx.submit(enc);
    let bytes = ctx.read(&staging).await?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// One-kernel runs on host data, for the tests: each makes its buffers, builds
/// the op with the same constructor the model uses, submits once and reads back.
pub struct KernelRunner<'a> {
    pub ctx: &'a GpuContext,
}

impl<'a> KernelRunner<'a> {
    pub fn new(ctx: &'a GpuContext) -> Self {
        KernelRunner { ctx }
    }

    fn dev(&self) -> &wgpu::Device {
        &self.ctx.device
    }

    /// `dims` as a uniform and a fresh `state`.
    fn shared(&self, dims: Dims, state: State) -> (wgpu::Buffer, wgpu::Buffer) {
        (uniform(self.dev(), "dims", &dims), storage_init(self.dev(), "state", bytemuck::bytes_of(&state)))
    }

    fn f32s(&self, v: &[f32]) -> wgpu::Buffer {
        storage_init(self.dev(), "data", bytemuck::cast_slice(v))
    }

    fn u32s(&self, v: &[u32]) -> wgpu::Buffer {
        storage_init(self.dev(), "data", bytemuck::cast_slice(v))
    }

    /// y (T, N) = x (T, K) · Wᵀ (+ y0 when given).
    pub async fn matmul(&self, x: &[f32], t: usize, m: &Matrix, y0: Option<&[f32]>) -> Result<Vec<f32>, GpuError> {
        let epilogue = if y0.is_some() { Epilogue::Accumulate } else { Epilogue::Store };
        let y = match y0 {
            Some(v) => self.f32s(v),
            None => storage(self.dev(), "y", (t * m.rows * 4) as u64),
        };
        self.matmul_into(x, t, &[m], &y, Dims { t: t as u32, ..Default::default() }, epilogue).await
    }

    async fn matmul_into(
        &self,
        x: &[f32],
        t: usize,
        parts: &[&Matrix],
        y: &wgpu::Buffer,
        dims: Dims,
        epilogue: Epilogue,
    ) -> Result<Vec<f32>, GpuError> {
        let gm = GpuMatrix::stacked(self.dev(), parts, "w");
        let (dims, st) = self.shared(dims, State::default());
        let (xb, tokens) = (self.f32s(x), self.u32s(&vec![0; t]));
        let o = matmul(self.ctx, Shared { dims: &dims, state: &st }, &xb, &gm, y, &tokens, epilogue);
        run_and_read(self.ctx, &[o], t, y).await
    }

    /// The fused Q/K/V product with RoPE: (T, 3D) = q, k turned, and v, per row.
    #[allow(clippy::too_many_arguments)]
    pub async fn qkv_rope(
        &self,
        x: &[f32],
        t: usize,
        wq: &Matrix,
        wk: &Matrix,
        wv: &Matrix,
        n_heads: usize,
        theta: f32,
    ) -> Result<Vec<f32>, GpuError> {
        let d = wq.rows;
        let dims = Dims {
            t: t as u32,
            d: d as u32,
            n_heads: n_heads as u32,
            head_dim: (d / n_heads) as u32,
            rope_theta: theta,
            ..Default::default()
        };
        let y = storage(self.dev(), "qkv", (t * 3 * d * 4) as u64);
        self.matmul_into(x, t, &[wq, wk, wv], &y, dims, Epilogue::Rope).await
    }

    /// The fused gate/up product with SwiGLU: (T, F) = silu(x·W_gateᵀ) · (x·W_upᵀ).
    pub async fn gate_up(&self, x: &[f32], t: usize, wg: &Matrix, wu: &Matrix) -> Result<Vec<f32>, GpuError> {
        let y = storage(self.dev(), "g", (t * wg.rows * 4) as u64);
        self.matmul_into(x, t, &[wg, wu], &y, Dims { t: t as u32, ..Default::default() }, Epilogue::Swiglu).await
    }

    /// x (T, D) = E[tokens].
    pub async fn embed(&self, tokens: &[u32], m: &Matrix) -> Result<Vec<f32>, GpuError> {
        let gm = GpuMatrix::upload(self.dev(), m, "emb");
        let t = tokens.len();
        let (dims, st) = self.shared(Dims { t: t as u32, d: m.cols as u32, ..Default::default() }, State::default());
        let tb = self.u32s(tokens);
        let x = storage(self.dev(), "x", (t * m.cols * 4) as u64);
        let o = embed(self.ctx, Shared { dims: &dims, state: &st }, &tb, &gm, &x);
        run_and_read(self.ctx, &[o], t, &x).await
    }

    pub async fn rmsnorm(&self, x: &[f32], w: &[f32], eps: f32) -> Result<Vec<f32>, GpuError> {
        let d = w.len();
        let t = x.len() / d;
        let (dims, st) = self.shared(Dims { t: t as u32, d: d as u32, eps, ..Default::default() }, State::default());
        let (xb, wb) = (self.f32s(x), self.f32s(w));
        let y = storage(self.dev(), "y", (x.len() * 4) as u64);
        let o = rmsnorm(self.ctx, Shared { dims: &dims, state: &st }, &xb, &wb, &y);
        run_and_read(self.ctx, &[o], t, &y).await
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
        let d = nh * hd;
        let (dims, st) = self.shared(
            Dims {
                t: t as u32,
                d: d as u32,
                n_heads: nh as u32,
                head_dim: hd as u32,
                causal: causal as u32,
                ..Default::default()
            },
            State::default(),
        );
        // The fused Q/K/V product's layout: per row q | k | v.
        let qkv: Vec<f32> = (0..t)
            .flat_map(|i| [q, k, v].into_iter().flat_map(move |m| m[i * d..(i + 1) * d].iter().copied()))
            .collect();
        let qb = self.f32s(&qkv);
        let out = storage(self.dev(), "out", (q.len() * 4) as u64);
        let o = attention(self.ctx, Shared { dims: &dims, state: &st }, &qb, &out, nh);
        run_and_read(self.ctx, &[o], t, &out).await
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
        let (dims, st) = self.shared(Dims::new(cfg, t), State { step, ..Default::default() });
        let sp = uniform(self.dev(), "sp", &SamplerUniform::new(cfg, p, 1, false));
        let (lb, tb) = (self.f32s(logits), self.u32s(tokens));
        let (pred, prob, key) = (
            storage(self.dev(), "pred", t as u64 * 4),
            storage(self.dev(), "prob", t as u64 * 4),
            storage(self.dev(), "key", t as u64 * 4),
        );
        let ex = self.u32s(&pick_tables(cfg.vocab_size, p));
        let pb = PickBuffers { sampler: &sp, tokens: &tb, pred: &pred, prob: &prob, key: &key };
        let o = pick(self.ctx, Shared { dims: &dims, state: &st }, &lb, pb, &ex);
        let pr: Vec<u32> = run_and_read(self.ctx, &[o], t, &pred).await?;
        let pb: Vec<f32> = run_and_read(self.ctx, &[], t, &prob).await?;
        let kb: Vec<f32> = run_and_read(self.ctx, &[], t, &key).await?;
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
        let steps = schedule.len().max(1);
        let (dims, st) = self.shared(Dims::new(cfg, t), State { step, ..Default::default() });
        let sp = uniform(self.dev(), "sp", &SamplerUniform::new(cfg, p, steps, false));
        let (tb, pb, rb, kb) = (self.u32s(tokens), self.u32s(pred), self.f32s(prob), self.f32s(key));
        let sb = self.u32s(&commit_table(schedule, steps, &p.constraints, t));
        let (hist, indirect) = (storage(self.dev(), "history", 16), storage(self.dev(), "indirect", 16));
        let bufs = PickBuffers { sampler: &sp, tokens: &tb, pred: &pb, prob: &rb, key: &kb };
        let o = commit(self.ctx, Shared { dims: &dims, state: &st }, bufs, &sb, &hist, &indirect);
        let out: Vec<u32> = run_and_read(self.ctx, &[o], t, &tb).await?;
        let s: Vec<State> = run_and_read(self.ctx, &[], t, &st).await?;
        Ok((out, s[0]))
    }
}
