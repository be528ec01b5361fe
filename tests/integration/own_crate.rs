//! Someone else's crate, set up as the README says (a path dependency on
//! taskscope, tokio with `full` and `tracing`, `tokio_unstable` in its
//! `.cargo/config.toml`, nothing else), builds, and its plain tokio code
//! runs under `taskscope::watch`. It is built from a copy that takes
//! taskscope's own Cargo.lock, so no download and no second lock file.

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn a_crate_of_your_own_builds_and_runs_under_the_scope() {
    let _limit = crate::util::limit();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut target = std::env::current_exe().unwrap();
    // target/debug/deps/own_crate-HASH -> target/own-crate
    for _ in 0..3 {
        target.pop();
    }
    let target = target.join("own-crate");
    let krate = copy_of_the_crate(manifest, &target);
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(&krate)
        // taskscope's own lock file pins the versions: nothing to fetch,
        // and nothing to keep in step by hand when taskscope's change.
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null());
    // Only the crate's own configuration, as on the user's machine.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        build.env_remove(var);
    }
    let built = build.output().unwrap();
    assert!(
        built.status.success(),
        "the crate does not build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(target.join("debug").join("own-crate"))
        .args(["--json", "--clock", "virtual"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["wall_ms"], 300.0);
    let tasks = summary["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[..2], ["main", "eggs"]);
    // An unnamed task is called by its tokio id.
    assert!(names[2].starts_with("task-"), "{names:?}");
    assert_eq!(tasks[1]["waits"]["timer"], 300.0);
    assert_eq!(tasks[2]["waits"]["timer"], 200.0);
}

/// tests/own_crate copied under `target` with taskscope's path made
/// absolute and taskscope's Cargo.lock beside it; returns the copy.
fn copy_of_the_crate(manifest: &Path, target: &Path) -> std::path::PathBuf {
    let from = manifest.join("tests").join("own_crate");
    let to = target.join("crate");
    std::fs::create_dir_all(to.join("src")).unwrap();
    std::fs::create_dir_all(to.join(".cargo")).unwrap();
    let toml = std::fs::read_to_string(from.join("Cargo.toml")).unwrap();
    let path = format!("path = {:?}", manifest.display().to_string());
    assert!(toml.contains("path = \"../..\""), "{toml}");
    std::fs::write(
        to.join("Cargo.toml"),
        toml.replace("path = \"../..\"", &path),
    )
    .unwrap();
    for file in ["src/main.rs", ".cargo/config.toml"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
    std::fs::copy(manifest.join("Cargo.lock"), to.join("Cargo.lock")).unwrap();
    to
}
