//! The model file: safetensors with the config in the header metadata, and the
//! block-quantized weight layouts the exporter writes and the shaders read.
//!
//! # Layout (format version 1)
//!
//! Header metadata: `format = "unmask"`, `format_version = "1"`, `config` = the
//! [`ModelConfig`] as JSON, and `data_sha256` = the SHA-256 of the data section (the
//! bytes after the header) in lowercase hex, checked on load so a damaged file is an
//! error rather than a silently different model, and `header_sha256` = the SHA-256 of
//! the header itself (tensor table and metadata, config included, in canonical form:
//! keys sorted, compact JSON) without that entry, checked before the config is read.
//! No other metadata key is allowed, and the config allows no unknown field. Files
//! written before either digest existed load without its check. Tensors (no others
//! are allowed):
//!
//! | name | shape | kind |
//! |---|---|---|
//! | `tok_embeddings` | (V, D) | matrix |
//! | `layers.{i}.attn_norm`, `layers.{i}.mlp_norm`, `norm` | (D) | vector, F32 |
//! | `layers.{i}.attn.wq`, `.wk`, `.wv`, `.wo` | (D, D) | matrix |
//! | `layers.{i}.mlp.w_gate`, `.w_up` | (F, D) | matrix |
//! | `layers.{i}.mlp.w_down` | (D, F) | matrix |
//! | `output` | (V, D) | matrix |
//!
//! A matrix `M` of shape (rows, cols) computes `y = W x` (row `r` is output `r`) and is
//! stored in exactly one of these forms:
//!
//! - **dense**: `M`, dtype F32 or F16, shape (rows, cols).
//! - **Q8**: `M.q8`, dtype I8, shape (rows, cols); `M.scale`, F16, shape (rows, cols/32).
//!   `w[r][c] = scale[r][c/32] * q8[r][c]`, `q8` in −127..=127.
//! - **Q4**: `M.q4`, dtype U8, shape (rows, cols/2); `M.scale`, F16, (rows, cols/32).
//!   Byte `j` of row `r` holds column `2j` in its low nibble and `2j+1` in its high
//!   nibble; `w = scale * (nibble − 8)`, so codes are −8..=7.
//!
//! `cols` must be a multiple of [`BLOCK`] = 32 for the quantized forms (`crate::quant`
//! holds the layouts in memory). On the GPU the
//! same bytes are read as little-endian `u32` words (4 Q8 codes or 8 Q4 codes a word),
//! and scales are widened to f32 (see `shaders/weights_*.wgsl`).

use std::collections::{BTreeMap, HashMap};

use half::f16;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use thiserror::Error;

use crate::config::ModelConfig;

pub use crate::quant::{Matrix, WeightData, WeightFormat, BLOCK};
/// The format version this build reads and writes.
pub const FORMAT_VERSION: &str = "1";

/// Why a model file was refused. Every variant names the problem.
#[derive(Debug, Error)]
pub enum FormatError {
    #[error("not a readable safetensors file: {0}")]
    Safetensors(String),
    #[error("the file has no unmask header metadata (is it an unmask model?)")]
    MissingMetadata,
    #[error("unsupported model format version {found:?} (this build reads version {FORMAT_VERSION})")]
    Version { found: String },
    #[error("bad model config: {0}")]
    Config(String),
    #[error("tensor `{0}` is missing")]
    Missing(String),
    #[error("unexpected tensor `{0}` (not part of format version {FORMAT_VERSION})")]
    Extra(String),
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape { name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("tensor `{name}` has dtype {found}, expected {expected}")]
    Dtype { name: String, found: String, expected: String },
    #[error("tensor `{name}` holds a non-finite value")]
    NonFinite { name: String },
    #[error(
        "the tensor data does not match the header's digest (the file is damaged): sha256 {found}, expected {expected}"
    )]
    Digest { expected: String, found: String },
    #[error(
        "the header does not match its digest (the file is damaged or was edited): sha256 {found}, expected {expected}"
    )]
    HeaderDigest { expected: String, found: String },
    #[error("unknown header metadata key {0:?} (format version {FORMAT_VERSION} has format, format_version, config, data_sha256, header_sha256 and vocab_sha256)")]
    UnknownMetadata(String),
    #[error("the header's vocab_sha256 is not a SHA-256 digest (64 lowercase hex digits): {0:?}")]
    VocabDigest(String),
}

