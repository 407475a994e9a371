//! Sharding (issue #14): `--shard I/N --out FILE` run as separate
//! processes, then `kata86 merge`, must print exactly the bytes of the
//! unsharded run; a multi-chunk `sim` prints the same bytes whatever the
//! thread count; every bad shard set is refused with exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{refused, repo_root, reseal, stderr, stdout};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kata86-shard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs `kata86 args` in `dir` with `env`; it must exit 0.
fn run_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Vec<u8> {
    let o: Output = Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("the kata86 binary runs");
    assert_eq!(o.status.code(), Some(0), "kata86 {args:?}:\n{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    o.stdout
}

/// Runs `base ... --shard i/n --out shard-i.json` for every i as separate
/// processes in `dir`, each on one thread (as a batch scheduler's tasks
/// would be), and returns the file names.
fn shards(dir: &Path, base: &[&str], n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            let file = format!("shard-{i}.json");
            let spec = format!("{i}/{n}");
            let mut args = base.to_vec();
            args.extend(["--shard", &spec, "--out", &file]);
            let printed = run_in(dir, &[("RAYON_NUM_THREADS", "1")], &args);
            assert!(printed.is_empty(), "a shard prints no report");
            file
        })
        .collect()
}

/// `kata86 merge files... --format format` in `dir`.
fn merge(dir: &Path, files: &[String], format: &str) -> Vec<u8> {
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--format", format]);
    run_in(dir, &[], &args)
}

fn with_format<'a>(base: &[&'a str], format: &'a str) -> Vec<&'a str> {
    let mut v = base.to_vec();
    v.extend(["--format", format]);
    v
}

/// Three chunks per cell (2^20 requests each, the last one partial), two
/// cells: six units over four shards, so some shards hold two units, some
/// one, and units of both cells.
const SIM: &[&str] = &[
    "sim",
    "-q",
    "--client",
    "US",
    "--strategy",
    "local",
    "--strategy",
    "fallback",
    "--model",
    "episodic",
    "--iterations",
    "3000000",
];

