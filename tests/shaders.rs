//! Every shader as the engine assembles it, parsed and validated by naga (the WGSL
//! front end wgpu uses) — no GPU needed, so this runs with UNMASK_SKIP_GPU=1 too —
//! and the structs Rust writes into uniform and storage buffers (declared in WGSL
//! from their Rust definitions) laid out by naga exactly as Rust lays them out: the
//! same fields, in the same order, at the same offsets, with the same size.

use unmask::gpu::ops::KERNELS;
use unmask::gpu::shader::GpuWeights;

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
    assert_eq!(defined, files, "shaders/ kernel files against the op files of src/gpu/ops (gpu::ops::KERNELS)");
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

/// Every struct a kernel binds is declared in WGSL from its Rust definition
/// (`wgsl_struct!`); naga's layout of that declaration has the same fields at the
/// same offsets and the same size as Rust's `#[repr(C)]` one, in every kernel.
#[test]
fn structs_shared_with_the_shaders_have_one_layout() {
    let mut checked = Vec::new();
    for k in KERNELS {
        let weights = k.weights.then_some(GpuWeights::Q8);
        let m = module(k.name, &k.source(weights));
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(m.to_ctx()).unwrap();
        for l in k.all_slots(weights).iter().filter_map(|s| s.layout) {
            let name = l.name;
            let (handle, ty) = m
                .types
                .iter()
                .find(|(_, t)| t.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("{}: no struct {name}", k.name));
            let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{name} is not a struct") };
            let wgsl: Vec<(String, usize)> =
                members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize)).collect();
            let rust: Vec<(String, usize)> = l.fields.iter().map(|(f, o)| (f.to_string(), *o)).collect();
            assert_eq!(wgsl, rust, "{name}: fields or offsets differ between Rust and WGSL");
            assert_eq!(*span as usize, l.size, "{name}: size differs");
            assert_eq!(layouter[handle].size as usize, l.size);
            checked.push(name);
        }
    }
    checked.sort();
    checked.dedup();
    assert_eq!(checked, ["Dims", "MatParams", "SamplerUniform", "State"]);
}

/// The kernel files declare no struct a binding uses: those come from Rust.
#[test]
fn kernel_files_declare_no_shared_struct() {
    for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders")).unwrap() {
        let path = f.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        for name in ["Dims", "MatParams", "SamplerUniform", "State"] {
            assert!(!src.contains(&format!("struct {name} ")), "{} declares {name} by hand", path.display());
        }
    }
}