/// The safetensors crate's error, with the tensor it concerns named where the crate
/// does not (sizes that disagree with a shape, data cut short): the header is parsed
/// again as plain JSON to find it. The crate has already bounded the header's length.
fn explain(bytes: &[u8], e: safetensors::SafeTensorError) -> FormatError {
    let plain = FormatError::Safetensors(e.to_string());
    let Some(n) = bytes.get(..8).and_then(|b| usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok()) else {
        return plain;
    };
    let Some(header) = n.checked_add(8).and_then(|end| bytes.get(8..end)) else { return plain };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(header) else { return plain };
    let available = (bytes.len() - 8 - n) as u64;
    let mut tensors: Vec<(&String, &serde_json::Value)> = map.iter().filter(|(k, _)| *k != "__metadata__").collect();
    tensors.sort_by_key(|(_, v)| v["data_offsets"][0].as_u64().unwrap_or(u64::MAX));
    for (name, t) in tensors {
        let dtype = t["dtype"].as_str().unwrap_or("?");
        // The crate's own names and sizes; sub-byte dtypes are left to its message.
        let width = serde_json::from_value::<Dtype>(t["dtype"].clone())
            .ok()
            .filter(|d| d.bitsize() % 8 == 0)
            .map(|d| (d.bitsize() / 8) as u64);
        let shape: Vec<u64> =
            t["shape"].as_array().map(|a| a.iter().filter_map(|d| d.as_u64()).collect()).unwrap_or_default();
        let (start, end) = (t["data_offsets"][0].as_u64().unwrap_or(0), t["data_offsets"][1].as_u64().unwrap_or(0));
        let need = shape.iter().try_fold(width.unwrap_or(1), |a, &d| a.checked_mul(d));
        let what = match need {
            None => Some(format!("shape {shape:?} of {dtype} overflows")),
            Some(b) if width.is_some() && end.checked_sub(start) != Some(b) => Some(format!(
                "shape {shape:?} of {dtype} needs {b} bytes, its offsets {start}..{end} hold {}",
                end.saturating_sub(start)
            )),
            _ if end > available => Some(format!(
                "its data ends at byte {end} of the data section, which holds {available} (a truncated file?)"
            )),
            _ => None,
        };
        if let Some(what) = what {
            return FormatError::Safetensors(format!("{e}: tensor `{name}`: {what}"));
        }
    }
    plain
}

/// Header metadata key of the data section's digest.
pub const DIGEST_KEY: &str = "data_sha256";

/// Header metadata key of the header's own digest: everything in the header (the
/// tensor table and the metadata, the config included) but this entry.
pub const HEADER_DIGEST_KEY: &str = "header_sha256";

/// Header metadata key of the digest of the vocabulary the model was trained with
/// ([`crate::PoemTokenizer::vocab_digest`]), so that a tokenizer that disagrees with
/// the model is refused ([`crate::engine::check_pair`]). Optional: a file exported
/// without a tokenizer (tests, the fuzz seeds) has none.
pub const VOCAB_DIGEST_KEY: &str = "vocab_sha256";

/// The metadata keys of format version 1; any other is refused.
const METADATA_KEYS: [&str; 6] =
    ["format", "format_version", "config", DIGEST_KEY, HEADER_DIGEST_KEY, VOCAB_DIGEST_KEY];

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (lowercase hex) of a file's header in canonical form (keys sorted at
/// every level, compact JSON) without its `header_sha256` entry; None if the file
/// has no readable header.
fn header_digest(file: &[u8]) -> Option<String> {
    let n = usize::try_from(u64::from_le_bytes(file.get(..8)?.try_into().ok()?)).ok()?;
    let mut header: serde_json::Value = serde_json::from_slice(file.get(8..n.checked_add(8)?)?).ok()?;
    if let Some(serde_json::Value::Object(meta)) = header.get_mut("__metadata__") {
        meta.remove(HEADER_DIGEST_KEY);
    }
    Some(sha256_hex(&serde_json::to_vec(&sorted(header)).ok()?))
}

