//! The model on the GPU: weights uploaded once, activation buffers sized for the
//! model's longest sequence, every dispatch's bind group built once, and the whole
//! unmasking loop recorded into one command buffer with one read-back.

use std::rc::Rc;

use super::context::{GpuContext, GpuError};
use super::kernels::*;
use crate::config::ModelConfig;
use crate::format::ModelWeights;
use crate::sampler::{self, Generation, SamplerParams, StepRecord};

struct Buffers {
    dims: wgpu::Buffer,        // uniform Dims
    sampler: wgpu::Buffer,     // uniform SamplerUniform
    exclude: wgpu::Buffer,     // pick_tables: class and line per position, then bit rows of ids never generated
    state: wgpu::Buffer,       // State
    tokens: wgpu::Buffer,      // (T) u32
    x: wgpu::Buffer,           // (T, D) residual stream
    h: wgpu::Buffer,           // (T, D) normed
    q: wgpu::Buffer,           // (T, D)
    k: wgpu::Buffer,           // (T, D)
    v: wgpu::Buffer,           // (T, D)
    att: wgpu::Buffer,         // (T, D)
    g: wgpu::Buffer,           // (T, F) gate, then SwiGLU output
    u: wgpu::Buffer,           // (T, F)
    logits: wgpu::Buffer,      // (T, V)
    pred: wgpu::Buffer,        // (T) u32
    prob: wgpu::Buffer,        // (T) f32
    key: wgpu::Buffer,         // (T) f32
    schedule: wgpu::Buffer,    // (S + T) u32: `commit_table`, S ≤ T + CLEANUP_STEPS steps
    hist_tokens: wgpu::Buffer, // (S, T) u32
    hist_prob: wgpu::Buffer,   // (S, T) f32
    staging: wgpu::Buffer,     // tokens + state + history, mapped once per generation
}

/// Which dispatches make one forward pass, in order; workgroup counts depend on T.
enum Op {
    Embed,
    RmsNorm,
    Rope,
    Attention,
    Swiglu,
    Matmul { n: usize },
    Pick,
    Commit,
}

/// A loaded model ready to generate on a GPU.
pub struct GpuModel {
    ctx: Rc<GpuContext>,
    pub config: ModelConfig,
    bufs: Buffers,
    forward_ops: Vec<(Op, Bound)>,
    /// The output head for every row (`forward`) and for masked rows only (`generate`).
    head_all: Bound,
    head_masked: Bound,
    pick: Bound,
    commit: Bound,
    // Kept alive: the bind groups reference them.
    _weights: Vec<GpuMatrix>,
    _vectors: Vec<wgpu::Buffer>,
}

