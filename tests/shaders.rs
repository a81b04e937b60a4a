//! Every shader as the engine assembles it, parsed and validated by naga (the WGSL
//! front end wgpu uses) — no GPU needed, so this runs with UNMASK_SKIP_GPU=1 too —
//! and the structs Rust writes into uniform and storage buffers (`Dims`,
//! `SamplerUniform`, `State`) laid out exactly as the WGSL declares them: the same
//! fields, in the same order, at the same offsets, with the same size.

use std::mem::{offset_of, size_of};

use unmask::gpu::kernels::{shader_source, Dims, GpuWeights, Kernel, SamplerUniform, State};

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
    let plain = [Kernel::RmsNorm, Kernel::Rope, Kernel::Attention, Kernel::Swiglu, Kernel::Pick, Kernel::Commit];
    let mut out: Vec<(String, String)> = plain.iter().map(|&k| (format!("{k:?}"), shader_source(k, None))).collect();
    for k in [Kernel::Embed, Kernel::Matmul] {
        for w in [GpuWeights::Dense, GpuWeights::Q8, GpuWeights::Q4] {
            out.push((format!("{k:?}/{w:?}"), shader_source(k, Some(w))));
        }
    }
    out
}

#[test]
fn every_shader_parses_and_validates() {
    let shaders = every_shader();
    assert_eq!(shaders.len(), 12);
    for (what, src) in &shaders {
        let m = module(what, src);
        assert!(m.entry_points.iter().any(|e| e.name == "main"), "{what}: no `main` entry point");
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
    // Pick declares all three (common.wgsl and sampler_common.wgsl).
    let m = module("Pick", &shader_source(Kernel::Pick, None));
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(m.to_ctx()).unwrap();
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
    ];
    for (name, fields, size) in rust {
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