/// SHA-256 (lowercase hex) of a safetensors file's data section; None if the file is
/// too short to hold its own header.
fn data_digest(bytes: &[u8]) -> Option<String> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let start = usize::try_from(n).ok()?.checked_add(8)?;
    Some(sha256_hex(bytes.get(start..)?))
}

/// `file` with its header's digest (`header_sha256`) written for the header as it
/// is: what an export does last, and what a tool that edits a header must do after.
pub fn sign_header(file: &[u8]) -> Option<Vec<u8>> {
    let digest = header_digest(file)?;
    rewrite_metadata(file, |m| {
        m.insert(HEADER_DIGEST_KEY.to_string(), digest);
    })
}

/// `file` with its header's metadata edited by `edit` and the header written in one
/// canonical form: keys sorted, padded with spaces to 8 bytes as safetensors pads.
/// The data section is untouched. `None` if `file` has no readable header.
pub fn rewrite_metadata(file: &[u8], edit: impl FnOnce(&mut BTreeMap<String, String>)) -> Option<Vec<u8>> {
    let n = usize::try_from(u64::from_le_bytes(file.get(..8)?.try_into().ok()?)).ok()?;
    let header_end = n.checked_add(8)?;
    let mut header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(file.get(8..header_end)?).ok()?;
    let mut meta: BTreeMap<String, String> = match header.remove("__metadata__") {
        Some(m) => serde_json::from_value(m).ok()?,
        None => BTreeMap::new(),
    };
    edit(&mut meta);
    header.insert("__metadata__".into(), serde_json::to_value(meta).ok()?);
    // serde_json writes nested objects in their own order: make every level a BTreeMap.
    let canonical: BTreeMap<String, serde_json::Value> =
        header.into_iter().map(|(k, v)| (k, serde_json::to_value(sorted(v)).unwrap_or_default())).collect();
    let mut h = serde_json::to_vec(&canonical).ok()?;
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend_from_slice(file.get(header_end..)?);
    Some(out)
}

fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let b: BTreeMap<String, serde_json::Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            serde_json::to_value(b).unwrap_or_default()
        }
        v => v,
    }
}

/// One Transformer block's weights.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerWeights {
    pub attn_norm: Vec<f32>, // (D)
    pub wq: Matrix,          // (D, D)
    pub wk: Matrix,          // (D, D)
    pub wv: Matrix,          // (D, D)
    pub wo: Matrix,          // (D, D)
    pub mlp_norm: Vec<f32>,  // (D)
    pub w_gate: Matrix,      // (F, D)
    pub w_up: Matrix,        // (F, D)
    pub w_down: Matrix,      // (D, F)
}

/// A whole model as loaded from (or about to be written to) a file.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelWeights {
    pub config: ModelConfig,
    pub tok_embeddings: Matrix, // (V, D)
    pub layers: Vec<LayerWeights>,
    pub norm: Vec<f32>, // (D)
    pub output: Matrix, // (V, D)
    /// The digest of the vocabulary it was trained with ([`VOCAB_DIGEST_KEY`]).
    pub vocab_sha256: Option<String>,
}

/// How to store each kind of tensor when exporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportFormat {
    /// The attention and MLP matrices.
    pub blocks: WeightFormat,
    /// Token embedding and output head.
    pub embeddings: WeightFormat,
}

/// One tensor of a model: its name in the file and its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    /// Rows of a matrix, or the length of a vector.
    pub rows: usize,
    /// Columns of a matrix (inputs), 0 for a vector.
    pub cols: usize,
    pub matrix: bool,
}

