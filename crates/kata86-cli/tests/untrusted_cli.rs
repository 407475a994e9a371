//! Issue #21, one table row per case: shard files are untrusted input,
//! `merge` writes only the paths on its command line, outputs never
//! destroy inputs, work is bounded, flags a mode ignores are refused, and
//! messages name what the user wrote in less than a screen.
//!
//! Each row is `(name, setup, command, exit code, words the message must
//! hold)`. Setups write their files into the row's own scratch directory;
//! `%D` in a command is that directory. Tampered shard files have their
//! digest recomputed (`common::reseal`), as a tamperer who knows the format
//! would, so each check below must stand without the digest.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo_root, reseal, stderr, stdout};
use serde_json::Value;

/// The longest message a refusal may print: about a screen.
const SCREEN: usize = 2_000;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kata86-untrusted-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs `kata86 args` in `dir`: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[String]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the kata86 binary runs");
    (o.status.code(), stdout(&o), stderr(&o))
}

/// Runs `kata86 args` in `dir`; it must exit 0.
fn ok(dir: &Path, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (code, out, err) = run(dir, &args);
    assert_eq!(code, Some(0), "kata86 {args:?}: {err}");
    out
}

/// Writes the shards `0..n` of `base` as `prefix-i.json` in `dir`.
fn shards(dir: &Path, base: &[&str], n: u32, prefix: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let file = format!("{prefix}-{i}.json");
            let spec = format!("{i}/{n}");
            let mut args = base.to_vec();
            args.extend(["--shard", &spec, "--out", &file]);
            ok(dir, &args);
            file
        })
        .collect()
}

/// Edits the JSON of `file` in `dir` with `f` and recomputes its digest.
fn tamper(dir: &Path, file: &str, f: impl FnOnce(&mut Value)) {
    let path = dir.join(file);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, reseal(&v.to_string())).unwrap();
}

/// Every object under `v`, depth first.
fn each_object(v: &mut Value, f: &mut dyn FnMut(&mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            f(m);
            for x in m.values_mut() {
                each_object(x, f);
            }
        }
        Value::Array(a) => {
            for x in a {
                each_object(x, f);
            }
        }
        _ => {}
    }
}

/// A small `sim` split in two, as `s-0.json`, `s-1.json`.
const SIM: &[&str] = &[
    "sim",
    "-q",
    "--client",
    "VN",
    "--strategy",
    "leader",
    "--strategy",
    "local",
    "--iterations",
    "3000",
];

/// A small drill split in two, one run each: `d-0.json`, `d-1.json`.
const DRILL: &[&str] = &["drill", "region-down", "-q", "--runs", "2"];

type Setup = fn(&Path);

fn sim_set(dir: &Path) {
    shards(dir, SIM, 2, "s");
}

fn drill_set(dir: &Path) {
    shards(dir, DRILL, 2, "d");
}

fn scenario_copy(dir: &Path) {
    std::fs::copy(
        repo_root().join("examples/sg-down-two-regions.toml"),
        dir.join("world.toml"),
    )
    .unwrap();
    std::fs::copy(
        repo_root().join("examples/three-regions.toml"),
        dir.join("topo.toml"),
    )
    .unwrap();
}

fn none(_: &Path) {}

