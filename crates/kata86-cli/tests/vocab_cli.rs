//! One vocabulary: durations with units, no `-n` beside `--n`, closed
//! vocabularies listed by `--help`, and flags a mode would ignore refused.

mod common;

use common::{kata86, ok, refused, stderr, stdout};

#[test]
fn short_n_is_refused_with_a_pointer_to_iterations_and_n() {
    let err = refused(&[
        "sim",
        "--strategy",
        "quorum",
        "-n",
        "5",
        "--r",
        "3",
        "--w",
        "3",
    ]);
    assert!(err.contains("--iterations"), "{err}");
    assert!(err.contains("--n N"), "{err}");
    // Bare, too.
    let err = refused(&["sim", "-n"]);
    assert!(err.contains("--iterations"), "{err}");
    // The long form still works.
    ok(&[
        "sim",
        "--iterations",
        "200",
        "--client",
        "VN",
        "--strategy",
        "local",
    ]);
}

#[test]
fn ms_flags_take_units_and_keep_bare_milliseconds() {
    let base = [
        "sim",
        "--iterations",
        "2000",
        "--client",
        "US",
        "--strategy",
        "bounded,fallback",
    ];
    let with = |extra: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        ok(&v)
    };
    let bare = with(&[
        "--deadline",
        "2000",
        "--max-staleness",
        "1500",
        "--jitter",
        "3",
    ]);
    let units = with(&[
        "--deadline",
        "2s",
        "--max-staleness",
        "1.5s",
        "--jitter",
        "3ms",
    ]);
    assert_eq!(bare, units, "2s is 2000 ms, 1.5s is 1500 ms, 3ms is 3");
    // Echoed in the flag's documented unit, ms.
    assert!(units.contains("--deadline 2000 ") && units.contains("--max-staleness 1500"));
    // A different value does change the run: the test can fail.
    let other = with(&[
        "--deadline",
        "2000",
        "--max-staleness",
        "150",
        "--jitter",
        "3",
    ]);
    assert_ne!(bare, other);
}

#[test]
fn bad_durations_name_the_flag_and_the_forms() {
    for (flag, v, unit) in [
        ("--deadline", "2x", "milliseconds"),
        ("--commit", "fast", "milliseconds"),
        ("--jitter", "3 parsecs", "milliseconds"),
    ] {
        let err = refused(&["sim", flag, v]);
        assert!(err.contains(flag), "{err}");
        assert!(err.contains("150ms, 2s"), "{err}");
        assert!(err.contains(unit), "{err}");
        assert!(!err.contains("invalid float literal"), "{err}");
    }
    let err = refused(&["drill", "baseline", "--duration", "5 minutes"]);
    assert!(
        err.contains("--duration") && err.contains("bare number of seconds"),
        "{err}"
    );
    let err = refused(&["pbs", "--step-ms", "1q"]);
    assert!(err.contains("--step-ms") && err.contains("150ms"), "{err}");
}

#[test]
fn second_flags_take_units_and_keep_bare_seconds() {
    let base = ["drill", "lag-spike", "--runs", "1", "--format", "json"];
    let with = |extra: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        ok(&v)
    };
    let bare = with(&[
        "--duration",
        "240",
        "--onset-window",
        "0",
        "--flag",
        "FORCE_LEADER_READ@30-90",
    ]);
    let units = with(&[
        "--duration",
        "4m",
        "--onset-window",
        "0s",
        "--flag",
        "FORCE_LEADER_READ@30000ms-1.5m",
    ]);
    // The same run; only the echoed command differs (as given).
    let results = |s: &str| {
        let v: serde_json::Value = serde_json::from_str(s).expect("JSON");
        v["results"].clone()
    };
    assert_eq!(results(&bare), results(&units));
    assert!(units.contains("--flag FORCE_LEADER_READ@30000ms-1.5m"));
    let v: serde_json::Value = serde_json::from_str(&units).unwrap();
    let flag = &v["results"][0]["first_run"]["flags"][0];
    assert_eq!(flag["on_at_ms"], 30000.0, "{flag}");
    assert_eq!(flag["off_at_ms"], 90000.0, "{flag}");
}

#[test]
fn flag_windows_are_echoed_in_seconds() {
    // Past the drill's end: said in the seconds the flag was given in, not ms.
    let err = refused(&[
        "drill",
        "lag-spike",
        "--onset-window",
        "0",
        "--flag",
        "FORCE_LEADER_READ@200-400",
    ]);
    assert!(
        err.contains("goes off at 400 s") && err.contains("300 s"),
        "{err}"
    );
    assert!(!err.contains("400000"), "{err}");
    let err = refused(&["drill", "lag-spike", "--flag", "FORCE_LEADER_READ@200-100"]);
    assert!(err.contains("100 s") && err.contains("200 s"), "{err}");
    assert!(!err.contains("ms"), "{err}");
    let err = refused(&["drill", "lag-spike", "--flag", "FORCE_LEADER_READ@1x-2m"]);
    assert!(err.contains("--flag") && err.contains("`1x`"), "{err}");
}

