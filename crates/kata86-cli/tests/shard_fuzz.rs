//! Shard files against mutation (issue #21): valid shards of a `sim`, a
//! `drill` and a `plan`, mutated field by field (digest recomputed, as a tamperer
//! would), truncated, or corrupted byte-wise (digest kept), are merged by
//! the real binary. Every outcome must be either exit 2 with the mutated
//! file named, nothing on stdout and a message under a screen, or exit 0
//! with exactly the bytes of the unmutated merge: a mutation the merge
//! accepts must not change what it prints. Never a panic.
//!
//! Each shard of these sets owns exactly one unit (a chunk of one cell, one
//! drill run, one plan design), so the replayed sample covers all of it. Cases are drawn
//! from a fixed seed; `SHARD_FUZZ_CASES` (default 40) and `SHARD_FUZZ_SEED`
//! set the count and the seed. CI runs a fixed larger count (`.ci/run`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{reseal, stderr, stdout};
use serde_json::Value;

const SCREEN: usize = 2_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn kata86(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the kata86 binary runs")
}

/// One set: its directory, its files, the merge arguments and the bytes of
/// the unmutated merge.
struct Set {
    dir: PathBuf,
    files: Vec<String>,
    merge: Vec<String>,
    expected: Vec<u8>,
}

fn make_set(name: &str, base: &[&str], n: u32) -> Set {
    let dir = std::env::temp_dir().join(format!("kata86-shard-fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<String> = (0..n)
        .map(|i| {
            let file = format!("{name}-{i}.json");
            let spec = format!("{i}/{n}");
            let mut args = base.to_vec();
            args.extend(["--shard", &spec, "--out", &file]);
            let o = kata86(&dir, &args);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            file
        })
        .collect();
    let mut merge = vec!["merge".to_string()];
    merge.extend(files.iter().cloned());
    merge.extend(["--format".into(), "json".into()]);
    let args: Vec<&str> = merge.iter().map(String::as_str).collect();
    let o = kata86(&dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    Set {
        dir,
        files,
        merge,
        expected: o.stdout,
    }
}

/// Every node of `v` as a JSON pointer.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

/// A mutation of one value: numbers at the edges, strings emptied or
/// grown, flags flipped, lists cut or repeated, keys removed.
fn mutate_value(v: &mut Value, rng: &mut Rng) -> String {
    match v {
        Value::Number(n) => {
            let x = n.as_u64();
            let choices: Vec<Value> = vec![
                0.into(),
                1.into(),
                u64::MAX.into(),
                u32::MAX.into(),
                (-1).into(),
                1e308.into(),
                x.map_or(0, |x| x.wrapping_add(1)).into(),
                x.map_or(0, |x| x.saturating_sub(1)).into(),
                x.map_or(0, |x| x.wrapping_mul(2)).into(),
            ];
            *v = choices[rng.below(choices.len())].clone();
        }
        Value::String(s) => {
            let choices = [
                String::new(),
                "x".repeat(5000),
                s.chars().take(s.chars().count() / 2).collect(),
                format!("{s}A"),
                s.chars().rev().collect(),
            ];
            *v = choices[rng.below(choices.len())].clone().into();
        }
        Value::Bool(b) => *v = (!*b).into(),
        Value::Null => {
            *v = if rng.below(2) == 0 {
                0.into()
            } else {
                "x".into()
            }
        }
        Value::Array(a) => match rng.below(3) {
            0 => {
                a.pop();
            }
            1 => {
                if let Some(x) = a.first().cloned() {
                    a.push(x);
                }
            }
            _ => a.clear(),
        },
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            if !keys.is_empty() {
                m.remove(&keys[rng.below(keys.len())]);
            }
        }
    }
    format!("{v}").chars().take(60).collect()
}

/// Applies case `rng` to one file of `set`; returns what it did.
fn apply(set: &Set, file: &str, rng: &mut Rng) -> String {
    let path = set.dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    match rng.below(10) {
        // Truncated: the digest cannot be recomputed for a cut document.
        0 => {
            let at = rng.below(text.len());
            std::fs::write(&path, &text.as_bytes()[..at]).unwrap();
            format!("truncated at byte {at}")
        }
        // A byte corrupted, the digest kept.
        1 => {
            let mut bytes = text.into_bytes();
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
            std::fs::write(&path, bytes).unwrap();
            format!("byte {at} flipped")
        }
        // A field mutated, the digest recomputed.
        _ => {
            let mut v: Value = serde_json::from_str(&text).unwrap();
            let mut all = Vec::new();
            pointers(&v, String::new(), &mut all);
            all.retain(|p| p != "/digest");
            let p = all[rng.below(all.len())].clone();
            let what = mutate_value(v.pointer_mut(&p).expect("a pointer of v"), rng);
            std::fs::write(&path, reseal(&v.to_string())).unwrap();
            format!("{p} := {what}")
        }
    }
}

#[test]
fn mutated_shards_are_refused_with_their_name_or_change_nothing() {
    let cases = env_or("SHARD_FUZZ_CASES", 40);
    let mut rng = Rng(env_or("SHARD_FUZZ_SEED", 0x6b61_7461_3836) | 1);
    let sets = [
        make_set(
            "sim",
            &[
                "sim",
                "-q",
                "--client",
                "VN",
                "--strategy",
                "local",
                "--strategy",
                "bounded",
                "--iterations",
                "3000",
            ],
            2,
        ),
        make_set("drill", &["drill", "region-down", "-q", "--runs", "2"], 2),
        // Four quorum designs, one unit a shard.
        make_set(
            "plan",
            &["plan", "-q", "--runs", "1", "--write-path", "quorum"],
            4,
        ),
    ];
    let originals: Vec<Vec<Vec<u8>>> = sets
        .iter()
        .map(|s| {
            s.files
                .iter()
                .map(|f| std::fs::read(s.dir.join(f)).unwrap())
                .collect()
        })
        .collect();
    let mut failures = Vec::new();
    for case in 0..cases {
        let si = rng.below(sets.len());
        let set = &sets[si];
        let fi = rng.below(set.files.len());
        let file = &set.files[fi];
        let what = apply(set, file, &mut rng);
        let args: Vec<&str> = set.merge.iter().map(String::as_str).collect();
        let o = kata86(&set.dir, &args);
        let err = stderr(&o);
        let problem = match o.status.code() {
            _ if err.contains("panicked") => Some("panicked".to_string()),
            Some(0) if o.stdout != set.expected => {
                Some("accepted, and printed something else".to_string())
            }
            Some(0) => None,
            Some(2) if !err.contains(file.as_str()) => Some("the file is not named".into()),
            Some(2) if err.len() > SCREEN => Some(format!("a message of {} bytes", err.len())),
            Some(2) if !stdout(&o).is_empty() => Some("a refusal printed a report".into()),
            Some(2) => None,
            other => Some(format!("exit {other:?}")),
        };
        if let Some(p) = problem {
            failures.push(format!(
                "case {case}, {file}: {what}: {p}\n{}",
                err.trim_end()
            ));
        }
        std::fs::write(set.dir.join(file), &originals[si][fi]).unwrap();
    }
    for s in &sets {
        let _ = std::fs::remove_dir_all(&s.dir);
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