#[test]
fn four_sim_shards_merge_to_the_single_run_byte_for_byte() {
    let dir = scratch("sim");
    let files = shards(&dir, SIM, 4);
    // Given in another order than written: the merge sorts them.
    let shuffled: Vec<String> = [2, 0, 3, 1].iter().map(|&i| files[i].clone()).collect();
    for format in ["table", "json", "csv"] {
        let single = run_in(&dir, &[], &with_format(SIM, format));
        let merged = merge(&dir, &shuffled, format);
        assert!(!single.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&merged),
            String::from_utf8_lossy(&single),
            "--format {format}"
        );
    }
    // The figures are the simulation's: three chunks' worth of requests.
    let table = String::from_utf8(merge(&dir, &files, "json")).unwrap();
    assert!(table.contains("\"iterations\": 3000000"), "{table}");
    // Every histogram travels in HdrHistogram's V2 deflate encoding, whose
    // cookie is "HISTF" in base64.
    let text = std::fs::read_to_string(dir.join(&files[0])).unwrap();
    assert!(text.contains("\"v2_deflate_base64\":\"HISTF"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_multi_chunk_sim_prints_the_same_bytes_on_one_and_two_threads() {
    let dir = scratch("threads");
    let args = [
        "sim",
        "-q",
        "--client",
        "US",
        "--strategy",
        "bounded",
        "--model",
        "episodic",
        "--jitter",
        "5",
        "--iterations",
        "2500000",
        "--format",
        "json",
    ];
    let one = run_in(&dir, &[("RAYON_NUM_THREADS", "1")], &args);
    let two = run_in(&dir, &[("RAYON_NUM_THREADS", "2")], &args);
    assert_eq!(String::from_utf8_lossy(&one), String::from_utf8_lossy(&two));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn out_alone_is_the_whole_run_as_one_shard() {
    let dir = scratch("whole");
    let args = ["sim", "-q", "--client", "VN", "--iterations", "50000"];
    let mut with_out = args.to_vec();
    with_out.extend(["--out", "all.json"]);
    run_in(&dir, &[], &with_out);
    assert_eq!(
        String::from_utf8_lossy(&merge(&dir, &["all.json".into()], "table")),
        String::from_utf8_lossy(&run_in(&dir, &[], &args))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn four_drill_shards_merge_to_the_single_run_byte_for_byte() {
    let dir = scratch("drill");
    let base = ["drill", "region-down", "-q", "--runs", "6"];
    let files = shards(&dir, &base, 4);
    for format in ["table", "json"] {
        let single = run_in(&dir, &[], &with_format(&base, format));
        assert_eq!(
            String::from_utf8_lossy(&merge(&dir, &files, format)),
            String::from_utf8_lossy(&single),
            "--format {format}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn drills_of_several_configurations_merge_too() {
    // clock-skew plays two configurations (wall and hlc watermarks), the
    // matrix nine; each configuration's runs are split the same way.
    let dir = scratch("configs");
    for (name, base) in [
        ("skew", &["drill", "clock-skew", "-q", "--runs", "3"][..]),
        (
            "matrix",
            &["drill", "partition", "--matrix", "-q", "--runs", "2"][..],
        ),
    ] {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let files = shards(&sub, base, 3);
        assert_eq!(
            String::from_utf8_lossy(&merge(&sub, &files, "json")),
            String::from_utf8_lossy(&run_in(&sub, &[], &with_format(base, "json"))),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_carry_their_input_files_so_the_merge_needs_none() {
    let dir = scratch("inputs");
    let root = repo_root();
    let scenario = root.join("examples/sg-down-two-regions.toml");
    let topology = root.join("examples/three-regions.toml");
    let drill = [
        "drill",
        "-q",
        "--scenario",
        scenario.to_str().unwrap(),
        "--runs",
        "3",
    ];
    let sim = [
        "sim",
        "-q",
        "--topology",
        topology.to_str().unwrap(),
        "--iterations",
        "20000",
    ];
    for (name, base) in [("drill", &drill[..]), ("sim", &sim[..])] {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let files = shards(&sub, base, 2);
        let single = run_in(&sub, &[], base);
        // Merged elsewhere, from copies: the input files are not read again.
        let elsewhere = dir.join(format!("{name}-merge"));
        std::fs::create_dir_all(&elsewhere).unwrap();
        for f in &files {
            std::fs::copy(sub.join(f), elsewhere.join(f)).unwrap();
        }
        assert_eq!(
            String::from_utf8_lossy(&merge(&elsewhere, &files, "table")),
            String::from_utf8_lossy(&single),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kata86 merge files...` in `dir`: refused with exit 2; its message.
fn merge_refused(dir: &Path, files: &[&str]) -> String {
    let mut args = vec!["merge"];
    args.extend(files);
    let o = Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("the kata86 binary runs");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "merge {files:?}: {err}");
    assert!(stdout(&o).is_empty(), "a refused merge printed a report");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_shards_and_bad_sets_exit_2_with_a_message() {
    // The shard spec itself.
    for (spec, says) in [
        ("4/4", "from 0 to 3"),
        ("0/0", "from 1 to"),
        ("x/4", "INDEX/COUNT"),
        ("1of4", "INDEX/COUNT"),
    ] {
        let err = refused(&["sim", "--shard", spec, "--out", "never.json"]);
        assert!(
            err.contains("--shard") && err.contains(says),
            "{spec}: {err}"
        );
    }
    let err = refused(&["sim", "--shard", "0/2"]);
    assert!(err.contains("--out"), "{err}");
    let err = refused(&[
        "sim",
        "--workload",
        "wallet",
        "--shard",
        "0/2",
        "--out",
        "never.json",
    ]);
    assert!(err.contains("kata workload"), "{err}");
    let err = refused(&[
        "drill",
        "partition",
        "--write-path",
        "lww",
        "--runs",
        "1",
        "--shard",
        "0/2",
        "--out",
        "never.json",
    ]);
    assert!(err.contains("single-leader"), "{err}");

    let dir = scratch("refusals");
    let small = ["sim", "-q", "--client", "US", "--iterations", "2000"];
    let mut seed87 = small.to_vec();
    seed87.extend(["--seed", "87"]);
    let mut other_args = small.to_vec();
    other_args.extend(["--rate", "50"]);
    let run = |args: &[&str], spec: &str, file: &str| {
        let mut a = args.to_vec();
        a.extend(["--shard", spec, "--out", file]);
        run_in(&dir, &[], &a);
    };
    run(&small, "0/2", "a0.json");
    run(&small, "1/2", "a1.json");
    run(&seed87, "1/2", "seed87.json");
    run(&other_args, "1/2", "rate50.json");
    run(&small, "1/3", "of3.json");
    run(
        &["drill", "baseline", "-q", "--runs", "2"],
        "1/2",
        "drill.json",
    );
    std::fs::write(dir.join("junk.json"), "{\"hello\": 1}").unwrap();

    let cases: [(&[&str], &str); 8] = [
        (&["a0.json"], "missing"),
        (&["a0.json", "a0.json", "a1.json"], "given twice"),
        (&["a0.json", "seed87.json"], "different seeds"),
        (&["a0.json", "rate50.json"], "--rate"),
        (&["a0.json", "of3.json"], "1/3"),
        (&["a0.json", "drill.json"], "different commands"),
        (&["a0.json", "junk.json"], "not a kata86 shard file"),
        (&["a0.json", "nowhere.json"], "cannot read"),
    ];
    for (files, says) in cases {
        let err = merge_refused(&dir, files);
        assert!(err.contains(says), "{files:?}: {err}");
    }
    // Another version.
    let text = std::fs::read_to_string(dir.join("a1.json")).unwrap();
    let old = text.replace(
        &format!("\"kata86_version\":\"{}\"", env!("CARGO_PKG_VERSION")),
        "\"kata86_version\":\"0.0.1\"",
    );
    assert_ne!(old, text);
    std::fs::write(dir.join("old.json"), reseal(&old)).unwrap();
    let err = merge_refused(&dir, &["a0.json", "old.json"]);
    assert!(err.contains("0.0.1"), "{err}");
    // A damaged histogram.
    let damaged = text.replacen(
        "\"v2_deflate_base64\":\"HISTF",
        "\"v2_deflate_base64\":\"XXXXX",
        1,
    );
    assert_ne!(damaged, text);
    // Damaged in transit: the digest names the file.
    std::fs::write(dir.join("damaged.json"), &damaged).unwrap();
    let err = merge_refused(&dir, &["a0.json", "damaged.json"]);
    assert!(
        err.contains("damaged.json") && err.contains("digest"),
        "{err}"
    );
    // Edited, digest recomputed: the histogram itself is refused.
    std::fs::write(dir.join("damaged.json"), reseal(&damaged)).unwrap();
    let err = merge_refused(&dir, &["a0.json", "damaged.json"]);
    assert!(
        err.contains("damaged.json") && err.contains("histogram"),
        "{err}"
    );
    // The good pair still merges.
    assert!(!merge(&dir, &["a0.json".into(), "a1.json".into()], "csv").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shell command of the manifest's container (`args: - >-` folded
/// lines), or of the merge Job's (`args: - exec ...`).
fn manifest_command(path: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(path)).expect("the manifest exists");
    let mut lines = text.lines().skip_while(|l| l.trim() != "args:").skip(1);
    let first = lines.next().expect("an args entry").trim();
    if first == "- >-" {
        lines
            .take_while(|l| !l.trim().ends_with(':'))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        first.trim_start_matches("- ").to_string()
    }
}

#[test]
fn the_kubernetes_manifest_command_merges_to_the_single_run() {
    let dir = scratch("k8s");
    let shard_cmd = manifest_command("ops/k8s/sim-indexed-job.yaml");
    let merge_cmd = manifest_command("ops/k8s/sim-merge-job.yaml");
    assert!(shard_cmd.contains("JOB_COMPLETION_INDEX"), "{shard_cmd}");
    assert!(merge_cmd.starts_with("exec kata86 merge"), "{merge_cmd}");
    let completions: u32 =
        std::fs::read_to_string(repo_root().join("ops/k8s/sim-indexed-job.yaml"))
            .unwrap()
            .lines()
            .find_map(|l| l.trim().strip_prefix("completions:"))
            .and_then(|v| v.split('#').next()?.trim().parse().ok())
            .expect("completions: N");
    assert!(
        shard_cmd.contains(&format!("/{completions}\"")),
        "{shard_cmd}"
    );
    // As the pods would run it, with fewer requests, the shared volume a
    // directory, and the binary under test as `kata86`.
    let bin = env!("CARGO_BIN_EXE_kata86");
    let local = |cmd: &str| {
        cmd.replace("--iterations 100000000", "--iterations 2200000")
            .replace("/shards/", &format!("{}/", dir.display()))
            .replace("exec kata86 ", &format!("exec {bin} "))
    };
    for i in 0..completions {
        let o = Command::new("sh")
            .args(["-c", &local(&shard_cmd)])
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .expect("sh runs");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let merged = Command::new("sh")
        .args(["-c", &local(&merge_cmd)])
        .output()
        .expect("sh runs");
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    // The same command unsharded.
    let single_cmd = local(&shard_cmd);
    let single_cmd = single_cmd
        .split(" --shard")
        .next()
        .expect("the command before --shard");
    let single = Command::new("sh")
        .args(["-c", single_cmd])
        .output()
        .expect("sh runs");
    assert_eq!(single.status.code(), Some(0), "{}", stderr(&single));
    assert!(!single.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&merged.stdout),
        String::from_utf8_lossy(&single.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
