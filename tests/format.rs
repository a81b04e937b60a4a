//! The model file: round trips, and refusal (never a panic) of damaged files.

mod common;

use std::collections::HashMap;

use common::*;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use unmask::format::tensor_plan;
use unmask::{ExportFormat, FormatError, Matrix, ModelWeights, WeightFormat};

fn bytes() -> Vec<u8> {
    tiny_model(WeightFormat::Q4, 1).to_bytes()
}

#[test]
fn every_export_format_round_trips() {
    for blocks in [WeightFormat::F32, WeightFormat::F16, WeightFormat::Q8, WeightFormat::Q4] {
        for embeddings in [WeightFormat::F16, WeightFormat::Q8] {
            let w = ModelWeights::random(tiny_config(false), ExportFormat { blocks, embeddings }, 2);
            assert_eq!(ModelWeights::from_bytes(&w.to_bytes()).unwrap(), w, "{blocks:?}/{embeddings:?}");
        }
    }
}

/// Dequantizing a file and quantizing it again in the same format gives the same file
/// (how the trainer starts from a shipped model).
#[test]
fn dequantized_tensors_requantize_to_the_same_model() {
    for blocks in [WeightFormat::F32, WeightFormat::Q8, WeightFormat::Q4] {
        let format = ExportFormat { blocks, embeddings: WeightFormat::Q8 };
        let w = ModelWeights::random(tiny_config(true), format, 3);
        let again = ModelWeights::from_f32(w.config.clone(), &w.to_f32_tensors(), format).unwrap();
        assert_eq!(again, w, "{blocks:?}");
    }
}

#[test]
fn truncated_files_are_refused_at_every_offset() {
    let b = bytes();
    let step = (b.len() / 300).max(1);
    for cut in (0..b.len()).step_by(step).chain([b.len() - 1, 7, 8, 9]) {
        match ModelWeights::from_bytes(&b[..cut]) {
            Err(_) => {}
            Ok(_) => panic!("a file truncated to {cut} of {} bytes loaded", b.len()),
        }
    }
}

#[test]
fn corrupted_headers_are_refused() {
    let good = bytes();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    for i in (8..8 + n).step_by(7) {
        let mut b = good.clone();
        b[i] ^= 0x5a;
        // Either refused, or (for a byte inside a string that stays valid) loaded
        // consistently — never a panic.
        let _ = ModelWeights::from_bytes(&b);
    }
    let mut b = good.clone();
    b[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(ModelWeights::from_bytes(&b).is_err(), "huge header length accepted");
    assert!(ModelWeights::from_bytes(b"not a model").is_err());
}

/// Rewrites a model file with one tensor changed, removed or added.
fn rewrite(
    edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>),
    meta: Option<HashMap<String, String>>,
) -> Vec<u8> {
    let good = bytes();
    let st = safetensors::SafeTensors::deserialize(&good).unwrap();
    let (_, m) = safetensors::SafeTensors::read_metadata(&good).unwrap();
    let mut ts: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut ts);
    let views: Vec<(String, TensorView)> =
        ts.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    let meta = meta.or(m.metadata().clone());
    let signed = meta.as_ref().is_some_and(|m| m.contains_key(unmask::format::HEADER_DIGEST_KEY));
    let file = safetensors::serialize(views, meta).unwrap();
    // The header changed: signed again, so the checks after the header's digest are reached.
    if signed {
        unmask::format::sign_header(&file).unwrap()
    } else {
        file
    }
}

