//! The compute kernels as typed operations. Each kernel is one WGSL file in
//! `shaders/` and one file here holding its [`KernelDef`] (`DEF`: its bindings by
//! name, type and access), its constructor (`op`: takes shaped buffers by name,
//! checks that their shapes fit, and returns an [`Op`], a bound dispatch with its
//! grid), any uniform struct of its own (declared in WGSL from the Rust
//! definition), and, with the `kernel-tests` feature, its one-kernel runner on
//! host data (the GPU-vs-CPU tests). The model and the runners build dispatches
//! through the same constructors.
//!
//! The files are found by the build script, which declares them as modules and
//! lists them in [`KERNELS`]: adding a kernel is its `.wgsl` file, its op file, and
//! its place in the forward pass (`gpu::model`). (`cargo fmt` does not follow
//! modules a build script declares: `rustfmt --edition 2021 src/gpu/ops/*.rs`, as
//! `scripts/test.sh` checks.)
//!
//! Every kernel is `common.wgsl` + (pick, commit) `sampler_common.wgsl` + the
//! generated structs and bindings + (rmsnorm, pick) `workgroup.wgsl` + (weight
//! readers) one `weights_*.wgsl` snippet + the kernel file. Pipelines are compiled
//! once per (kernel, weight kind) and device, and shared by every model on it
//! (`GpuContext::pipeline`).

use super::context::{GpuContext, GpuError};
use super::shader::{struct_slot, Access, KernelDef, Slot};
use super::tensor::{GpuMatrix, Tensor, Uniform};

include!(concat!(env!("OUT_DIR"), "/ops.rs"));

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

/// Workgroups of 64 to cover `n` items.
pub fn groups64(n: usize) -> u32 {
    n.div_ceil(64) as u32
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
/// A name out of place is a bug in an op file, and panics.
fn bind(
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

// ------------------------------------------------------------ shared structs

crate::wgsl_struct! {
    /// The model's and this generation's sizes, read by every kernel (48 bytes).
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

crate::wgsl_struct! {
    /// The unmasking loop's counter on the GPU: every kernel reads it and does
    /// nothing once the loop is done.
    #[derive(PartialEq, Eq)]
    pub struct State {
        /// The next step's index (drives the RNG and the schedule).
        pub step: u32,
        /// Forward passes that did work.
        pub steps_run: u32,
        /// 1 once no mask is left, or a fault stopped the loop.
        pub done: u32,
        /// 1 once pick met a non-finite logit (`SampleError::NonFinite`).
        pub fault: u32,
    }
}

crate::wgsl_struct! {
    /// The sampler's parameters as pick and commit read them (`SamplerParams`).
    pub struct SamplerUniform {
        pub seed: u32,
        pub temperature: f32,
        /// 0: low confidence, 1: random.
        pub remasking: u32,
        /// 1: Fast-dLLM's parallel decoding above `threshold`.
        pub use_threshold: u32,
        pub threshold: f32,
        /// 0: one block.
        pub block_length: u32,
        pub mask_id: u32,
        pub pad_id: u32,
        pub unk_id: u32,
        /// 1: write the per-step history rows.
        pub history: u32,
        /// Rows of the schedule and of the history: the most steps the loop runs.
        pub max_steps: u32,
        /// From this step on nothing waits and the block commits whole
        /// (`sampler::last_step`).
        pub last_step: u32,
    }
}

impl SamplerUniform {
    /// For a loop of at most `max_steps` steps whose steps from `last_step` on
    /// commit their block whole.
    pub fn new(
        c: &crate::ModelConfig,
        p: &crate::sampler::SamplerParams,
        max_steps: usize,
        last_step: usize,
        history: bool,
    ) -> Self {
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
            last_step: last_step as u32,
        }
    }
}

const DIMS: Slot = struct_slot::<Dims>("dims", Access::Uniform);
const STATE: Slot = struct_slot::<State>("state", Access::Read);
const STATE_RW: Slot = struct_slot::<State>("state", Access::ReadWrite);
const SAMPLER: Slot = struct_slot::<SamplerUniform>("sp", Access::Uniform);

/// The two buffers nearly every kernel reads: sizes and the loop's state.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    pub dims: &'a Uniform<Dims>,
    pub state: &'a Tensor<State>,
}

/// The sampler's buffers, shared by pick and commit: its parameters, the
/// sequence (T) and each position's pick (T each).
#[derive(Clone, Copy)]
pub struct PickBuffers<'a> {
    pub sampler: &'a Uniform<SamplerUniform>,
    pub tokens: &'a Tensor<u32>,
    pub pred: &'a Tensor<u32>,
    pub prob: &'a Tensor<f32>,
    pub key: &'a Tensor<f32>,
}

impl PickBuffers<'_> {
    /// The four per-position columns have one row per position.
    fn check(&self, kernel: &str) -> Result<usize, GpuError> {
        let t = self.tokens.rows;
        for (what, shape) in [
            ("tokens", self.tokens.shape()),
            ("pred", self.pred.shape()),
            ("prob", self.prob.shape()),
            ("key", self.key.shape()),
        ] {
            super::tensor::check_shape(kernel, what, shape, [t, 1])?;
        }
        Ok(t)
    }
}

/// Records `ops` for length `t` on a fresh encoder, submits, and reads back `out` as T.
pub async fn run_and_read<T: bytemuck::Pod>(
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

/// One-kernel runs on host data, for the tests: each op file's runner makes its
/// buffers, builds the op with the same constructor the model uses, submits once
/// and reads back.
#[cfg(feature = "kernel-tests")]
pub struct KernelRunner<'a> {
    pub ctx: &'a GpuContext,
}

#[cfg(feature = "kernel-tests")]
impl<'a> KernelRunner<'a> {
    pub fn new(ctx: &'a GpuContext) -> Self {
        KernelRunner { ctx }
    }

    fn dev(&self) -> &wgpu::Device {
        &self.ctx.device
    }

    /// `dims` as a uniform and a fresh `state`.
    fn shared(&self, dims: Dims, state: State) -> (Uniform<Dims>, Tensor<State>) {
        (Uniform::new(self.dev(), "dims", &dims), Tensor::row(self.dev(), "state", &[state]))
    }

    /// `data` as a (rows, cols) tensor; `data.len()` must be `rows × cols`.
    fn tensor<E: bytemuck::Pod>(&self, data: &[E], rows: usize, cols: usize) -> Result<Tensor<E>, GpuError> {
        Tensor::from_data(self.dev(), "data", rows, cols, data)
    }
}
