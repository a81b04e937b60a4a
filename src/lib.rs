//! Unmask: a LLaDA-style masked-diffusion poem model — its file format, tokenizer,
//! CPU reference, WebGPU engine and reverse (unmasking) sampler.
//!
//! Layout: [`config`] and [`format`] describe the model file; [`tokenizer`] turns
//! text into ids; [`cpu`] is the plain-f32 oracle and fallback; [`gpu`] runs the same
//! forward pass and the whole unmasking loop in WGSL; [`sampler`] holds the
//! parameters, schedule and task templates both backends share; [`ar`] ranks
//! candidates by joint likelihood for the autoregressive twin.

pub mod config;
pub mod format;
pub mod quant;
pub mod rng;
pub mod tokenizer;

/// Longest sequence any kernel accepts (attention keeps one row of scores in
/// workgroup memory, the commit kernel ranks positions in one workgroup).
pub const MAX_SEQ_LEN: usize = 256;

pub use config::ModelConfig;
pub use format::{ExportFormat, FormatError, Matrix, ModelWeights, WeightFormat};
pub use tokenizer::PoemTokenizer;
pub mod ar;
pub mod cpu;
pub mod engine;
pub mod fast;
pub mod gpu;
pub mod pairs;
pub mod pipeline;
#[cfg(feature = "progress")]
pub mod progress;
pub mod prosody;
pub mod request;
pub mod sampler;
pub mod tasks;