#[test]
fn missing_extra_misshapen_and_mistyped_tensors_are_named() {
    let r = ModelWeights::from_bytes(&rewrite(|t| t.retain(|x| x.0 != "layers.1.attn.wk.q4"), None));
    assert!(matches!(&r, Err(FormatError::Missing(n)) if n == "layers.1.attn.wk"), "{r:?}");
    let r = ModelWeights::from_bytes(&rewrite(|t| t.push(("bonus".into(), Dtype::F32, vec![1], vec![0; 4])), None));
    assert!(matches!(&r, Err(FormatError::Extra(n)) if n == "bonus"), "{r:?}");
    let r = ModelWeights::from_bytes(&rewrite(
        |t| {
            let x = t.iter_mut().find(|x| x.0 == "norm").unwrap();
            x.2 = vec![x.2[0] / 2];
            x.3.truncate(x.3.len() / 2);
        },
        None,
    ));
    assert!(matches!(&r, Err(FormatError::Shape { name, .. }) if name == "norm"), "{r:?}");
    let r = ModelWeights::from_bytes(&rewrite(
        |t| {
            let x = t.iter_mut().find(|x| x.0 == "layers.0.mlp.w_up.scale").unwrap();
            x.1 = Dtype::I16;
        },
        None,
    ));
    assert!(matches!(&r, Err(FormatError::Dtype { name, .. }) if name == "layers.0.mlp.w_up.scale"), "{r:?}");
    let r = ModelWeights::from_bytes(&rewrite(
        |t| {
            let x = t.iter_mut().find(|x| x.0 == "norm").unwrap();
            x.3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        },
        None,
    ));
    assert!(matches!(&r, Err(FormatError::NonFinite { .. })), "{r:?}");
}

#[test]
fn unknown_versions_and_foreign_files_are_refused() {
    let cfg = serde_json::to_string(&tiny_config(false)).unwrap();
    let meta = |v: &str| {
        Some(HashMap::from([
            ("format".into(), "unmask".into()),
            ("format_version".into(), v.into()),
            ("config".into(), cfg.clone()),
        ]))
    };
    let r = ModelWeights::from_bytes(&rewrite(|_| {}, meta("99")));
    assert!(matches!(&r, Err(FormatError::Version { found }) if found == "99"), "{r:?}");
    let r = ModelWeights::from_bytes(&rewrite(|_| {}, Some(HashMap::from([("format".into(), "pt".into())]))));
    assert!(matches!(r, Err(FormatError::MissingMetadata)), "{r:?}");
    let mut bad = tiny_config(false);
    bad.d_model = 100;
    let meta_bad = Some(HashMap::from([
        ("format".into(), "unmask".into()),
        ("format_version".into(), "1".into()),
        ("config".into(), serde_json::to_string(&bad).unwrap()),
    ]));
    assert!(matches!(ModelWeights::from_bytes(&rewrite(|_| {}, meta_bad)), Err(FormatError::Config(_))));
}

#[test]
fn plan_counts_parameters() {
    let c = tiny_config(false);
    let w = tiny_model(WeightFormat::Q8, 1);
    let expect = 2 * c.vocab_size * c.d_model
        + c.d_model
        + c.n_layers * (4 * c.d_model * c.d_model + 3 * c.d_model * c.d_ff + 2 * c.d_model);
    assert_eq!(w.param_count(), expect);
    assert_eq!(tensor_plan(&c).len(), 3 + 9 * c.n_layers);
}

/// Header claims that are absurd or break the kernels are refused by `validate`
/// before anything is built from them: huge sizes (the tensor list of 10⁹ layers
/// used to exhaust memory), a zero MLP width (used to panic in the loader), and
/// infinite constants (used to compute NaN, and to save as `null`).
#[test]
fn absurd_header_claims_are_refused_before_allocating() {
    type HeaderEdit = fn(&mut serde_json::Value);
    let with = |f: HeaderEdit| {
        let mut v = serde_json::to_value(tiny_config(false)).unwrap();
        f(&mut v);
        let meta = Some(HashMap::from([
            ("format".into(), "unmask".into()),
            ("format_version".into(), "1".into()),
            ("config".into(), v.to_string()),
        ]));
        ModelWeights::from_bytes(&rewrite(|_| {}, meta))
    };
    let cases: [(&str, HeaderEdit); 6] = [
        ("n_layers", |v| v["n_layers"] = 1_000_000_000u64.into()),
        ("n_layers", |v| v["n_layers"] = u64::MAX.into()),
        ("vocab_size", |v| v["vocab_size"] = (1u64 << 40).into()),
        ("d_ff", |v| v["d_ff"] = 0.into()),
        ("rope_theta", |v| v["rope_theta"] = 1e39.into()),
        ("norm_eps", |v| v["norm_eps"] = serde_json::Value::Null),
    ];
    for (what, f) in cases {
        let r = with(f);
        assert!(matches!(&r, Err(FormatError::Config(_))), "{what}: {r:?}");
    }
    let mut c = tiny_config(false);
    c.rope_theta = f32::INFINITY;
    assert!(c.validate().is_err());
    c.rope_theta = 10_000.0;
    c.norm_eps = f32::INFINITY;
    assert!(c.validate().is_err());
}

