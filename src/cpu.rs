//! The CPU reference: every GPU kernel as a plain f32 function, and the whole
//! forward pass built from them. It is the oracle of the GPU tests and the fallback
//! where WebGPU is missing, so it stays simple and builds for wasm.

use crate::config::ModelConfig;
use crate::format::{Matrix, ModelWeights};

// ---------------------------------------------------------------- kernels

/// Dot product with eight partial sums so the compiler vectorizes it.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// y (T, N) = x (T, K) · Wᵀ with `w` the dequantized (N, K) matrix.
pub fn matmul(x: &[f32], w: &[f32], t: usize, k: usize, n: usize) -> Vec<f32> {
    let mut y = vec![0f32; t * n];
    for (xr, yr) in x.chunks_exact(k).zip(y.chunks_exact_mut(n)).take(t) {
        for (yo, wr) in yr.iter_mut().zip(w.chunks_exact(k)) {
            *yo = dot(xr, wr);
        }
    }
    y
}

/// Rows of `x` (T, D) scaled to unit RMS and multiplied by `weight` (D).
///
/// (`inline(always)` here and on `attention` lets the fast path compile the same
/// code for the wider registers of the machine it runs on.)
#[inline(always)]
pub fn rmsnorm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let d = weight.len();
    let mut y = vec![0f32; x.len()];
    for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        let ms = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let inv = 1.0 / (ms + eps).sqrt();
        for ((o, v), w) in yr.iter_mut().zip(xr).zip(weight) {
            *o = v * inv * w;
        }
    }
    y
}

/// Rotary position embedding, rotate-half convention, in place on x (T, H·hd):
/// pairs (i, i + hd/2) of each head turn by `pos · theta^(−2i/hd)`.
pub fn rope(x: &mut [f32], t: usize, n_heads: usize, hd: usize, theta: f32) {
    let half = hd / 2;
    for pos in 0..t {
        for h in 0..n_heads {
            let base = pos * n_heads * hd + h * hd;
            for i in 0..half {
                let freq = theta.powf(-2.0 * i as f32 / hd as f32);
                let (s, c) = (pos as f32 * freq).sin_cos();
                let (a, b) = (x[base + i], x[base + i + half]);
                x[base + i] = a * c - b * s;
                x[base + i + half] = b * c + a * s;
            }
        }
    }
}

/// Multi-head attention for q, k, v (T, H·hd) → (T, H·hd); bidirectional unless `causal`.
#[inline(always)]
pub fn attention(q: &[f32], k: &[f32], v: &[f32], t: usize, n_heads: usize, hd: usize, causal: bool) -> Vec<f32> {
    let d = n_heads * hd;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0f32; t * d];
    let mut scores = vec![0f32; t];
    for h in 0..n_heads {
        for i in 0..t {
            let qi = &q[i * d + h * hd..i * d + h * hd + hd];
            let n_keys = if causal { i + 1 } else { t };
            let mut max = f32::NEG_INFINITY;
            for (j, s) in scores.iter_mut().enumerate().take(n_keys) {
                *s = dot(qi, &k[j * d + h * hd..j * d + h * hd + hd]) * scale;
                max = max.max(*s);
            }
            let mut sum = 0.0;
            for s in scores.iter_mut().take(n_keys) {
                *s = (*s - max).exp();
                sum += *s;
            }
            let o = &mut out[i * d + h * hd..i * d + h * hd + hd];
            for (j, s) in scores.iter().enumerate().take(n_keys) {
                let p = s / sum;
                for (oe, ve) in o.iter_mut().zip(&v[j * d + h * hd..j * d + h * hd + hd]) {
                    *oe += p * ve;
                }
            }
        }
    }
    out
}

/// SwiGLU: silu(gate) · up, elementwise.
pub fn swiglu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    gate.iter().zip(up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect()
}

/// x += y elementwise.
pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

// ---------------------------------------------------------------- model

/// What the sampler, the rankers and regulated verse need of a model on the CPU: the
/// reference ([`CpuModel`]) and the fast path ([`crate::fast::FastModel`]) both are one.
pub trait Forward {
    fn config(&self) -> &ModelConfig;

    /// Logits (rows.len(), V) for the listed positions only: the output head is the
    /// largest matrix, and the sampler only needs masked positions.
    fn forward_rows(&self, tokens: &[u32], rows: &[usize]) -> Vec<f32>;

    /// Logits (T, V) for every position.
    fn forward(&self, tokens: &[u32]) -> Vec<f32> {
        self.forward_rows(tokens, &(0..tokens.len()).collect::<Vec<_>>())
    }
}

