//! The mask predictor in candle, written only with differentiable basic ops: candle-nn's
//! fused rms_norm / softmax_last_dim / rope have no backward (ARCHITECTURE.md, "Training with candle"). It must
//! match the engine's forward exactly; see the brief in `unmask::cpu`.

use std::collections::HashMap;

use anyhow::Result;
use candle_core::{Device, Tensor, Var, D};
use unmask::format::{tensor_plan, TensorSpec};
use unmask::ModelConfig;

use crate::rng::Rng;

pub struct Model {
    pub config: ModelConfig,
    /// Parameters by their file-format name (tensor_plan order in `names`).
    pub vars: HashMap<String, Var>,
    pub names: Vec<String>,
    cos: Tensor,
    sin: Tensor,
}

/// rmsnorm(v) * w with rmsnorm(v) = v / sqrt(mean(v²) + eps), over the last dim.
fn rms_norm(x: &Tensor, w: &Tensor, eps: f32) -> Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    let r = (ms + eps as f64)?.sqrt()?;
    Ok(x.broadcast_div(&r)?.broadcast_mul(w)?)
}

/// Softmax over the last dim from exp/sum (the max shift is a constant, detached).
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&m)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

/// log-softmax over the last dim.
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let s = x.broadcast_sub(&m)?;
    let lse = s.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(s.broadcast_sub(&lse)?)
}

impl Model {
    /// Seeded init: N(0, 0.02) matrices, residual outputs (wo, w_down) scaled by
    /// 1/sqrt(2·layers) (GPT-2 style) so the residual stream starts well-scaled; norms 1.
    pub fn new(config: ModelConfig, seed: u64, device: &Device) -> Result<Model> {
        let mut rng = Rng::new(seed ^ 0x1417);
        let mut tensors = HashMap::new();
        for TensorSpec { name, rows, cols, matrix: is_matrix } in tensor_plan(&config) {
            let data: Vec<f32> = if is_matrix {
                let mut std = 0.02f32;
                if name.ends_with("wo") || name.ends_with("w_down") {
                    std /= (2.0 * config.n_layers as f32).sqrt();
                }
                (0..rows * cols).map(|_| rng.normal() * std).collect()
            } else {
                vec![1.0; rows]
            };
            tensors.insert(name, data);
        }
        Self::from_tensors(config, &tensors, device)
    }

    pub fn from_tensors(config: ModelConfig, t: &HashMap<String, Vec<f32>>, device: &Device) -> Result<Model> {
        let mut vars = HashMap::new();
        let mut names = Vec::new();
        for TensorSpec { name, rows, cols, matrix: is_matrix } in tensor_plan(&config) {
            let shape: Vec<usize> = if is_matrix { vec![rows, cols] } else { vec![rows] };
            let data = t.get(&name).ok_or_else(|| anyhow::anyhow!("missing tensor {name}"))?;
            vars.insert(name.clone(), Var::from_tensor(&Tensor::from_slice(data, shape, device)?)?);
            names.push(name);
        }
        // RoPE tables, rotate-half convention: angle(pos, i) = pos · θ^(−2i/hd),
        // the same angle used for lanes i and i + hd/2.
        let hd = config.head_dim();
        let t_len = config.max_seq_len;
        let mut cos = vec![0f32; t_len * hd];
        let mut sin = vec![0f32; t_len * hd];
        for p in 0..t_len {
            for i in 0..hd / 2 {
                let freq = (config.rope_theta as f64).powf(-2.0 * i as f64 / hd as f64);
                let a = p as f64 * freq;
                for j in [i, i + hd / 2] {
                    cos[p * hd + j] = a.cos() as f32;
                    sin[p * hd + j] = a.sin() as f32;
                }
            }
        }
        let cos = Tensor::from_vec(cos, (t_len, hd), device)?;
        let sin = Tensor::from_vec(sin, (t_len, hd), device)?;
        Ok(Model { config, vars, names, cos, sin })
    }

    fn p(&self, name: &str) -> &Tensor {
        self.vars[name].as_tensor()
    }

    /// x (N, in) · Wᵀ with W (out, in), PyTorch Linear layout.
    fn linear(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        Ok(x.matmul(&self.p(name).t()?)?)
    }

    /// out = x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁]; x is (B, H, T, hd).
    fn rope(&self, x: &Tensor, t: usize) -> Result<Tensor> {
        let hd = self.config.head_dim();
        let x1 = x.narrow(D::Minus1, 0, hd / 2)?;
        let x2 = x.narrow(D::Minus1, hd / 2, hd / 2)?;
        let rot = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        Ok((x.broadcast_mul(&cos)? + rot.broadcast_mul(&sin)?)?)
    }