impl TensorSpec {
    fn matrix(name: String, rows: usize, cols: usize) -> Self {
        TensorSpec { name, rows, cols, matrix: true }
    }
    fn vector(name: String, len: usize) -> Self {
        TensorSpec { name, rows: len, cols: 0, matrix: false }
    }
    /// Number of values.
    pub fn len(&self) -> usize {
        if self.matrix {
            self.rows * self.cols
        } else {
            self.rows
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every tensor of a model with this config, in file order.
pub fn tensor_plan(c: &ModelConfig) -> Vec<TensorSpec> {
    let (v, d, f) = (c.vocab_size, c.d_model, c.d_ff);
    let mut plan = vec![TensorSpec::matrix("tok_embeddings".to_string(), v, d)];
    for i in 0..c.n_layers {
        let p = format!("layers.{i}");
        plan.push(TensorSpec::vector(format!("{p}.attn_norm"), d));
        for w in ["wq", "wk", "wv", "wo"] {
            plan.push(TensorSpec::matrix(format!("{p}.attn.{w}"), d, d));
        }
        plan.push(TensorSpec::vector(format!("{p}.mlp_norm"), d));
        plan.push(TensorSpec::matrix(format!("{p}.mlp.w_gate"), f, d));
        plan.push(TensorSpec::matrix(format!("{p}.mlp.w_up"), f, d));
        plan.push(TensorSpec::matrix(format!("{p}.mlp.w_down"), d, f));
    }
    plan.push(TensorSpec::vector("norm".to_string(), d));
    plan.push(TensorSpec::matrix("output".to_string(), v, d));
    plan
}

impl ModelWeights {
    /// Builds a model from named row-major f32 tensors (names from [`tensor_plan`]),
    /// quantizing as asked. Used by the trainer's exporter and by tests.
    pub fn from_f32(
        config: ModelConfig,
        tensors: &HashMap<String, Vec<f32>>,
        format: ExportFormat,
    ) -> Result<ModelWeights, FormatError> {
        config.validate().map_err(FormatError::Config)?;
        let get = |name: &str, len: usize| -> Result<&Vec<f32>, FormatError> {
            let t = tensors.get(name).ok_or_else(|| FormatError::Missing(name.to_string()))?;
            if t.len() != len {
                return Err(FormatError::Shape { name: name.into(), found: vec![t.len()], expected: vec![len] });
            }
            if t.iter().any(|v| !v.is_finite()) {
                return Err(FormatError::NonFinite { name: name.into() });
            }
            Ok(t)
        };
        let mut mats: HashMap<String, Matrix> = HashMap::new();
        let mut vecs: HashMap<String, Vec<f32>> = HashMap::new();
        for TensorSpec { name, rows, cols, matrix: is_matrix } in tensor_plan(&config) {
            if is_matrix {
                let fmt = if name == "tok_embeddings" || name == "output" { format.embeddings } else { format.blocks };
                mats.insert(name.clone(), Matrix::from_f32(get(&name, rows * cols)?, rows, cols, fmt));
            } else {
                vecs.insert(name.clone(), get(&name, rows)?.clone());
            }
        }
        Ok(Self::assemble(config, mats, vecs))
    }

    fn assemble(config: ModelConfig, mut mats: HashMap<String, Matrix>, mut vecs: HashMap<String, Vec<f32>>) -> Self {
        let mut m = |n: String| mats.remove(&n).expect("planned matrix");
        let mut layers = Vec::with_capacity(config.n_layers);
        for i in 0..config.n_layers {
            let p = format!("layers.{i}");
            layers.push(LayerWeights {
                attn_norm: vecs.remove(&format!("{p}.attn_norm")).expect("planned vector"),
                wq: m(format!("{p}.attn.wq")),
                wk: m(format!("{p}.attn.wk")),
                wv: m(format!("{p}.attn.wv")),
                wo: m(format!("{p}.attn.wo")),
                mlp_norm: vecs.remove(&format!("{p}.mlp_norm")).expect("planned vector"),
                w_gate: m(format!("{p}.mlp.w_gate")),
                w_up: m(format!("{p}.mlp.w_up")),
                w_down: m(format!("{p}.mlp.w_down")),
            });
        }
        ModelWeights {
            tok_embeddings: m("tok_embeddings".into()),
            output: m("output".into()),
            norm: vecs.remove("norm").expect("planned vector"),
            layers,
            config,
            vocab_sha256: None,
        }
    }

    /// A randomly initialised model (seeded), for tests and benches before training.
    pub fn random(config: ModelConfig, format: ExportFormat, seed: u64) -> ModelWeights {
        let mut rng = crate::rng::SplitMix64::new(seed);
        let mut tensors = HashMap::new();
        for TensorSpec { name, rows, cols, matrix: is_matrix } in tensor_plan(&config) {
            let values: Vec<f32> = if is_matrix {
                let std = 1.0 / (cols as f32).sqrt();
                (0..rows * cols).map(|_| rng.normal() * std).collect()
            } else {
                (0..rows).map(|_| 1.0 + 0.1 * rng.normal()).collect()
            };
            tensors.insert(name, values);
        }
        Self::from_f32(config, &tensors, format).expect("random weights follow the plan")
    }

    /// Parses and validates a model file. Never panics on bad bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelWeights, FormatError> {
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| explain(bytes, e))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| explain(bytes, e))?;
        let info = meta.metadata().as_ref().ok_or(FormatError::MissingMetadata)?;
        if info.get("format").map(String::as_str) != Some("unmask") {
            return Err(FormatError::MissingMetadata);
        }
        match info.get("format_version") {
            Some(v) if v == FORMAT_VERSION => {}
            other => return Err(FormatError::Version { found: other.cloned().unwrap_or_else(|| "none".into()) }),
        }
        if let Some(k) = info.keys().find(|k| !METADATA_KEYS.contains(&k.as_str())) {
            return Err(FormatError::UnknownMetadata(k.clone()));
        }
        // Before the config is read: a header edited or damaged is refused as such.
        if let Some(expected) = info.get(HEADER_DIGEST_KEY) {
            let found = header_digest(bytes).unwrap_or_default();
            if &found != expected {
                return Err(FormatError::HeaderDigest { expected: expected.clone(), found });
            }
        }
        let config: ModelConfig = serde_json::from_str(info.get("config").ok_or(FormatError::MissingMetadata)?)
            .map_err(|e| FormatError::Config(e.to_string()))?;
        config.validate().map_err(FormatError::Config)?;
        let vocab_sha256 = match info.get(VOCAB_DIGEST_KEY) {
            Some(d) if d.len() == 64 && d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => {
                Some(d.clone())
            }
            Some(d) => return Err(FormatError::VocabDigest(d.chars().take(80).collect())),
            None => None,
        };

        let mut seen: Vec<String> = Vec::new();
        let mut mats = HashMap::new();
        let mut vecs = HashMap::new();
        for TensorSpec { name, rows, cols, matrix: is_matrix } in tensor_plan(&config) {
            if is_matrix {
                let (mat, used) = read_matrix(&st, &name, rows, cols)?;
                seen.extend(used);
                mats.insert(name, mat);
            } else {
                let t = st.tensor(&name).map_err(|_| FormatError::Missing(name.clone()))?;
                check(&name, &t, &[Dtype::F32], &[rows])?;
                let v: Vec<f32> =
                    t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                finite(&name, &v)?;
                seen.push(name.clone());
                vecs.insert(name, v);
            }
        }
        if let Some(extra) = st.names().into_iter().find(|n| !seen.iter().any(|s| s == *n)) {
            return Err(FormatError::Extra(extra.to_string()));
        }
        // Last: a tensor that is missing or misshapen is named above, which says more.
        if let Some(expected) = info.get(DIGEST_KEY) {
            let found = data_digest(bytes).unwrap_or_default();
            if &found != expected {
                return Err(FormatError::Digest { expected: expected.clone(), found });
            }
        }
        Ok(ModelWeights { vocab_sha256, ..Self::assemble(config, mats, vecs) })
    }

