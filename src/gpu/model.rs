//! The model on the GPU: weights uploaded once, activation buffers sized for the
//! model's longest sequence, every dispatch's bind group built once, and the whole
//! unmasking loop recorded into one command buffer with one read-back.

use std::rc::Rc;

use super::context::{GpuContext, GpuError};
use super::ops::commit::commit_table;
use super::ops::matmul::Epilogue;
use super::ops::pick::{pick_table_words, pick_tables};
use super::ops::{self, run_and_read, Dims, Op, PickBuffers, SamplerUniform, Shared, State};
use super::tensor::{GpuMatrix, Tensor, Uniform};
use crate::config::ModelConfig;
use crate::format::ModelWeights;
use crate::sampler::{self, Generation, SamplerParams, StepRecord};

struct Buffers {
    dims: Uniform<Dims>,
    sampler: Uniform<SamplerUniform>,
    exclude: Tensor<u32>, // pick_tables: class and line per position, then bit rows of ids never generated
    state: Tensor<State>,
    tokens: Tensor<u32>,   // (T, 1)
    x: Tensor<f32>,        // (T, D) residual stream
    h: Tensor<f32>,        // (T, D) normed
    qkv: Tensor<f32>,      // (T, 3D) q (turned) | k (turned) | v per row
    att: Tensor<f32>,      // (T, D)
    g: Tensor<f32>,        // (T, F) SwiGLU output
    logits: Tensor<f32>,   // (T, V)
    pred: Tensor<u32>,     // (T, 1)
    prob: Tensor<f32>,     // (T, 1)
    key: Tensor<f32>,      // (T, 1)
    schedule: Tensor<u32>, // (S + T, 1): `commit_table`, S ≤ 2T + CLEANUP_STEPS steps
    history: Tensor<u32>,  // (2S, T): tokens, then probabilities as f32 bits
    staging: wgpu::Buffer, // tokens + state + history, mapped once per generation
}

/// GPU time of one kernel (all its dispatches in one forward pass).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KernelTime {
    pub kernel: String,
    pub dispatches: usize,
    pub ms: f64,
}

/// A loaded model ready to generate on a GPU.
pub struct GpuModel {
    ctx: Rc<GpuContext>,
    pub config: ModelConfig,
    bufs: Buffers,
    /// The workgroup counts each dispatch of a step reads (all but commit's).
    indirect: wgpu::Buffer,
    forward_ops: Vec<Op>,
    /// The output head for every row (`forward`) and for masked rows only (`generate`).
    head_all: Op,
    head_masked: Op,
    pick: Op,
    commit: Op,
    // Kept alive: the bind groups reference them.
    _weights: Vec<GpuMatrix>,
    _vectors: Vec<Tensor<f32>>,
}

impl GpuModel {
    /// Dispatches per step of the unmasking loop, from the recorded op list: the
    /// forward pass (embed, 7 a layer, the final norm), the masked-row head, pick and
    /// commit (47 for the bundled 6-layer model).
    pub fn dispatches_per_step(&self) -> u64 {
        self.forward_ops.len() as u64 + 3
    }