/// The rows. Exit 2: bad input; 0: accepted (and then the words are looked
/// for on stdout).
#[allow(clippy::type_complexity)]
const ROWS: &[(&str, Setup, &str, i32, &[&str])] = &[
    // --- Allocation from a declared size, checked before allocating.
    (
        "shard count 2^32-1",
        |d| {
            sim_set(d);
            tamper(d, "s-0.json", |v| v["shards"] = 4_294_967_295u64.into());
        },
        "merge s-0.json s-1.json",
        2,
        &["s-0.json", "not a shard", "100000"],
    ),
    (
        "histogram declaring a 4 GiB payload",
        |d| {
            sim_set(d);
            // The V2 deflate cookie, then a compressed length of 2^32 - 1.
            let forged = "HISTFP////8AAA==";
            tamper(d, "s-1.json", |v| {
                v["result"]["cells"][0]["read"]["v2_deflate_base64"] = forged.into()
            });
        },
        "merge s-0.json s-1.json",
        2,
        &["s-1.json", "histogram", "declares"],
    ),
    (
        "a histogram over the size any can need",
        |d| {
            sim_set(d);
            tamper(d, "s-1.json", |v| {
                v["result"]["cells"][0]["read"]["v2_deflate_base64"] = "A".repeat(2 << 20).into()
            });
        },
        "merge s-0.json s-1.json",
        2,
        &["s-1.json", "histogram", "base64 characters"],
    ),
    (
        "100000 shards, one given: the missing list is summarised",
        |d| {
            ok(
                d,
                &[
                    "sim",
                    "-q",
                    "--client",
                    "VN",
                    "--iterations",
                    "10",
                    "--shard",
                    "7/100000",
                    "--out",
                    "x.json",
                ],
            );
        },
        "merge x.json",
        2,
        &[
            "99999 of 100000 shards missing",
            "0, 1, 2",
            "and 99989 more",
        ],
    ),
    (
        "a run's argument string of a megabyte",
        |d| {
            sim_set(d);
            for f in ["s-0.json", "s-1.json"] {
                tamper(d, f, |v| {
                    v["arguments"]["leader"] = "S".repeat(1 << 20).into()
                });
            }
        },
        "merge s-0.json s-1.json",
        2,
        &["s-0.json", "string of 1048576", "1024"],
    ),
    // --- Damage the digest catches, naming the file.
    (
        "a damaged file",
        |d| {
            sim_set(d);
            let p = d.join("s-1.json");
            let t = std::fs::read_to_string(&p)
                .unwrap()
                .replacen("\"reads\":", "\"reads\":1", 1);
            std::fs::write(p, t).unwrap();
        },
        "merge s-0.json s-1.json",
        2,
        &["s-1.json", "digest"],
    ),
    (
        "a truncated file",
        |d| {
            sim_set(d);
            let p = d.join("s-0.json");
            let t = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, &t[..t.len() / 2]).unwrap();
        },
        "merge s-0.json s-1.json",
        2,
        &["s-0.json", "not a kata86 shard file"],
    ),
    // --- Merge trusts nothing it can check (digest recomputed).
    (
        "a u64 counter that wraps",
        |d| {
            sim_set(d);
            tamper(d, "s-0.json", |v| {
                v["result"]["cells"][0]["reads"] = u64::MAX.into()
            });
        },
        "merge s-0.json s-1.json",
        2,
        &["s-0.json", "VN / leader", "requests where its shard runs"],
    ),
    (
        "a sub-counter over its total",
        |d| {
            sim_set(d);
            tamper(d, "s-1.json", |v| {
                let c = &mut v["result"]["cells"][1];
                c["over_bound_reads"] = (c["reads"].as_u64().unwrap() * 7).into();
            });
        },
        "merge s-0.json s-1.json",
        2,
        &["s-1.json", "VN / local", "over-bound reads out of"],
    ),
    (
        "swapped histograms",
        |d| {
            sim_set(d);
            tamper(d, "s-0.json", |v| {
                let c = &mut v["result"]["cells"][0];
                let read = c["read"].take();
                c["read"] = c["staleness"].take();
                c["staleness"] = read;
            });
        },
        "merge s-0.json s-1.json",
        2,
        &["s-0.json", "VN / leader"],
    ),
    (
        "a shard's share moved to another shard",
        |d| {
            sim_set(d);
            tamper(d, "s-0.json", |v| {
                v["result"]["cells"][0]["reads"] = 0.into()
            });
        },
        "merge s-0.json s-1.json",
        2,
        &["s-0.json", "0 requests"],
    ),
    (
        "an edited topology text",
        |d| {
            scenario_copy(d);
            shards(
                d,
                &[
                    "sim",
                    "-q",
                    "--topology",
                    "topo.toml",
                    "--client",
                    "JP",
                    "--strategy",
                    "local",
                    "--iterations",
                    "3000",
                ],
                1,
                "t",
            );
            tamper(d, "t-0.json", |v| {
                let t = v["inputs"]["topology"]
                    .as_str()
                    .unwrap()
                    .replace("JP = 10", "JP = 1");
                v["inputs"]["topology"] = t.into();
            });
        },
        "merge t-0.json",
        2,
        &["t-0.json", "replayed from the shards' own arguments"],
    ),
    (
        "an RPO of 2^64-1 µs",
        |d| {
            drill_set(d);
            tamper(d, "d-1.json", |v| {
                v["result"]["configurations"][0]["runs"][0]["rpo"] = u64::MAX.into()
            });
        },
        "merge d-0.json d-1.json",
        2,
        &["d-1.json", "run 1", "RPO", "longer than"],
    ),
    (
        "a run's money verdict flipped",
        |d| {
            drill_set(d);
            tamper(d, "d-1.json", |v| {
                let r = &mut v["result"]["configurations"][0]["runs"][0]["money"];
                r["invariants_ok"] = (!r["invariants_ok"].as_bool().unwrap()).into();
            });
        },
        "merge d-0.json d-1.json",
        2,
        &["d-1.json", "run 1", "invariants_ok"],
    ),
    (
        "a run's RTO edited",
        |d| {
            drill_set(d);
            tamper(d, "d-0.json", |v| {
                let r = &mut v["result"]["configurations"][0]["runs"][0];
                r["rto_worst"] = 1.into();
            });
        },
        "merge d-0.json d-1.json",
        2,
        &["d-0.json", "run 0", "rto_worst"],
    ),
    (
        "a drill window's reads edited",
        |d| {
            drill_set(d);
            tamper(d, "d-1.json", |v| {
                v["result"]["configurations"][0]["outside"][0]["reads"] = 5.into();
            });
        },
        "merge d-0.json d-1.json",
        2,
        &[
            "d-1.json",
            "client site 1 outside the faults",
            "out of 5 reads",
        ],
    ),
    (
        "stored SLO verdicts flipped to pass in a plan",
        |d| {
            ok(
                d,
                &[
                    "plan",
                    "-q",
                    "--runs",
                    "1",
                    "--write-path",
                    "quorum",
                    "--out",
                    "p.json",
                ],
            );
            tamper(d, "p.json", |v| {
                each_object(v, &mut |m| {
                    if m.contains_key("observed_ms") {
                        m.insert("pass".into(), true.into());
                    }
                })
            });
        },
        "merge p.json",
        2,
        &["p.json", "says pass"],
    ),
    // --- Merge writes only the paths on its own command line.
    (
        "output paths injected into the shards' arguments are never written",
        |d| {
            sim_set(d);
            for f in ["s-0.json", "s-1.json"] {
                tamper(d, f, |v| {
                    v["arguments"]["report"] = "injected.html".into();
                    v["arguments"]["hgrm"] = "injected-dir/a/b".into();
                });
            }
        },
        "merge s-0.json s-1.json --format csv",
        0,
        &["VN,leader"],
    ),
    (
        "merge refuses --hgrm for a plan",
        |d| {
            ok(
                d,
                &[
                    "plan",
                    "-q",
                    "--runs",
                    "1",
                    "--write-path",
                    "quorum",
                    "--out",
                    "p.json",
                ],
            );
        },
        "merge p.json --hgrm h",
        2,
        &["--hgrm", "plan", "--report"],
    ),
    // --- Outputs never destroy inputs.
    (
        "--report naming the --topology file",
        scenario_copy,
        "sim -q --iterations 100 --topology topo.toml --report topo.toml",
        2,
        &["--report topo.toml", "input --topology"],
    ),
    (
        "--out naming the --scenario file",
        scenario_copy,
        "drill --scenario world.toml --runs 1 --out ./world.toml",
        2,
        &["--out ./world.toml", "input --scenario"],
    ),
    (
        "--report naming a shard file of the merge",
        sim_set,
        "merge s-0.json s-1.json --report s-1.json",
        2,
        &["--report s-1.json", "shard file"],
    ),
    (
        "--hgrm into the directory of a .hgrm input",
        |d| {
            scenario_copy(d);
            std::fs::create_dir_all(d.join("h")).unwrap();
            std::fs::copy(d.join("topo.toml"), d.join("h/topo.hgrm")).unwrap();
        },
        "sim -q --iterations 100 --topology h/topo.hgrm --hgrm h",
        2,
        &["--hgrm h", "topo.hgrm"],
    ),
    (
        "--report and --out the same file",
        none,
        "sim -q --iterations 100 --out same.json --report same.json",
        2,
        &["--report"],
    ),
    // --- Every command bounds its work with one cost model (estimate in
    // the refusal, --allow-long where it makes sense).
    (
        "plan --runs 1000",
        none,
        "plan --runs 1000",
        2,
        &["plan is too big", "s on one core", "--allow-long"],
    ),
    (
        "compare on a day-long scenario, --runs 1000",
        |d| {
            std::fs::write(d.join("day.toml"), "duration_s = 86400\n").unwrap();
        },
        "compare --scenario day.toml --runs 1000",
        2,
        &["4 write paths", "s on one core", "--allow-long"],
    ),
    (
        "a drill on the largest topology",
        |d| {
            let regions: Vec<String> = (0..64).map(|i| format!("R{i}")).collect();
            let rtts = regions
                .iter()
                .map(|r| format!("{r} = 30"))
                .collect::<Vec<_>>()
                .join(", ");
            let links: Vec<String> = (0..64)
                .flat_map(|i| {
                    ((i + 1)..64)
                        .map(move |j| format!("{{ a = \"R{i}\", b = \"R{j}\", rtt_ms = 50 }}"))
                })
                .collect();
            let sites: Vec<String> = (0..255)
                .map(|j| {
                    format!(
                        "{{ name = \"S{j}\", home = \"R{}\", rtt_ms = {{ {rtts} }} }}",
                        j % 64
                    )
                })
                .collect();
            let text =
                format!(
            "leader = \"R0\"\n[topology]\nregions = [{}]\nlinks = [\n{}\n]\nsites = [\n{}\n]\n",
            regions.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", "),
            links.join(",\n"),
            sites.join(",\n")
        );
            std::fs::write(d.join("huge.toml"), text).unwrap();
        },
        "drill --scenario huge.toml",
        2,
        &["too big", "MB", "--allow-long"],
    ),
    // --- Messages name what the user wrote.
    (
        "a --flag window the onset shift pushes past the end",
        none,
        "drill region-down --runs 1 --flag FORCE_LEADER_READ@0-300",
        2,
        &["--flag FORCE_LEADER_READ@0-300", "--onset-window", "240 s"],
    ),
    (
        "a quorum-only plan does not blame money it cannot judge",
        none,
        "plan --write-path quorum --runs 1",
        0,
        &["judges money on none of these designs"],
    ),
    (
        "a 17-region world's quorum designs fit the model",
        |d| {
            let regions: Vec<String> = (0..17).map(|i| format!("R{i}")).collect();
            let rtts = regions
                .iter()
                .map(|r| format!("{r} = 30"))
                .collect::<Vec<_>>()
                .join(", ");
            let links: Vec<String> = (0..17)
                .flat_map(|i| {
                    ((i + 1)..17)
                        .map(move |j| format!("{{ a = \"R{i}\", b = \"R{j}\", rtt_ms = 50 }}"))
                })
                .collect();
            let text = format!(
            "leader = \"R0\"\nduration_s = 60\n[topology]\nregions = [{}]\nlinks = [\n{}\n]\nsites = [{{ name = \"S\", home = \"R0\", rtt_ms = {{ {rtts} }} }}]\n",
            regions.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", "),
            links.join(",\n"),
        );
            std::fs::write(d.join("r17.toml"), text).unwrap();
        },
        "plan --scenario r17.toml --runs 1 --write-path quorum",
        0,
        &["quorum N16"],
    ),
    (
        "compare names the scenario file a write path cannot play",
        |d| {
            std::fs::write(
                d.join("w.toml"),
                "replication = \"majority\"\nwitnesses = [\"JP\", \"US\"]\n",
            )
            .unwrap();
        },
        "compare --scenario w.toml --runs 1",
        2,
        &["w.toml: cannot be compared", "a witness"],
    ),
    // --- Numbers that overflow after scaling.
    (
        "pbs --step-ms 1e306",
        none,
        "pbs --trials 1000 --step-ms 1e306",
        2,
        &["--step-ms", "one hour"],
    ),
    (
        "pbs --step-ms 1e306 with --report",
        none,
        "pbs --trials 1000 --step-ms 1e306 --report r.html",
        2,
        &["--step-ms", "one hour"],
    ),
    (
        "pbs --step-ms below a microsecond",
        none,
        "pbs --trials 1000 --step-ms 1e-9",
        2,
        &["--step-ms", "1 µs"],
    ),
    // --- Flags a mode ignores, duplicates, nonsense.
    (
        "--report on a shard",
        none,
        "sim -q --iterations 100 --shard 0/2 --out s.json --report r.html",
        2,
        &["--report", "kata86 merge"],
    ),
    (
        "--hgrm on a shard",
        none,
        "drill baseline -q --runs 2 --shard 0/2 --out s.json --hgrm h",
        2,
        &["--hgrm", "kata86 merge"],
    ),
    (
        "--report on a multi-leader sim",
        none,
        "sim -q --iterations 100 --workload wallet --write-path lww --report r.html",
        2,
        &["--report", "compare"],
    ),
    (
        "a repeated --client",
        none,
        "sim -q --iterations 100 --client VN --client VN",
        2,
        &["--client VN", "twice"],
    ),
    (
        "the same escrow region twice",
        none,
        "drill partition --write-path escrow --escrow-regions SG,SG --runs 1",
        2,
        &["--escrow-regions", "SG", "twice"],
    ),
    (
        "--rules-file \"\"",
        none,
        "alerts --format promtool-test --drill baseline --rules-file \"\"",
        2,
        &["--rules-file", "empty"],
    ),
    (
        "an alert threshold over 1 on a share",
        |d| {
            std::fs::write(
                d.join("a.toml"),
                "[[alert]]\nname = \"x\"\nsignal = \"read_error_rate\"\nthreshold = 5\n",
            )
            .unwrap();
        },
        "drill --scenario a.toml --runs 1",
        2,
        &["a.toml:4", "threshold", "never fire"],
    ),
    (
        "plan with a scenario's [[flag]] tables",
        |d| {
            std::fs::write(
                d.join("f.toml"),
                "[[flag]]\nname = \"FORCE_LEADER_READ\"\non_s = 10\noff_s = 20\n",
            )
            .unwrap();
        },
        "plan --scenario f.toml --runs 1",
        2,
        &["f.toml", "[[flag]]", "kata86 drill --scenario"],
    ),
    (
        "--deadline 0 charge latency is no data",
        none,
        "sim -q --iterations 200 --client VN --strategy leader --deadline 0",
        0,
        &["no data"],
    ),
    (
        "--deadline 0 charge latency is null in JSON",
        none,
        "sim -q --iterations 200 --client VN --strategy leader --deadline 0 --format json",
        0,
        &["\"write_ms\": null"],
    ),
    (
        "--deadline 0 charge latency is empty in CSV",
        none,
        "sim -q --iterations 200 --client VN --strategy leader --deadline 0 --format csv",
        0,
        // read p50..mean and count, then the charge's seven columns empty.
        &[
            "read_count,write_p50_ms,write_p95_ms,write_p99_ms,write_p999_ms,write_max_ms,write_mean_ms,write_count,",
            "SG,40.031,40.031,40.031,40.031,40.031,40.016,200,,,,,,,,",
        ],
    ),
];