impl GpuModel {
    /// Uploads `w` and prepares every pipeline and bind group. Fails with
    /// `GpuError::Limits` if a buffer would exceed what the device allows.
    pub fn new(ctx: Rc<GpuContext>, w: &ModelWeights) -> Result<Self, GpuError> {
        ctx.check_alive()?;
        let c = w.config.clone();
        let dev = &ctx.device;
        let tm = c.max_seq_len;
        // The most steps a generation takes: one per mask, and the repeat rule's cleanup.
        let sm = tm + sampler::CLEANUP_STEPS;
        let (d, f, v) = (c.d_model, c.d_ff, c.vocab_size);
        let biggest = [w.tok_embeddings.gpu_words().len() * 4, w.output.gpu_words().len() * 4, tm * v * 4]
            .into_iter()
            .max()
            .unwrap_or(0) as u64;
        if biggest > ctx.limits.max_storage_buffer_binding_size as u64 {
            return Err(GpuError::Limits(format!(
                "a {biggest}-byte buffer exceeds the {}-byte storage binding limit",
                ctx.limits.max_storage_buffer_binding_size
            )));
        }
        let f4 = |n: usize| (n * 4) as u64;
        let bufs = Buffers {
            dims: uniform(dev, "dims", &Dims::new(&c, tm)),
            sampler: uniform(dev, "sampler", &SamplerUniform::default()),
            exclude: storage(dev, "exclude", f4(pick_table_words(c.vocab_size))),
            state: storage(dev, "state", 16),
            tokens: storage(dev, "tokens", f4(tm)),
            x: storage(dev, "x", f4(tm * d)),
            h: storage(dev, "h", f4(tm * d)),
            q: storage(dev, "q", f4(tm * d)),
            k: storage(dev, "k", f4(tm * d)),
            v: storage(dev, "v", f4(tm * d)),
            att: storage(dev, "att", f4(tm * d)),
            g: storage(dev, "g", f4(tm * f)),
            u: storage(dev, "u", f4(tm * f)),
            logits: storage(dev, "logits", f4(tm * v)),
            pred: storage(dev, "pred", f4(tm)),
            prob: storage(dev, "prob", f4(tm)),
            key: storage(dev, "key", f4(tm)),
            schedule: storage(dev, "schedule", f4(sm + tm)),
            hist_tokens: storage(dev, "hist_tokens", f4(sm * tm)),
            hist_prob: storage(dev, "hist_prob", f4(sm * tm)),
            staging: dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size: f4(tm + 4 + 2 * sm * tm),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        let pipes = Pipelines::default();
        let mut weights = Vec::new();
        let mut vectors = Vec::new();
        let mut ops: Vec<(Op, Bound)> = Vec::new();
        let mk = |kernel: Kernel, kind: Option<GpuWeights>, b: &[&wgpu::Buffer]| -> Bound {
            let pipeline = pipes.get(dev, kernel, kind);
            let bind_group = bind(dev, &pipeline, b);
            Bound { pipeline, bind_group }
        };
        let mat_params = |k: usize, n: usize, acc: bool, masked_only: bool| {
            uniform(
                dev,
                "mp",
                &MatParams { k: k as u32, n: n as u32, accumulate: acc as u32, masked_only: masked_only as u32 },
            )
        };
        let b = &bufs;
        let (mp_dd, mp_dd_acc, mp_df, mp_fd_acc) = (
            mat_params(d, d, false, false),
            mat_params(d, d, true, false),
            mat_params(d, f, false, false),
            mat_params(f, d, true, false),
        );
        let (mp_head, mp_head_masked) = (mat_params(d, v, false, false), mat_params(d, v, false, true));
        let matmul = |gm: &GpuMatrix, mp: &wgpu::Buffer, x: &wgpu::Buffer, y: &wgpu::Buffer| {
            let mut bl = vec![&b.dims, mp, &b.state, x, y, &b.tokens];
            bl.extend(gm.bindings());
            (Op::Matmul { n: gm.rows }, mk(Kernel::Matmul, Some(gm.kind), &bl))
        };
        let emb = GpuMatrix::upload(dev, &w.tok_embeddings, "tok_embeddings");
        let mut bl = vec![&b.dims, &b.state, &b.tokens, &b.x];
        bl.extend(emb.bindings());
        ops.push((Op::Embed, mk(Kernel::Embed, Some(emb.kind), &bl)));
        weights.push(emb);
        for (i, l) in w.layers.iter().enumerate() {
            let up = |m, n: &str| GpuMatrix::upload(dev, m, &format!("layers.{i}.{n}"));
            let (wq, wk, wv, wo) = (up(&l.wq, "wq"), up(&l.wk, "wk"), up(&l.wv, "wv"), up(&l.wo, "wo"));
            let (wg, wu, wd) = (up(&l.w_gate, "w_gate"), up(&l.w_up, "w_up"), up(&l.w_down, "w_down"));
            let an = storage_init(dev, "attn_norm", bytemuck::cast_slice(&l.attn_norm));
            let mn = storage_init(dev, "mlp_norm", bytemuck::cast_slice(&l.mlp_norm));
            ops.push((Op::RmsNorm, mk(Kernel::RmsNorm, None, &[&b.dims, &b.state, &b.x, &an, &b.h])));
            ops.push(matmul(&wq, &mp_dd, &b.h, &b.q));
            ops.push(matmul(&wk, &mp_dd, &b.h, &b.k));
            ops.push(matmul(&wv, &mp_dd, &b.h, &b.v));
            ops.push((Op::Rope, mk(Kernel::Rope, None, &[&b.dims, &b.state, &b.q, &b.k])));
            ops.push((Op::Attention, mk(Kernel::Attention, None, &[&b.dims, &b.state, &b.q, &b.k, &b.v, &b.att])));
            ops.push(matmul(&wo, &mp_dd_acc, &b.att, &b.x));
            ops.push((Op::RmsNorm, mk(Kernel::RmsNorm, None, &[&b.dims, &b.state, &b.x, &mn, &b.h])));
            ops.push(matmul(&wg, &mp_df, &b.h, &b.g));
            ops.push(matmul(&wu, &mp_df, &b.h, &b.u));
            ops.push((Op::Swiglu, mk(Kernel::Swiglu, None, &[&b.dims, &b.state, &b.g, &b.u])));
            ops.push(matmul(&wd, &mp_fd_acc, &b.g, &b.x));
            weights.extend([wq, wk, wv, wo, wg, wu, wd]);
            vectors.extend([an, mn]);
        }
        let norm = storage_init(dev, "norm", bytemuck::cast_slice(&w.norm));
        ops.push((Op::RmsNorm, mk(Kernel::RmsNorm, None, &[&b.dims, &b.state, &b.x, &norm, &b.h])));
        let out = GpuMatrix::upload(dev, &w.output, "output");
        let (_, head_all) = matmul(&out, &mp_head, &b.h, &b.logits);
        let (_, head_masked) = matmul(&out, &mp_head_masked, &b.h, &b.logits);
        let head_rows = out.rows;
        weights.push(out);
        vectors.extend([norm, mp_dd, mp_dd_acc, mp_df, mp_fd_acc, mp_head, mp_head_masked]);
        let pick = mk(
            Kernel::Pick,
            None,
            &[&b.dims, &b.sampler, &b.state, &b.logits, &b.tokens, &b.pred, &b.prob, &b.key, &b.exclude],
        );
        let commit = mk(
            Kernel::Commit,
            None,
            &[
                &b.dims,
                &b.sampler,
                &b.state,
                &b.tokens,
                &b.pred,
                &b.prob,
                &b.key,
                &b.schedule,
                &b.hist_tokens,
                &b.hist_prob,
            ],
        );
        drop(pipes);
        debug_assert_eq!(head_rows, v);
        Ok(GpuModel {
            ctx,
            config: c,
            bufs,
            forward_ops: ops,
            head_all,
            head_masked,
            pick,
            commit,
            _weights: weights,
            _vectors: vectors,
        })
    }

    pub fn context(&self) -> &Rc<GpuContext> {
        &self.ctx
    }

    fn groups(&self, op: &Op, t: usize) -> (u32, u32, u32) {
        let c = &self.config;
        match op {
            Op::Embed => (groups64(t * c.d_model), 1, 1),
            Op::RmsNorm => (t as u32, 1, 1),
            Op::Rope => (groups64(t * c.d_model / 2), 1, 1),
            Op::Attention => (t as u32, c.n_heads as u32, 1),
            Op::Swiglu => (groups64(t * c.d_ff), 1, 1),
            Op::Matmul { n } => matmul_groups(t, *n),
            Op::Pick => (t as u32, 1, 1),
            Op::Commit => (1, 1, 1),
        }
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>, op: &Op, d: &Bound, t: usize) -> u64 {
        d.record(pass, self.groups(op, t));
        1
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
        q.write_buffer(&self.bufs.dims, 0, bytemuck::bytes_of(&Dims::new(&self.config, t)));
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
            for (op, d) in &self.forward_ops {
                n += self.record(&mut pass, op, d, t);
            }
            n += self.record(&mut pass, &Op::Matmul { n: self.config.vocab_size }, &self.head_all, t);
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
        let p = &sampler::params_for(c, p);
        let t = x.len();
        let sched = sampler::schedule(&x, p, c.mask_id);
        let steps = sampler::max_steps(&x, p, c.mask_id);
        let table = commit_table(&sched, steps, &p.constraints, t);
        self.load_sequence(&x)?;
        let q = &self.ctx.queue;
        q.write_buffer(&self.bufs.sampler, 0, bytemuck::bytes_of(&SamplerUniform::new(c, p, steps, keep_history)));
        q.write_buffer(&self.bufs.exclude, 0, bytemuck::cast_slice(&pick_tables(c.vocab_size, p)));
        q.write_buffer(&self.bufs.schedule, 0, bytemuck::cast_slice(&table));
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        let mut n = 0;
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..steps {
                for (op, d) in &self.forward_ops {
                    n += self.record(&mut pass, op, d, t);
                }
                n += self.record(&mut pass, &Op::Matmul { n: self.config.vocab_size }, &self.head_masked, t);
                n += self.record(&mut pass, &Op::Pick, &self.pick, t);
                n += self.record(&mut pass, &Op::Commit, &self.commit, t);
            }
        }
        self.ctx.count(|c| c.dispatches += n);
        // One staging buffer: tokens (T) | state (4) | history tokens (S, T) | history probs (S, T).
        let st = &self.bufs.staging;
        let tb = (t * 4) as u64;
        enc.copy_buffer_to_buffer(&self.bufs.tokens, 0, st, 0, tb);
        enc.copy_buffer_to_buffer(&self.bufs.state, 0, st, tb, 16);
        let hb = (steps * t * 4) as u64;
        if keep_history {
            enc.copy_buffer_to_buffer(&self.bufs.hist_tokens, 0, st, tb + 16, hb);
            enc.copy_buffer_to_buffer(&self.bufs.hist_prob, 0, st, tb + 16 + hb, hb);
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
