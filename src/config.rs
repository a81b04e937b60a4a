//! Model hyper-parameters: the one struct every layer (file format, CPU reference,
//! GPU engine, trainer) reads the model's shape from.

use serde::{Deserialize, Serialize};

/// Largest sizes a model file may claim (far above any model this project ships;
/// checked before anything is allocated from a header).
pub const MAX_VOCAB: usize = 1 << 20;
pub const MAX_D_MODEL: usize = 8192;
pub const MAX_D_FF: usize = 32768;
pub const MAX_LAYERS: usize = 256;
/// The RMSNorm ε a model may have (both ends included).
pub const NORM_EPS_RANGE: (f32, f32) = (1e-12, 1e-2);
/// The RoPE base a model may have (both ends included).
pub const ROPE_THETA_RANGE: (f32, f32) = (2.0, 1e8);

/// Shape and constants of the mask-predictor Transformer (LLaMA-style, no biases).
///
/// Stored as JSON in the `config` entry of the safetensors header metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of token ids (special tokens included).
    pub vocab_size: usize,
    /// Residual stream width `D`.
    pub d_model: usize,
    /// Number of Transformer blocks.
    pub n_layers: usize,
    /// Attention heads; `D / n_heads` is the head width (must be even for RoPE).
    pub n_heads: usize,
    /// SwiGLU hidden width `F`.
    pub d_ff: usize,
    /// Longest sequence the model was trained on (positions `0..max_seq_len`).
    pub max_seq_len: usize,
    /// RoPE base frequency.
    pub rope_theta: f32,
    /// RMSNorm epsilon.
    pub norm_eps: f32,
    /// `false` for the diffusion mask predictor, `true` for the autoregressive twin.
    /// A causal model attends only to earlier positions and reads its input shifted
    /// right by one behind a `[MASK]` start token, so for both kinds output row j is
    /// the prediction for position j (the sampler needs no special case).
    pub causal: bool,
    /// A bidirectional (diffusion) model that reads its input shifted like a causal
    /// one: row j predicts position j from position j−1's token, so it can start from
    /// its autoregressive twin's weights (as Dream 7B starts from Qwen2.5). Absent in
    /// older model files (= false).
    #[serde(default)]
    pub shifted: bool,
    /// Id of `[MASK]`.
    pub mask_id: u32,
    /// Id of `[PAD]` (also end of text).
    pub pad_id: u32,
    /// Id of `[UNK]`.
    pub unk_id: u32,
}

impl ModelConfig {
    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Whether the input is read shifted right by one behind a `[MASK]` start token.
    pub fn shifts_input(&self) -> bool {
        self.causal || self.shifted
    }

    /// The shape of the bundled model (d = 256 × 6 layers, 8 heads, MLP 704, 64
    /// positions), bidirectional, with the tokenizer's special ids.
    pub fn poem(vocab_size: usize) -> Self {
        ModelConfig {
            vocab_size,
            d_model: 256,
            n_layers: 6,
            n_heads: 8,
            d_ff: 704,
            max_seq_len: 64,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            causal: false,
            shifted: false,
            mask_id: crate::tokenizer::MASK_ID,
            pad_id: crate::tokenizer::PAD_ID,
            unk_id: crate::tokenizer::UNK_ID,
        }
    }

    /// A tiny model for tests: awkward sizes on purpose (nothing is a multiple of 64).
    pub fn tiny(vocab_size: usize) -> Self {
        ModelConfig { d_model: 96, n_layers: 2, n_heads: 3, d_ff: 160, max_seq_len: 40, ..Self::poem(vocab_size) }
    }

    /// Checks the invariants the kernels rely on; returns a readable reason otherwise.
    pub fn validate(&self) -> Result<(), String> {
        let ids = [self.mask_id, self.pad_id, self.unk_id];
        if self.vocab_size == 0 || self.d_model == 0 || self.n_layers == 0 || self.n_heads == 0 || self.d_ff == 0 {
            return Err("vocab_size, d_model, d_ff, n_layers and n_heads must be positive".into());
        }
        // Sizes come from a file header: bound them before anything is built from
        // them (the tensor list alone of a 10⁹-layer claim would exhaust memory).
        let limits = [
            ("vocab_size", self.vocab_size, MAX_VOCAB),
            ("d_model", self.d_model, MAX_D_MODEL),
            ("d_ff", self.d_ff, MAX_D_FF),
            ("n_layers", self.n_layers, MAX_LAYERS),
        ];
        if let Some((name, v, max)) = limits.iter().find(|(_, v, max)| v > max) {
            return Err(format!("{name} {v} is above this engine's limit of {max}"));
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(format!("d_model {} is not a multiple of n_heads {}", self.d_model, self.n_heads));
        }
        if !self.head_dim().is_multiple_of(2) || self.head_dim() > 256 {
            return Err(format!("head width {} must be even and at most 256", self.head_dim()));
        }
        if !self.d_model.is_multiple_of(crate::quant::BLOCK) || !self.d_ff.is_multiple_of(crate::quant::BLOCK) {
            return Err(format!(
                "d_model {} and d_ff {} must be multiples of the {}-weight quantization block",
                self.d_model,
                self.d_ff,
                crate::quant::BLOCK
            ));
        }
        if self.max_seq_len == 0 || self.max_seq_len > crate::MAX_SEQ_LEN {
            return Err(format!("max_seq_len {} must be in 1..={}", self.max_seq_len, crate::MAX_SEQ_LEN));
        }
        if ids.iter().any(|&i| i as usize >= self.vocab_size) {
            return Err(format!("special token ids {ids:?} must be below vocab_size {}", self.vocab_size));
        }
        // The ranges a trained model can have (RMSNorm's ε guards a division; RoPE's
        // base spreads the frequencies): a value outside is a damaged or edited file.
        let (eps, theta) = (self.norm_eps, self.rope_theta);
        if !(NORM_EPS_RANGE.0..=NORM_EPS_RANGE.1).contains(&eps) {
            return Err(format!("norm_eps {eps} must be in {:e}..={:e}", NORM_EPS_RANGE.0, NORM_EPS_RANGE.1));
        }
        if !(ROPE_THETA_RANGE.0..=ROPE_THETA_RANGE.1).contains(&theta) {
            return Err(format!("rope_theta {theta} must be in {}..={:e}", ROPE_THETA_RANGE.0, ROPE_THETA_RANGE.1));
        }
        Ok(())
    }
}