/// Exporting is deterministic: the same model is the same file, byte for byte, and a
/// loaded file writes back unchanged (the header's metadata used to follow a
/// HashMap's random order; found by the loader fuzz target).
#[test]
fn the_same_model_is_the_same_file() {
    for fmt in [WeightFormat::Q8, WeightFormat::Q4, WeightFormat::F32, WeightFormat::F16] {
        let w = tiny_model(fmt, 5);
        let bytes = w.to_bytes();
        for _ in 0..8 {
            assert!(w.to_bytes() == bytes, "{fmt:?}: two exports of one model differ");
        }
        let again = ModelWeights::from_bytes(&bytes).unwrap();
        assert!(again.to_bytes() == bytes, "{fmt:?}: a loaded file writes back differently");
    }
}

/// The header carries a digest of the tensor data: any flipped byte in the weights is
/// an error, not a silently different model; a file written before the digest loads.
#[test]
fn a_flipped_weight_byte_breaks_the_digest() {
    let good = bytes();
    let (_, m) = safetensors::SafeTensors::read_metadata(&good).unwrap();
    let digest = m.metadata().as_ref().unwrap()[unmask::format::DIGEST_KEY].clone();
    assert_eq!(digest.len(), 64);
    let start = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let step = ((good.len() - start) / 50).max(1);
    for i in (start..good.len()).step_by(step) {
        let mut b = good.clone();
        // A change that keeps every value finite and every code valid: only the digest sees it.
        b[i] ^= 0x01;
        match ModelWeights::from_bytes(&b) {
            Err(FormatError::Digest { expected, found }) => assert!(expected == digest && found != digest),
            Err(FormatError::NonFinite { .. }) => {}
            other => panic!("byte {i} flipped: {other:?}"),
        }
    }
    let mut meta = m.metadata().clone().unwrap();
    meta.remove(unmask::format::DIGEST_KEY);
    meta.remove(unmask::format::HEADER_DIGEST_KEY);
    let legacy = rewrite(|_| {}, Some(meta));
    assert_eq!(ModelWeights::from_bytes(&legacy).unwrap(), ModelWeights::from_bytes(&good).unwrap());
}

/// Errors the safetensors crate reports without a name (a size that disagrees with the
/// shape, data cut short) name the tensor.
#[test]
fn safetensors_level_errors_name_the_tensor() {
    let good = bytes();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&good[8..8 + n]).unwrap().to_string();
    // Same length, different shape: "norm" claims one more element than its offsets hold.
    let d = tiny_config(false).d_model;
    let (from, to) = (format!("\"shape\":[{d}]"), format!("\"shape\":[{}]", d + 1));
    let at = header.find("\"norm\"").unwrap();
    let idx = at + header[at..].find(&from).unwrap();
    let mut edited = header.clone();
    edited.replace_range(idx..idx + from.len(), &to);
    // Keep the header length: trim trailing padding spaces, or pad.
    let edited = if edited.len() > n { edited.trim_end().to_string() } else { edited };
    let edited = format!("{edited:<n$}");
    assert_eq!(edited.len(), n, "header length kept");
    let mut b = good.clone();
    b[8..8 + n].copy_from_slice(edited.as_bytes());
    let r = ModelWeights::from_bytes(&b);
    assert!(matches!(&r, Err(FormatError::Safetensors(m)) if m.contains("tensor `norm`")), "{r:?}");
    // Truncated inside the data: the tensor that runs past the end is named.
    let r = ModelWeights::from_bytes(&good[..good.len() - 3]);
    assert!(
        matches!(&r, Err(FormatError::Safetensors(m)) if m.contains("tensor `") && m.contains("truncated")),
        "{r:?}"
    );
}