/// Splits a row's command on spaces, `""` for an empty argument and `%D`
/// for the row's directory.
fn words(cmd: &str, dir: &Path) -> Vec<String> {
    cmd.split(' ')
        .map(|w| match w {
            "\"\"" => String::new(),
            _ => w.replace("%D", &dir.display().to_string()),
        })
        .collect()
}

#[test]
fn every_class_of_issue_21_has_its_exit_code_and_message() {
    let mut failures = Vec::new();
    for (i, (name, setup, cmd, code, says)) in ROWS.iter().enumerate() {
        let dir = scratch(&format!("row{i}"));
        setup(&dir);
        let before = listing(&dir);
        let (got, out, err) = run(&dir, &words(cmd, &dir));
        let shown = if *code == 0 { &out } else { &err };
        let mut why = Vec::new();
        if got != Some(*code) {
            why.push(format!("exit {got:?}, expected {code}"));
        }
        if err.contains("panicked") {
            why.push("panicked".into());
        }
        if *code != 0 {
            if !out.is_empty() {
                why.push("a refusal printed a report".into());
            }
            if err.len() > SCREEN {
                why.push(format!("a message of {} bytes", err.len()));
            }
            // A refusal writes nothing.
            if listing(&dir) != before {
                why.push(format!(
                    "files changed: {:?} -> {:?}",
                    before,
                    listing(&dir)
                ));
            }
        }
        for w in *says {
            if !shown.contains(w) {
                why.push(format!("`{w}` missing"));
            }
        }
        if !why.is_empty() {
            failures.push(format!(
                "{name} ({cmd}): {}\n{}",
                why.join("; "),
                shown.trim_end()
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Every file under `dir` with its size, sorted.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    fn walk(d: &Path, root: &Path, out: &mut Vec<(String, u64)>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.push((format!("{rel}/"), 0));
                walk(&p, root, out);
            } else {
                let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                out.push((rel, len));
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// No merge writes a path that is not on its command line: with the
/// shards' arguments naming outputs, a merge without --report/--hgrm adds
/// no file; with them, exactly those, and the same bytes as the unsharded
/// run's.
#[test]
fn merge_writes_only_the_paths_on_its_command_line() {
    let dir = scratch("paths");
    let files = shards(&dir, DRILL, 2, "d");
    for f in &files {
        tamper(&dir, f, |v| {
            v["arguments"]["report"] = "../escaped.html".into();
            v["arguments"]["hgrm"] = "made/by/the/file".into();
        });
    }
    let before = listing(&dir);
    let mut merge = vec!["merge", "d-0.json", "d-1.json", "--format", "json"];
    let plain = ok(&dir, &merge);
    assert_eq!(listing(&dir), before, "a merge without outputs wrote files");
    assert!(!dir.join("../escaped.html").exists());
    merge.extend(["--report", "m.html", "--hgrm", "mh"]);
    assert_eq!(ok(&dir, &merge), plain);
    let mut added: Vec<String> = listing(&dir)
        .into_iter()
        .filter(|e| !before.contains(e))
        .map(|(p, _)| p)
        .collect();
    added.retain(|p| !p.starts_with("mh/") || !p.ends_with(".hgrm"));
    assert_eq!(added, vec!["m.html".to_string(), "mh/".to_string()]);
    // The merged outputs are the unsharded run's, byte for byte.
    let mut single = DRILL.to_vec();
    single.extend(["--format", "json", "--report", "s.html", "--hgrm", "sh"]);
    assert_eq!(ok(&dir, &single), plain);
    assert_eq!(
        std::fs::read(dir.join("m.html")).unwrap(),
        std::fs::read(dir.join("s.html")).unwrap()
    );
    let names = |d: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("mh"), names("sh"));
    for n in names("mh") {
        assert_eq!(
            std::fs::read(dir.join("mh").join(&n)).unwrap(),
            std::fs::read(dir.join("sh").join(&n)).unwrap(),
            "{n}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two sites whose names sanitise alike get two `.hgrm` files.
#[test]
fn hgrm_names_are_unique_when_site_names_sanitise_alike() {
    let dir = scratch("names");
    std::fs::write(
        dir.join("t.toml"),
        "regions = [\"SG\"]\nlinks = []\nsites = [\n  { name = \"a/b\", home = \"SG\", rtt_ms = { SG = 10 } },\n  { name = \"a b\", home = \"SG\", rtt_ms = { SG = 20 } },\n  { name = \"é\", home = \"SG\", rtt_ms = { SG = 30 } },\n  { name = \"ü\", home = \"SG\", rtt_ms = { SG = 40 } },\n]\n",
    )
    .unwrap();
    ok(
        &dir,
        &[
            "sim",
            "-q",
            "--iterations",
            "200",
            "--topology",
            "t.toml",
            "--strategy",
            "leader",
            "--leader",
            "SG",
            "--hgrm",
            "h",
        ],
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.join("h"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // 4 sites x 3 series, every name portable.
    assert_eq!(names.len(), 12, "{names:?}");
    assert!(names.iter().all(|n| n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))));
    assert!(
        names.contains(&"sim-0-a-b-leader-read.hgrm".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"sim-1-a-b-leader-read.hgrm".to_string()),
        "{names:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
