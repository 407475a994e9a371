//! Helpers shared by the CLI test binaries: run the real `kata86` and read
//! what it printed.
// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `kata86` with `args`.
pub fn kata86(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(args)
        .output()
        .expect("the kata86 binary runs")
}

/// The repository's root, where the docs' commands run.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `kata86` with `args` from the repository's root, as the docs do; it
/// must succeed, and its stdout is returned.
pub fn ok_at_root(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("the kata86 binary runs");
    assert_eq!(o.status.code(), Some(0), "kata86 {args:?}:\n{}", stderr(&o));
    stdout(&o)
}

/// What it printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

/// What it printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// Runs a command that must succeed (exit 0, no panic) and returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let o = kata86(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "kata86 {args:?} failed:\n{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    stdout(&o)
}

/// Runs a command that must be refused as bad input (exit 2, nothing on
/// stdout, no panic) and returns its stderr.
pub fn refused(args: &[&str]) -> String {
    let o = kata86(args);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "kata86 {args:?} should exit 2\nstdout:\n{}\nstderr:\n{err}",
        stdout(&o)
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(&o).is_empty(), "a refused command printed a report");
    err
}

/// A shard file's text with its `digest` recomputed over the rest, as a
/// tamperer who knows the format would (src/shard.rs: SHA-256 of the JSON
/// without `digest`, keys in order). Text that is not a JSON object comes
/// back unchanged.
pub fn reseal(text: &str) -> String {
    use sha2::Digest;
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        return text.to_string();
    };
    map.remove("digest");
    let body = serde_json::Value::Object(map);
    let hash = sha2::Sha256::digest(serde_json::to_vec(&body).expect("serializes"));
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let serde_json::Value::Object(mut map) = body else {
        unreachable!()
    };
    map.insert("digest".into(), format!("sha256:{hex}").into());
    serde_json::to_string(&map).expect("serializes")
}