/// The GPU word count the engine checks limits with matches the words it uploads.
#[test]
fn gpu_word_count_matches_the_words() {
    for fmt in [WeightFormat::F32, WeightFormat::F16, WeightFormat::Q8, WeightFormat::Q4] {
        let m = Matrix::from_f32(&vec![0.5; 3 * 64], 3, 64, fmt);
        assert_eq!(m.gpu_word_count(), m.gpu_words().len(), "{fmt:?}");
    }
}

/// The header carries its own digest: any flipped byte in the tensor table or the
/// metadata (the config included) is refused, never a different model. A flip in
/// `shifted` (`shifteD`) used to load with `shifted` defaulted to false and write
/// garbage.
#[test]
fn a_flipped_header_byte_is_refused() {
    let good = bytes();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let model = ModelWeights::from_bytes(&good).unwrap();
    let mut refused = 0;
    for i in 8..8 + n {
        for bit in [0x01u8, 0x20] {
            let mut b = good.clone();
            b[i] ^= bit;
            match ModelWeights::from_bytes(&b) {
                Err(_) => refused += 1,
                // Only a change the header's meaning does not see (padding turned to
                // another blank, say) may load, and then it is the same model.
                Ok(w) => assert_eq!(w, model, "byte {i} ^ {bit:#x} loads as another model"),
            }
        }
    }
    assert!(refused > 2 * n * 9 / 10, "{refused} of {} flips refused", 2 * n);
    // The reproducer: `shifted` → `shifteD`.
    let header = std::str::from_utf8(&good[8..8 + n]).unwrap();
    let at = 8 + header.find("shifted").unwrap() + 6;
    let mut b = good.clone();
    b[at] = b'D';
    assert!(matches!(ModelWeights::from_bytes(&b), Err(FormatError::HeaderDigest { .. })));
}

/// Without the header's digest (a file written before it), an unknown config
/// field and an unknown metadata key are refused, and every constant is bounded,
/// each named in its message.
#[test]
fn unknown_header_fields_and_constants_out_of_range_are_refused() {
    let good = bytes();
    let (_, m) = safetensors::SafeTensors::read_metadata(&good).unwrap();
    let legacy_meta = |edit: &dyn Fn(&mut HashMap<String, String>)| {
        let mut meta = m.metadata().clone().unwrap();
        meta.remove(unmask::format::HEADER_DIGEST_KEY);
        edit(&mut meta);
        ModelWeights::from_bytes(&rewrite(|_| {}, Some(meta)))
    };
    let config = |f: &dyn Fn(&mut serde_json::Value)| {
        legacy_meta(&|meta| {
            let mut v: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
            f(&mut v);
            meta.insert("config".into(), v.to_string());
        })
    };
    assert!(legacy_meta(&|_| {}).is_ok(), "a file without the header digest loads");
    let shifted_typo = config(&|v| {
        let s = v.as_object_mut().unwrap().remove("shifted").unwrap();
        v["shifteD"] = s;
    });
    match shifted_typo {
        Err(FormatError::Config(why)) => assert!(why.contains("shifteD"), "{why}"),
        other => panic!("{other:?}"),
    }
    for (field, value, named) in [
        ("norm_eps", 3e38, "norm_eps"),
        ("norm_eps", 0.0, "norm_eps"),
        ("rope_theta", 0.5, "rope_theta"),
        ("rope_theta", 3e38, "rope_theta"),
    ] {
        match config(&|v| v[field] = value.into()) {
            Err(FormatError::Config(why)) => {
                assert!(why.contains(named), "{field} = {value}: {why}");
                let other = if named == "norm_eps" { "rope_theta" } else { "norm_eps" };
                assert!(!why.contains(other), "{field} = {value} blamed on {other}: {why}");
            }
            other => panic!("{field} = {value}: {other:?}"),
        }
    }
    match legacy_meta(&|meta| {
        meta.insert("formaT".into(), "x".into());
    }) {
        Err(FormatError::UnknownMetadata(k)) => assert_eq!(k, "formaT"),
        other => panic!("{other:?}"),
    }
}