    /// Final hidden states after the last RMSNorm, (B·T, D), for ids (B, T).
    pub fn hidden(&self, ids: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let (b, t) = ids.dims2()?;
        let (d, h, hd) = (c.d_model, c.n_heads, c.head_dim());
        // A causal or shifted model reads its input shifted right behind a [MASK] start
        // token, so row j predicts token j from token j−1 (ModelConfig::shifts_input).
        let ids = if c.shifts_input() {
            let start = Tensor::full(c.mask_id, (b, 1), ids.device())?;
            Tensor::cat(&[&start, &ids.narrow(1, 0, t - 1)?], 1)?
        } else {
            ids.clone()
        };
        let mut x = self.p("tok_embeddings").index_select(&ids.flatten_all()?, 0)?; // (B·T, D)
                                                                                    // Causal: no key after the query. Bidirectional: no `[PAD]` key, so a padded
                                                                                    // training window computes exactly what the engine computes on the unpadded
                                                                                    // text (prompts are not padded; tasks.rs). A causal model never sees the
                                                                                    // padding after its text anyway.
        let mask = if c.causal {
            let m: Vec<f32> = (0..t * t).map(|k| if k % t > k / t { f32::NEG_INFINITY } else { 0.0 }).collect();
            Some(Tensor::from_vec(m, (t, t), ids.device())?)
        } else {
            let m: Vec<f32> = ids
                .flatten_all()?
                .to_vec1::<u32>()?
                .iter()
                .map(|&id| if id == c.pad_id { f32::NEG_INFINITY } else { 0.0 })
                .collect();
            Some(Tensor::from_vec(m, (b, 1, 1, t), ids.device())?)
        };
        let scale = 1.0 / (hd as f64).sqrt();
        for l in 0..c.n_layers {
            let n = |s: &str| format!("layers.{l}.{s}");
            let hn = rms_norm(&x, self.p(&n("attn_norm")), c.norm_eps)?;
            let heads = |name: &str| -> Result<Tensor> {
                Ok(self.linear(&hn, name)?.reshape((b, t, h, hd))?.transpose(1, 2)?.contiguous()?)
            };
            let q = self.rope(&heads(&n("attn.wq"))?, t)?;
            let k = self.rope(&heads(&n("attn.wk"))?, t)?;
            let v = heads(&n("attn.wv"))?;
            let mut s = (q.matmul(&k.t()?)? * scale)?; // (B, H, T, T)
            if let Some(m) = &mask {
                s = s.broadcast_add(m)?;
            }
            let a = softmax(&s)?.matmul(&v)?; // (B, H, T, hd)
            let a = a.transpose(1, 2)?.reshape((b * t, d))?;
            x = (x + self.linear(&a, &n("attn.wo"))?)?;
            let hn = rms_norm(&x, self.p(&n("mlp_norm")), c.norm_eps)?;
            let g = self.linear(&hn, &n("mlp.w_gate"))?;
            let silu = (&g / (g.neg()?.exp()? + 1.0)?)?; // silu(g) = g·σ(g)
            let u = self.linear(&hn, &n("mlp.w_up"))?;
            x = (x + self.linear(&(silu * u)?, &n("mlp.w_down"))?)?;
        }
        rms_norm(&x, self.p("norm"), c.norm_eps)
    }

    /// Logits for selected rows of the final hidden states.
    pub fn head(&self, hidden: &Tensor) -> Result<Tensor> {
        self.linear(hidden, "output")
    }

