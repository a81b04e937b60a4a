//! Lists the GPU kernels: one file per kernel in `src/gpu/ops/` (each defining its
//! `DEF` and its `op` constructor) becomes a module of `gpu::ops` and an entry of
//! `gpu::ops::KERNELS`, so adding a kernel touches nothing but its op file, its
//! shader and the forward pass that uses it.

use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("src/gpu/ops");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("src/gpu/ops")
        .map(|e| e.expect("src/gpu/ops entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && !p.ends_with("mod.rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = String::new();
    for n in &names {
        out.push_str(&format!("#[path = {:?}]\npub mod {n};\n", dir.join(format!("{n}.rs"))));
    }
    let defs: Vec<String> = names.iter().map(|n| format!("&{n}::DEF")).collect();
    out.push_str(&format!(
        "/// Every kernel, one per file of `src/gpu/ops/` (listed by the build script).\npub const KERNELS: &[&KernelDef] = &[{}];\n",
        defs.join(", ")
    ));
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join("ops.rs"), out).expect("writing ops.rs");
}