    /// Serializes to the file format described in the module docs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut push_matrix = |name: &str, m: &Matrix| {
            let nb = m.cols / BLOCK;
            let scales = |s: &[f32]| -> Vec<u8> { s.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect() };
            match &m.data {
                WeightData::Dense { values, f16: false } => {
                    owned.push((name.into(), Dtype::F32, vec![m.rows, m.cols], bytemuck::cast_slice(values).to_vec()))
                }
                WeightData::Dense { values, f16: true } => owned.push((
                    name.into(),
                    Dtype::F16,
                    vec![m.rows, m.cols],
                    values.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect(),
                )),
                WeightData::Q8 { codes, scales: s } => {
                    owned.push((
                        format!("{name}.q8"),
                        Dtype::I8,
                        vec![m.rows, m.cols],
                        bytemuck::cast_slice(codes).to_vec(),
                    ));
                    owned.push((format!("{name}.scale"), Dtype::F16, vec![m.rows, nb], scales(s)));
                }
                WeightData::Q4 { packed, scales: s } => {
                    owned.push((format!("{name}.q4"), Dtype::U8, vec![m.rows, m.cols / 2], packed.clone()));
                    owned.push((format!("{name}.scale"), Dtype::F16, vec![m.rows, nb], scales(s)));
                }
            }
        };
        push_matrix("tok_embeddings", &self.tok_embeddings);
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("layers.{i}");
            for (n, m) in [("attn.wq", &l.wq), ("attn.wk", &l.wk), ("attn.wv", &l.wv), ("attn.wo", &l.wo)] {
                push_matrix(&format!("{p}.{n}"), m);
            }
            for (n, m) in [("mlp.w_gate", &l.w_gate), ("mlp.w_up", &l.w_up), ("mlp.w_down", &l.w_down)] {
                push_matrix(&format!("{p}.{n}"), m);
            }
        }
        push_matrix("output", &self.output);
        let mut vectors = vec![("norm".to_string(), &self.norm)];
        for (i, l) in self.layers.iter().enumerate() {
            vectors.push((format!("layers.{i}.attn_norm"), &l.attn_norm));
            vectors.push((format!("layers.{i}.mlp_norm"), &l.mlp_norm));
        }
        for (name, v) in vectors {
            owned.push((name, Dtype::F32, vec![v.len()], bytemuck::cast_slice(v).to_vec()));
        }
        let views: Vec<(String, TensorView)> = owned
            .iter()
            .map(|(n, dt, shape, data)| {
                (n.clone(), TensorView::new(*dt, shape.clone(), data).expect("consistent view"))
            })
            .collect();
        let mut meta = HashMap::from([
            ("format".to_string(), "unmask".to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("config".to_string(), serde_json::to_string(&self.config).expect("config serializes")),
        ]);
        if let Some(d) = &self.vocab_sha256 {
            meta.insert(VOCAB_DIGEST_KEY.to_string(), d.clone());
        }
        // The data section does not depend on the metadata: serialize, hash the data,
        // and write the digest into a header in canonical form (a HashMap's order
        // would make every export of the same model a different file).
        let plain = safetensors::serialize(views, Some(meta)).expect("in-memory serialization");
        let digest = data_digest(&plain).expect("a serialized file has a header");
        let signed = rewrite_metadata(&plain, |m| {
            m.insert(DIGEST_KEY.to_string(), digest);
        })
        .expect("a serialized file has a header");
        sign_header(&signed).expect("a serialized file has a header")
    }

    /// Every tensor dequantized to row-major f32, named as in [`tensor_plan`]: the
    /// inverse of [`Self::from_f32`] (a trainer can start from a shipped file).
    pub fn to_f32_tensors(&self) -> HashMap<String, Vec<f32>> {
        let mut out = HashMap::new();
        out.insert("tok_embeddings".to_string(), self.tok_embeddings.dequantize());
        out.insert("output".to_string(), self.output.dequantize());
        out.insert("norm".to_string(), self.norm.clone());
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("layers.{i}");
            out.insert(format!("{p}.attn_norm"), l.attn_norm.clone());
            out.insert(format!("{p}.mlp_norm"), l.mlp_norm.clone());
            for (n, m) in [("attn.wq", &l.wq), ("attn.wk", &l.wk), ("attn.wv", &l.wv), ("attn.wo", &l.wo)] {
                out.insert(format!("{p}.{n}"), m.dequantize());
            }
            for (n, m) in [("mlp.w_gate", &l.w_gate), ("mlp.w_up", &l.w_up), ("mlp.w_down", &l.w_down)] {
                out.insert(format!("{p}.{n}"), m.dequantize());
            }
        }
        out
    }

    /// Total parameter count.
    pub fn param_count(&self) -> usize {
        tensor_plan(&self.config).iter().map(TensorSpec::len).sum()
    }
}

