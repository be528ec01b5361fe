//! Embeds every `scenarios/*.toml` in the binary, sorted by file name.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo::rerun-if-changed=scenarios");
    println!("cargo::rustc-check-cfg=cfg(tokio_unstable)");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("scenarios");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for path in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        out.push_str(&format!(
            "    ({stem:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("]\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("bundled.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