    /// Uploads `w` and prepares every pipeline and bind group. Fails with
    /// `GpuError::Limits` if a buffer would exceed what the device allows.
    pub fn new(ctx: Rc<GpuContext>, w: &ModelWeights) -> Result<Self, GpuError> {
        ctx.check_alive()?;
        let c = w.config.clone();
        let dev = &ctx.device;
        let tm = c.max_seq_len;
        // The most steps a generation takes: one per mask and the repeat rule's
        // cleanup, then a fill step per further block and the spare ones for
        // triples (`sampler::max_steps`).
        let sm = 2 * tm + sampler::CLEANUP_STEPS + sampler::TRIPLE_STEPS;
        let (d, f, v) = (c.d_model, c.d_ff, c.vocab_size);
        // Checked before anything is uploaded: the largest binding (the embeddings,
        // the head, the logits, the stacked gate/up) against the device's limit.
        let f4 = |n: usize| (n * 4) as u64;
        let words = |m: &crate::Matrix| f4(m.gpu_word_count());
        let biggest = [
            words(&w.tok_embeddings),
            words(&w.output),
            f4(tm * v),
            w.layers.first().map_or(0, |l| words(&l.w_gate) + words(&l.w_up)),
            w.layers.first().map_or(0, |l| words(&l.wq) * 3),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if biggest > ctx.limits.max_storage_buffer_binding_size as u64 {
            return Err(GpuError::Limits(format!(
                "a {biggest}-byte buffer exceeds the {}-byte storage binding limit",
                ctx.limits.max_storage_buffer_binding_size
            )));
        }
        let z32 = |label, rows, cols| Tensor::<f32>::zeros(dev, label, rows, cols);
        let zu = |label, rows, cols| Tensor::<u32>::zeros(dev, label, rows, cols);
        let bufs = Buffers {
            dims: Uniform::new(dev, "dims", &Dims::new(&c, tm)),
            sampler: Uniform::new(dev, "sampler", &SamplerUniform::default()),
            exclude: zu("exclude", 1, pick_table_words(c.vocab_size)),
            state: Tensor::zeros(dev, "state", 1, 1),
            tokens: zu("tokens", tm, 1),
            x: z32("x", tm, d),
            h: z32("h", tm, d),
            qkv: z32("qkv", tm, 3 * d),
            att: z32("att", tm, d),
            g: z32("g", tm, f),
            logits: z32("logits", tm, v),
            pred: zu("pred", tm, 1),
            prob: z32("prob", tm, 1),
            key: z32("key", tm, 1),
            schedule: zu("schedule", sm + tm, 1),
            history: zu("history", 2 * sm, tm),
            staging: dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size: f4(tm + 4 + 2 * sm * tm),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        let b = &bufs;
        let sh = Shared { dims: &b.dims, state: &b.state };
        let cx = &*ctx;
        let mut weights = Vec::new();
        let mut vectors = Vec::new();
        let mut ops = Vec::new();
        let emb = GpuMatrix::upload(dev, &w.tok_embeddings, "tok_embeddings");
        ops.push(ops::embed::op(cx, sh, &b.tokens, &emb, &b.x)?);
        weights.push(emb);
        for (i, l) in w.layers.iter().enumerate() {
            let name = |n: &str| format!("layers.{i}.{n}");
            let wqkv = GpuMatrix::stacked(dev, &[&l.wq, &l.wk, &l.wv], &name("wqkv"));
            let wo = GpuMatrix::upload(dev, &l.wo, &name("wo"));
            let wgu = GpuMatrix::stacked(dev, &[&l.w_gate, &l.w_up], &name("w_gate_up"));
            let wd = GpuMatrix::upload(dev, &l.w_down, &name("w_down"));
            let an = Tensor::row(dev, "attn_norm", &l.attn_norm);
            let mn = Tensor::row(dev, "mlp_norm", &l.mlp_norm);
            ops.push(ops::rmsnorm::op(cx, sh, &b.x, &an, &b.h)?);
            ops.push(ops::matmul::op(cx, sh, &b.h, &wqkv, &b.qkv, &b.tokens, Epilogue::Rope)?);
            ops.push(ops::attention::op(cx, sh, &b.qkv, &b.att, c.n_heads)?);
            ops.push(ops::matmul::op(cx, sh, &b.att, &wo, &b.x, &b.tokens, Epilogue::Accumulate)?);
            ops.push(ops::rmsnorm::op(cx, sh, &b.x, &mn, &b.h)?);
            ops.push(ops::matmul::op(cx, sh, &b.h, &wgu, &b.g, &b.tokens, Epilogue::Swiglu)?);
            ops.push(ops::matmul::op(cx, sh, &b.g, &wd, &b.x, &b.tokens, Epilogue::Accumulate)?);
            weights.extend([wqkv, wo, wgu, wd]);
            vectors.extend([an, mn]);
        }
        let norm = Tensor::row(dev, "norm", &w.norm);
        ops.push(ops::rmsnorm::op(cx, sh, &b.x, &norm, &b.h)?);
        let out = GpuMatrix::upload(dev, &w.output, "output");
        let head_all = ops::matmul::op(cx, sh, &b.h, &out, &b.logits, &b.tokens, Epilogue::Store)?;
        let head_masked = ops::matmul::op(cx, sh, &b.h, &out, &b.logits, &b.tokens, Epilogue::MaskedRows)?;
        weights.push(out);
        vectors.push(norm);
        let pb = PickBuffers { sampler: &b.sampler, tokens: &b.tokens, pred: &b.pred, prob: &b.prob, key: &b.key };
        let pick = ops::pick::op(cx, sh, &b.logits, pb, &b.exclude)?;
        // The workgroup counts of every dispatch of a step but commit (3 u32 each):
        // the forward pass, the masked-row head and pick.
        let indirect = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("indirect"),
            size: 12 * (ops.len() as u64 + 2),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::INDIRECT
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let commit = ops::commit::op(cx, sh, pb, &b.schedule, &b.history, &indirect)?;
        Ok(GpuModel {
            ctx,
            config: c,
            bufs,
            indirect,
            forward_ops: ops,
            head_all,
            head_masked,
            pick,
            commit,
            _weights: weights,
            _vectors: vectors,
        })
    }

    /// Time on the GPU of each kernel of one forward pass (all logits), grouped by
    /// [`Op::label`] in the order they first run, from timestamp queries: every
    /// dispatch in its own compute pass, so the figures include a pass boundary
    /// each. `Ok(None)` where the device has no timestamp queries.
    pub async fn kernel_times(&self, tokens: &[u32]) -> Result<Option<Vec<KernelTime>>, GpuError> {
        if !self.ctx.timestamps {
            return Ok(None);
        }
        self.ctx.check_alive()?;
        self.load_sequence(tokens)?;
        let t = tokens.len();
        let ops: Vec<&Op> = self.forward_ops.iter().chain([&self.head_all]).collect();
        let dev = &self.ctx.device;
        let n = 2 * ops.len() as u32;
        let set = dev.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kernel times"),
            ty: wgpu::QueryType::Timestamp,
            count: n,
        });
        let buf = |usage| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("kernel times"),
                size: 8 * n as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolved = buf(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let staging = buf(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        let mut enc = dev.create_command_encoder(&Default::default());
        for (i, op) in ops.iter().enumerate() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(&op.label),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &set,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            op.record(&mut pass, t);
        }
        self.ctx.count(|c| c.dispatches += ops.len() as u64);
        enc.resolve_query_set(&set, 0..n, &resolved, 0);
        enc.copy_buffer_to_buffer(&resolved, 0, &staging, 0, 8 * n as u64);
        self.ctx.submit(enc);
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&self.ctx.read(&staging).await?);
        let ns_per_tick = self.ctx.queue.get_timestamp_period() as f64;
        let mut out: Vec<KernelTime> = Vec::new();
        for (op, pair) in ops.iter().zip(ticks.chunks_exact(2)) {
            let ms = pair[1].saturating_sub(pair[0]) as f64 * ns_per_tick / 1e6;
            match out.iter_mut().find(|k| k.kernel == op.label) {
                Some(k) => {
                    k.dispatches += 1;
                    k.ms += ms;
                }
                None => out.push(KernelTime { kernel: op.label.clone(), dispatches: 1, ms }),
            }
        }
        Ok(Some(out))
    }