    /// All parameters as named f32 vectors (for checkpoints and export).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn to_f32(&self) -> Result<HashMap<String, Vec<f32>>> {
        let mut out = HashMap::new();
        for n in &self.names {
            out.insert(n.clone(), self.vars[n].as_tensor().flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    pub fn is_matrix(&self, name: &str) -> bool {
        self.vars[name].as_tensor().rank() == 2
    }
}

/// Loss of one batch. Diffusion (LLaDA): `masked` ids in, sum over masked positions of
/// CE/p, divided by B·T. Causal: next-token CE averaged over B·(T−1).
pub struct Batch {
    pub input: Tensor,   // (B, T) u32
    pub rows: Tensor,    // (K) u32: flat positions that are scored
    pub targets: Tensor, // (K) u32
    pub weights: Tensor, // (K) f32, already divided by the normaliser
}

pub fn loss(model: &Model, batch: &Batch) -> Result<Tensor> {
    let h = model.hidden(&batch.input)?;
    let h = h.index_select(&batch.rows, 0)?;
    let lp = log_softmax(&model.head(&h)?)?; // (K, V)
    let picked = lp.gather(&batch.targets.unsqueeze(1)?, 1)?.squeeze(1)?; // (K)
    Ok((picked * &batch.weights)?.sum_all()?.neg()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{causal_batch, diffusion_batch};

    fn tiny_batch_seqs(v: u32) -> Vec<Vec<u32>> {
        let mut rng = Rng::new(3);
        (0..4).map(|_| (0..12).map(|_| 3 + (rng.below(v as usize - 3) as u32)).collect()).collect()
    }

    /// Every parameter must get a finite, non-zero gradient: a fused candle op without
    /// backward would silently freeze the parameters behind it (ARCHITECTURE.md).
    #[test]
    fn every_parameter_gets_a_gradient() -> Result<()> {
        for causal in [false, true] {
            let mut c = ModelConfig::tiny(50);
            c.d_model = 64;
            c.n_heads = 4;
            c.d_ff = 96;
            c.causal = causal;
            let m = Model::new(c, 7, &Device::Cpu)?;
            let seqs = tiny_batch_seqs(50);
            let b = if causal {
                causal_batch(&seqs, &Device::Cpu)?
            } else {
                diffusion_batch(&seqs, &mut Rng::new(1), Some(&[0.5, 0.6, 0.7, 0.9]), false, &[], &Device::Cpu)?
            };
            let l = loss(&m, &b)?;
            assert!(l.to_scalar::<f32>()?.is_finite());
            let g = l.backward()?;
            for n in &m.names {
                let gt = g.get(m.vars[n].as_tensor()).unwrap_or_else(|| panic!("no gradient for {n}"));
                let v = gt.flatten_all()?.to_vec1::<f32>()?;
                assert!(v.iter().all(|x| x.is_finite()), "{n}: non-finite gradient");
                assert!(v.iter().any(|x| *x != 0.0), "{n}: all-zero gradient (causal={causal})");
            }
        }
        Ok(())
    }

    /// The causal mask must make position j independent of later tokens.
    #[test]
    fn causal_mask_hides_the_future() -> Result<()> {
        let mut c = ModelConfig::tiny(50);
        c.causal = true;
        let m = Model::new(c, 9, &Device::Cpu)?;
        let a = Tensor::new(&[[5u32, 6, 7, 8]], &Device::Cpu)?;
        let b = Tensor::new(&[[5u32, 6, 9, 10]], &Device::Cpu)?;
        let ha = m.hidden(&a)?.narrow(0, 0, 2)?.flatten_all()?.to_vec1::<f32>()?;
        let hb = m.hidden(&b)?.narrow(0, 0, 2)?.flatten_all()?.to_vec1::<f32>()?;
        assert!(ha.iter().zip(&hb).all(|(x, y)| (x - y).abs() < 1e-5));
        Ok(())
    }

    /// The exported model must compute what we trained: compare against the engine's
    /// CPU reference (f32 export) on a sequence shorter than max_seq_len.
    #[test]
    fn matches_engine_cpu_reference() -> Result<()> {
        for causal in [false, true] {
            let mut c = ModelConfig::tiny(50);
            c.causal = causal;
            let m = Model::new(c.clone(), 11, &Device::Cpu)?;
            let fmt = unmask::ExportFormat { blocks: unmask::WeightFormat::F32, embeddings: unmask::WeightFormat::F32 };
            let w = unmask::ModelWeights::from_f32(c.clone(), &m.to_f32()?, fmt)?;
            let cpu = unmask::cpu::CpuModel::new(&w);
            let ids: Vec<u32> = vec![0, 5, 17, 0, 0, 4, 6, 42, 3, 0, 9]; // no [PAD]: the engine never sees one
            let want = cpu.forward(&ids);
            let t = Tensor::from_vec(ids.clone(), (1, ids.len()), &Device::Cpu)?;
            let got = m.head(&m.hidden(&t)?)?.flatten_all()?.to_vec1::<f32>()?;
            assert_eq!(want.len(), got.len());
            let max = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(max < 1e-4, "max |candle − cpu| = {max} (causal={causal})");
        }
        Ok(())
    }
}