#[test]
fn help_lists_the_closed_vocabularies() {
    let help = |args: &[&str]| {
        let o = kata86(args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let drill = help(&["drill", "--help"]);
    for v in [
        "region-down",
        "promote-manual",
        "semi-sync",
        "witness",
        "hlc",
        "single-leader",
        "escrow",
        "bounded",
    ] {
        assert!(drill.contains(&format!("- {v}")), "drill --help lists {v}");
    }
    let sim = help(&["sim", "--help"]);
    assert!(sim.contains("- quorum") && sim.contains("- lww"));
    assert!(
        sim.contains("bare number is ms"),
        "sim --help says the unit"
    );
    let pbs = help(&["pbs", "--help"]);
    assert!(pbs.contains("- lnkd-ssd") && pbs.contains("- wan"));
    // csv only where it works.
    for cmd in ["drill", "plan"] {
        let h = help(&[cmd, "--help"]);
        let format = h.split("--format").nth(1).expect("--format").to_string();
        let format = format.split("\n  -").next().unwrap().to_string();
        assert!(
            format.contains("json") && !format.contains("csv"),
            "{cmd}: {format}"
        );
        let err = refused(&[cmd, "--format", "csv"]);
        assert!(err.contains("[possible values: table, json]"), "{err}");
    }
    for cmd in ["sim", "compare", "pbs"] {
        let h = help(&[cmd, "--help"]);
        assert!(h.contains("- csv"), "{cmd} offers csv");
    }
    // Values clap refuses, with the list.
    let err = refused(&["drill", "region-down", "--policy", "promote"]);
    assert!(err.contains("possible values: reject-writes, promote-manual, promote-auto"));
    let err = refused(&["sim", "--strategy", "nearest"]);
    assert!(
        err.contains("local, leader, fallback, quorum, bounded"),
        "{err}"
    );
}

/// Option B serves reads: `kata86 drill lag-spike --write-path lww
/// --strategy bounded` reports their latency, staleness and verdicts.
#[test]
fn a_multi_leader_drill_serves_reads_by_the_strategy_given() {
    let out = ok(&[
        "drill",
        "lag-spike",
        "--write-path",
        "lww",
        "--strategy",
        "bounded",
        "--runs",
        "1",
    ]);
    assert!(
        out.contains("lww / bounded: per site, every run pooled"),
        "{out}"
    );
    assert!(out.contains("reported staleness p95 ms"), "{out}");
    assert!(
        out.contains("lww / bounded: verdicts per site and phase"),
        "{out}"
    );
    assert!(out.contains("fault 1 lag-spike"), "{out}");
    assert!(
        out.contains("--strategy bounded"),
        "the reproduce line keeps it: {out}"
    );
}

#[test]
fn flags_a_mode_would_ignore_are_refused() {
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "drill",
                "lag-spike",
                "--write-path",
                "lww",
                "--strategy",
                "leader",
            ],
            "--strategy leader: --write-path lww has no leader to read from",
        ),
        (
            &[
                "drill",
                "partition",
                "--write-path",
                "crdt",
                "--no-offset-check",
            ],
            "--no-offset-check",
        ),
        (&["plan", "--without-flags"], "--without-flags"),
        (
            &["pbs", "--preset", "wan", "--placement", "SG,US,JP"],
            "--placement",
        ),
    ];
    for (args, says) in cases {
        let err = refused(args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_topology_file_is_a_scenario_and_a_scenario_is_no_topology() {
    let root = common::repo_root();
    let topo = root.join("examples/three-regions.toml");
    let scen = root.join("examples/sg-down-two-regions.toml");
    let (topo, scen) = (topo.to_str().unwrap(), scen.to_str().unwrap());
    let out = ok(&[
        "drill",
        "--scenario",
        topo,
        "--runs",
        "1",
        "--duration",
        "30",
    ]);
    assert!(out.contains("regions SG,US,JP"), "{out}");
    let err = refused(&["sim", "--topology", scen]);
    assert!(err.contains("this looks like a scenario file"), "{err}");
    assert!(err.contains("--scenario"), "{err}");
}

/// The paragraph `--help` gives `flag` (its line and the indented lines
/// under it), or `None` when the command has no such flag.
fn help_of(help: &str, flag: &str) -> Option<String> {
    let names = |l: &str| {
        let t = l.trim_start();
        t.starts_with('-')
            && t.split([',', ' '])
                .filter(|w| !w.is_empty() && w.starts_with('-'))
                .any(|w| w == flag)
    };
    let mut lines = help.lines().skip_while(|l| !names(l));
    let first = lines.next()?;
    let rest: Vec<&str> = lines
        .take_while(|l| l.starts_with("          ") || l.trim().is_empty())
        .collect();
    Some(
        format!("{first}\n{}", rest.join("\n"))
            .trim_end()
            .to_string(),
    )
}

#[test]
fn shared_options_mean_the_same_in_every_command() {
    // One flattened struct: the same flag, the same words, in every
    // reporting command (the format's values differ where CSV is offered).
    let commands = ["sim", "drill", "compare", "plan", "pbs"];
    let helps: Vec<String> = commands
        .iter()
        .map(|c| stdout(&kata86(&[c, "--help"])))
        .collect();
    for flag in ["--seed", "--report", "--quiet"] {
        let texts: Vec<String> = helps
            .iter()
            .zip(commands)
            .map(|(h, c)| help_of(h, flag).unwrap_or_else(|| panic!("{c} has no {flag}")))
            .collect();
        for (t, c) in texts.iter().zip(commands) {
            assert_eq!(t, &texts[0], "{c} {flag} reads otherwise than sim's");
        }
    }
    // --shard/--out wherever a run can be split, with one meaning.
    let split: Vec<String> = ["sim", "drill", "plan"]
        .iter()
        .map(|c| help_of(&stdout(&kata86(&[c, "--help"])), "--shard").unwrap())
        .collect();
    assert!(split.iter().all(|t| t == &split[0]), "{split:?}");
    // calibrate's table/json is the same vocabulary as drill's.
    let cal = stdout(&kata86(&["calibrate", "postgres", "--help"]));
    assert!(
        cal.contains("- table: Tables for people") && cal.contains("- json:  One JSON document"),
        "{cal}"
    );
    assert!(!cal.contains("- csv"), "{cal}");
}