/// Embedding rows for `tokens` → (T, D); a causal model embeds `[MASK]` then
/// `tokens` shifted right by one (see `ModelConfig::causal`).
pub fn embed(embeddings: &Matrix, c: &ModelConfig, tokens: &[u32]) -> Vec<f32> {
    let d = c.d_model;
    let mut x = vec![0f32; tokens.len() * d];
    let input: Vec<u32> = if c.shifts_input() {
        std::iter::once(c.mask_id).chain(tokens[..tokens.len().saturating_sub(1)].iter().copied()).collect()
    } else {
        tokens.to_vec()
    };
    for (row, &tok) in x.chunks_exact_mut(d).zip(&input) {
        embeddings.row_into(tok as usize, row);
    }
    x
}

struct CpuLayer {
    attn_norm: Vec<f32>,
    wq: Vec<f32>,
    wk: Vec<f32>,
    wv: Vec<f32>,
    wo: Vec<f32>,
    mlp_norm: Vec<f32>,
    w_gate: Vec<f32>,
    w_up: Vec<f32>,
    w_down: Vec<f32>,
}

/// The model with every matrix dequantized to f32 once, at load.
pub struct CpuModel {
    pub config: ModelConfig,
    embeddings: Matrix,
    layers: Vec<CpuLayer>,
    norm: Vec<f32>,
    output: Vec<f32>, // (V, D)
}

impl CpuModel {
    pub fn new(w: &ModelWeights) -> Self {
        let layers = w
            .layers
            .iter()
            .map(|l| CpuLayer {
                attn_norm: l.attn_norm.clone(),
                wq: l.wq.dequantize(),
                wk: l.wk.dequantize(),
                wv: l.wv.dequantize(),
                wo: l.wo.dequantize(),
                mlp_norm: l.mlp_norm.clone(),
                w_gate: l.w_gate.dequantize(),
                w_up: l.w_up.dequantize(),
                w_down: l.w_down.dequantize(),
            })
            .collect();
        CpuModel {
            config: w.config.clone(),
            embeddings: w.tok_embeddings.clone(),
            layers,
            norm: w.norm.clone(),
            output: w.output.dequantize(),
        }
    }

    /// The final hidden states after the last norm → (T, D).
    pub fn hidden(&self, tokens: &[u32]) -> Vec<f32> {
        let c = &self.config;
        let (t, d, f, nh, hd) = (tokens.len(), c.d_model, c.d_ff, c.n_heads, c.head_dim());
        let mut x = embed(&self.embeddings, c, tokens);
        for l in &self.layers {
            let h = rmsnorm(&x, &l.attn_norm, c.norm_eps);
            let mut q = matmul(&h, &l.wq, t, d, d);
            let mut k = matmul(&h, &l.wk, t, d, d);
            let v = matmul(&h, &l.wv, t, d, d);
            rope(&mut q, t, nh, hd, c.rope_theta);
            rope(&mut k, t, nh, hd, c.rope_theta);
            let a = attention(&q, &k, &v, t, nh, hd, c.causal);
            add_assign(&mut x, &matmul(&a, &l.wo, t, d, d));
            let h = rmsnorm(&x, &l.mlp_norm, c.norm_eps);
            let g = matmul(&h, &l.w_gate, t, d, f);
            let u = matmul(&h, &l.w_up, t, d, f);
            add_assign(&mut x, &matmul(&swiglu(&g, &u), &l.w_down, t, f, d));
        }
        rmsnorm(&x, &self.norm, c.norm_eps)
    }

    /// Logits (T, V) for every position.
    pub fn forward(&self, tokens: &[u32]) -> Vec<f32> {
        let h = self.hidden(tokens);
        matmul(&h, &self.output, tokens.len(), self.config.d_model, self.config.vocab_size)
    }

    /// Logits (rows.len(), V) for the listed positions only: the output head is the
    /// largest matrix, and the sampler only needs masked positions.
    pub fn forward_rows(&self, tokens: &[u32], rows: &[usize]) -> Vec<f32> {
        let d = self.config.d_model;
        let h = self.hidden(tokens);
        let picked: Vec<f32> = rows.iter().flat_map(|&r| h[r * d..(r + 1) * d].iter().copied()).collect();
        matmul(&picked, &self.output, rows.len(), d, self.config.vocab_size)
    }
}

impl Forward for CpuModel {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn forward_rows(&self, tokens: &[u32], rows: &[usize]) -> Vec<f32> {
        CpuModel::forward_rows(self, tokens, rows)
    }

    fn forward(&self, tokens: &[u32]) -> Vec<f32> {
        CpuModel::forward(self, tokens)
    }
}