    /// The workgroup counts the unmasking loop's dispatches read now, three per
    /// dispatch of a step but commit: the current grids while a loop runs, zeros
    /// once it ended.
    pub async fn step_workgroups(&self) -> Result<Vec<u32>, GpuError> {
        run_and_read(&self.ctx, &[], 0, &self.indirect).await
    }

    pub fn context(&self) -> &Rc<GpuContext> {
        &self.ctx
    }

    fn load_sequence(&self, tokens: &[u32]) -> Result<(), GpuError> {
        let t = tokens.len();
        if t == 0 {
            return Err(sampler::SampleError::Empty.into());
        }
        if t > self.config.max_seq_len {
            return Err(sampler::SampleError::TooLong { len: t, max: self.config.max_seq_len }.into());
        }
        let q = &self.ctx.queue;
        self.bufs.dims.write(q, &Dims::new(&self.config, t));
        q.write_buffer(&self.bufs.tokens, 0, bytemuck::cast_slice(tokens));
        q.write_buffer(&self.bufs.state, 0, bytemuck::bytes_of(&State::default()));
        Ok(())
    }

    /// Logits (T, V) of one forward pass (tests and evaluation of the head).
    pub async fn forward(&self, tokens: &[u32]) -> Result<Vec<f32>, GpuError> {
        self.ctx.check_alive()?;
        self.load_sequence(tokens)?;
        let t = tokens.len();
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        let mut n = 0;
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for op in self.forward_ops.iter().chain([&self.head_all]) {
                op.record(&mut pass, t);
                n += 1;
            }
        }
        self.ctx.count(|c| c.dispatches += n);
        let bytes = (t * self.config.vocab_size * 4) as u64;
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("logits staging"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        enc.copy_buffer_to_buffer(&self.bufs.logits, 0, &staging, 0, bytes);
        self.ctx.submit(enc);
        Ok(bytemuck::pod_collect_to_vec(&self.ctx.read(&staging).await?))
    }