fn check(name: &str, t: &TensorView, dtypes: &[Dtype], shape: &[usize]) -> Result<(), FormatError> {
    if !dtypes.contains(&t.dtype()) {
        return Err(FormatError::Dtype {
            name: name.into(),
            found: format!("{:?}", t.dtype()),
            expected: dtypes.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(" or "),
        });
    }
    if t.shape() != shape {
        return Err(FormatError::Shape { name: name.into(), found: t.shape().to_vec(), expected: shape.to_vec() });
    }
    Ok(())
}

fn finite(name: &str, v: &[f32]) -> Result<(), FormatError> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(FormatError::NonFinite { name: name.into() })
    }
}

fn f16_values(t: &TensorView) -> Vec<f32> {
    t.data().chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
}

/// Reads matrix `name` in whichever stored form is present; returns the tensor names used.
fn read_matrix(st: &SafeTensors, name: &str, rows: usize, cols: usize) -> Result<(Matrix, Vec<String>), FormatError> {
    let scale_name = format!("{name}.scale");
    let read_scales = || -> Result<Vec<f32>, FormatError> {
        if !cols.is_multiple_of(BLOCK) {
            return Err(FormatError::Config(format!("`{name}` has {cols} columns, not a multiple of {BLOCK}")));
        }
        let t = st.tensor(&scale_name).map_err(|_| FormatError::Missing(scale_name.clone()))?;
        check(&scale_name, &t, &[Dtype::F16], &[rows, cols / BLOCK])?;
        let s = f16_values(&t);
        finite(&scale_name, &s)?;
        Ok(s)
    };
    if let Ok(t) = st.tensor(name) {
        check(name, &t, &[Dtype::F32, Dtype::F16], &[rows, cols])?;
        let (values, is_f16) = if t.dtype() == Dtype::F16 {
            (f16_values(&t), true)
        } else {
            (t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(), false)
        };
        finite(name, &values)?;
        return Ok((Matrix { rows, cols, data: WeightData::Dense { values, f16: is_f16 } }, vec![name.into()]));
    }
    let q8 = format!("{name}.q8");
    if let Ok(t) = st.tensor(&q8) {
        check(&q8, &t, &[Dtype::I8], &[rows, cols])?;
        let codes: Vec<i8> = bytemuck::cast_slice(t.data()).to_vec();
        let scales = read_scales()?;
        return Ok((Matrix { rows, cols, data: WeightData::Q8 { codes, scales } }, vec![q8, scale_name]));
    }
    let q4 = format!("{name}.q4");
    if let Ok(t) = st.tensor(&q4) {
        check(&q4, &t, &[Dtype::U8], &[rows, cols / 2])?;
        let packed = t.data().to_vec();
        let scales = read_scales()?;
        return Ok((Matrix { rows, cols, data: WeightData::Q4 { packed, scales } }, vec![q4, scale_name]));
    }
    Err(FormatError::Missing(name.into()))
}
