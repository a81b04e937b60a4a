//! Every shader as the engine assembles it, parsed and validated by naga (the WGSL
//! front end wgpu uses) — no GPU needed, so this runs with UNMASK_SKIP_GPU=1 too —
//! and the structs Rust writes into uniform and storage buffers (`Dims`,
//! `SamplerUniform`, `State`) laid out exactly as the WGSL declares them: the same
//! fields, in the same order, at the same offsets, with the same size.

use std::mem::{offset_of, size_of};

use unmask::gpu::kernels::{Dims, GpuWeights, MatParams, SamplerUniform, State, KERNELS, MATMUL, PICK};

fn module(what: &str, src: &str) -> naga::Module {
    let m = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(src)));
    let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty());
    if let Err(e) = v.validate(&m) {
        panic!("{what}: {}", e.emit_to_string(src));
    }
    m
}

/// Every kernel, with each weight format where it reads weights.
fn every_shader() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in KERNELS {
        if k.weights {
            out.extend(GpuWeights::ALL.map(|w| (format!("{}/{w:?}", k.name), k.source(Some(w)))));
        } else {
            out.push((k.name.to_string(), k.source(None)));
        }
    }
    out
}

#[test]
fn every_shader_parses_and_validates() {
    let shaders = every_shader();
    // Every kernel file of shaders/ (all but the snippets prepended to kernels) has
    // its definition in `KERNELS`, and no definition lacks its file.
    let snippet = |n: &str| ["common", "sampler_common", "workgroup"].contains(&n) || n.starts_with("weights_");
    let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders"))
        .unwrap()
        .map(|f| f.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| !snippet(n))
        .collect();
    files.sort();
    let mut defined: Vec<String> = KERNELS.iter().map(|k| k.name.to_string()).collect();
    defined.sort();
    assert_eq!(defined, files, "shaders/ kernel files against gpu::shader::KERNELS");
    for (what, src) in &shaders {
        let m = module(what, src);
        assert!(m.entry_points.iter().any(|e| e.name == "main"), "{what}: no `main` entry point");
    }
}

/// The bindings are generated from each kernel's slot list: every slot is declared
/// once, numbered by its place, and the kernel files declare none of their own.
#[test]
fn bindings_come_from_the_kernel_definitions() {
    for k in KERNELS {
        let weights = k.weights.then_some(GpuWeights::Q8);
        let m = module(k.name, &k.source(weights));
        let mut bound: Vec<(u32, String)> = m
            .global_variables
            .iter()
            .filter_map(|(_, g)| g.binding.as_ref().map(|b| (b.binding, g.name.clone().unwrap_or_default())))
            .collect();
        bound.sort();
        let want: Vec<(u32, String)> =
            k.all_slots(weights).iter().enumerate().map(|(i, s)| (i as u32, s.name.to_string())).collect();
        assert_eq!(bound, want, "{}", k.name);
    }
    for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders")).unwrap() {
        let path = f.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        assert!(!src.contains("@binding"), "{} numbers a binding by hand", path.display());
    }
}

/// (field, offset) of a Rust struct, in declaration order.
macro_rules! fields {
    ($t:ty { $($f:ident),* $(,)? }) => {
        vec![$((stringify!($f).to_string(), offset_of!($t, $f) as u32)),*]
    };
}

#[test]
fn structs_shared_with_the_shaders_have_one_layout() {
    // Pick declares three (common.wgsl and sampler_common.wgsl), the matmul MatParams.
    let pick = module("pick", &PICK.source(None));
    let matmul = module("matmul", &MATMUL.source(Some(GpuWeights::Q8)));
    let rust = [
        (
            "Dims",
            fields!(Dims { t, d, f, v, n_heads, head_dim, causal, mask_id, eps, rope_theta, shifted, _pad }),
            size_of::<Dims>(),
        ),
        (
            "Sampler",
            fields!(SamplerUniform {
                seed,
                temperature,
                remasking,
                use_threshold,
                threshold,
                block_length,
                mask_id,
                pad_id,
                unk_id,
                history,
                max_steps,
                _pad
            }),
            size_of::<SamplerUniform>(),
        ),
        ("State", fields!(State { step, steps_run, done, fault }), size_of::<State>()),
        ("MatParams", fields!(MatParams { k, n, mode, _pad }), size_of::<MatParams>()),
    ];
    for (name, fields, size) in rust {
        let m = if name == "MatParams" { &matmul } else { &pick };
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(m.to_ctx()).unwrap();
        let (handle, ty) =
            m.types.iter().find(|(_, t)| t.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no struct {name}"));
        let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{name} is not a struct") };
        let wgsl: Vec<(String, u32)> = members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset)).collect();
        assert_eq!(wgsl, fields, "{name}: fields or offsets differ between Rust and WGSL");
        assert_eq!(*span as usize, size, "{name}: size differs");
        assert_eq!(layouter[handle].size as usize, size);
        // Each field is 4 bytes on both sides (u32 / f32).
        for m in members {
            assert_eq!(layouter[m.ty].size, 4, "{name}.{:?} is not a 32-bit scalar", m.name);
        }
    }
}