    /// The whole reverse process on the GPU: every step (forward, pick, commit) is
    /// recorded into one command buffer, submitted once and read back once. With
    /// `keep_history`, each step's tokens and probabilities come back in the same read.
    pub async fn generate(
        &self,
        tokens: &[u32],
        p: &SamplerParams,
        keep_history: bool,
    ) -> Result<Generation, GpuError> {
        self.ctx.check_alive()?;
        let c = &self.config;
        let x = sampler::prepare(tokens, p, c)?;
        let p = &p.for_model(c);
        let t = x.len();
        let sched = sampler::schedule(&x, p, c.mask_id);
        let steps = sampler::max_steps(&x, p, c.mask_id);
        let last = sampler::last_step(&x, p, c.mask_id);
        let table = commit_table(&sched, steps, &p.constraints, t);
        self.load_sequence(&x)?;
        let q = &self.ctx.queue;
        self.bufs.sampler.write(q, &SamplerUniform::new(c, p, steps, last, keep_history));
        q.write_buffer(&self.bufs.exclude, 0, bytemuck::cast_slice(&pick_tables(c.vocab_size, p)));
        q.write_buffer(&self.bufs.schedule, 0, bytemuck::cast_slice(&table));
        // Every step is recorded ahead of time (the number that runs is known only on
        // the GPU); each dispatch reads its workgroup counts from `indirect`, which
        // the commit that ends the loop zeroes, so later steps cost next to nothing.
        // Commit itself writes `indirect`, and a dispatch may not read its workgroup
        // counts from a buffer it binds for writing (WebGPU's usage scopes): it is
        // dispatched directly, one workgroup that returns at once after the loop.
        let step_ops: Vec<&Op> = self.forward_ops.iter().chain([&self.head_masked, &self.pick]).collect();
        let args: Vec<u32> = step_ops.iter().flat_map(|op| op.grid.at(t)).collect();
        q.write_buffer(&self.indirect, 0, bytemuck::cast_slice(&args));
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..steps {
                for (i, op) in step_ops.iter().enumerate() {
                    op.record_indirect(&mut pass, &self.indirect, 12 * i as u64);
                }
                self.commit.record(&mut pass, t);
            }
        }
        self.ctx.count(|c| c.dispatches += (steps * (step_ops.len() + 1)) as u64);
        // One staging buffer: tokens (T) | state (4) | history tokens (S, T) | history probs (S, T).
        let st = &self.bufs.staging;
        let tb = (t * 4) as u64;
        enc.copy_buffer_to_buffer(&self.bufs.tokens, 0, st, 0, tb);
        enc.copy_buffer_to_buffer(&self.bufs.state, 0, st, tb, 16);
        if keep_history {
            enc.copy_buffer_to_buffer(&self.bufs.history, 0, st, tb + 16, (2 * steps * t * 4) as u64);
        }
        self.ctx.submit(enc);
        let bytes = self.ctx.read(st).await?;
        let words: &[u32] = bytemuck::cast_slice(&bytes);
        let out_tokens = words[..t].to_vec();
        let state = State { step: words[t], steps_run: words[t + 1], done: words[t + 2], fault: words[t + 3] };
        if state.fault != 0 {
            return Err(sampler::SampleError::NonFinite.into());
        }
        let mut history = Vec::new();
        if keep_history {
            let base = t + 4;
            for s in 0..state.steps_run as usize {
                let toks = words[base + s * t..base + (s + 1) * t].to_vec();
                let probs = words[base + steps * t + s * t..base + steps * t + (s + 1) * t]
                    .iter()
                    .map(|w| f32::from_bits(*w))
                    .collect();
                history.push(StepRecord { tokens: toks, confidence: probs });
            }
        }
        Ok(Generation { tokens: out_tokens, steps_run: state.steps_run as usize, history })
    }
}
