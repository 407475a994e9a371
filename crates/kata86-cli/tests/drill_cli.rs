//! `kata86 drill` driven as a user would: the JSON report's shape and
//! reproducibility, scenario files (valid and malformed), and refusals of
//! names and flag combinations that make no sense.

use std::collections::BTreeSet;
use std::path::PathBuf;
mod common;

use common::{ok, refused};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const POLICIES: [&str; 3] = ["reject-writes", "promote-manual", "promote-auto"];
const MODES: [&str; 3] = ["async", "semi-sync", "majority"];

const KEYS: [&str; 12] = [
    "drill",
    "seed",
    "policy",
    "replication",
    "runs",
    "rto_ms",
    "rpo_ms",
    "lost_acknowledged_charges",
    "lost_amount_cents",
    "overspend_incidents",
    "per_run",
    "first_run",
];

/// A four-quantile figure: p50 <= p95 <= p99 <= max, numbers or null
/// (never), a null only above every number.
fn quantiles(v: &Value) -> [Option<f64>; 4] {
    let q = ["p50", "p95", "p99", "max"].map(|k| {
        let x = &v[k];
        assert!(x.is_null() || x.is_f64() || x.is_u64(), "{k} in {v}");
        x.as_f64()
    });
    for w in q.windows(2) {
        match (w[0], w[1]) {
            (Some(a), Some(b)) => assert!(a <= b, "quantiles out of order: {v}"),
            (None, Some(_)) => panic!("a number above a never: {v}"),
            _ => {}
        }
    }
    q
}

#[test]
fn matrix_json_has_nine_results_with_the_documented_keys_and_is_reproducible() {
    let args = ["drill", "region-down", "--matrix", "--format", "json"];
    let first = ok(&args);
    let second = ok(&args);
    assert_eq!(first, second, "same command, different bytes");

    let doc: Value = serde_json::from_str(&first).expect("stdout is one JSON document");
    let results = doc["results"].as_array().expect("results is an array");
    assert_eq!(results.len(), 9, "3 policies x 3 replication modes");
    let mut cells = BTreeSet::new();
    for r in results {
        for key in KEYS {
            assert!(r.get(key).is_some(), "result key `{key}` missing in {r}");
        }
        assert_eq!(r["drill"], "region-down");
        assert_eq!(r["seed"], 86, "default seed");
        let policy = r["policy"].as_str().expect("policy is a string");
        let mode = r["replication"].as_str().expect("replication is a string");
        assert!(POLICIES.contains(&policy), "{policy}");
        assert!(MODES.contains(&mode), "{mode}");
        cells.insert((policy.to_string(), mode.to_string()));

        // Types and the figures' own consistency.
        assert_eq!(r["runs"], 20, "the default number of runs");
        let per_run = r["per_run"].as_array().expect("per_run is an array");
        assert_eq!(per_run.len(), 20);
        let seeds: Vec<u64> = per_run
            .iter()
            .map(|x| x["seed"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seeds,
            (86..106).collect::<Vec<_>>(),
            "run i plays seed 86 + i"
        );
        for site in ["VN", "US"] {
            quantiles(&r["rto_ms"][site]);
        }
        let rpo = quantiles(&r["rpo_ms"]);
        let lost = quantiles(&r["lost_acknowledged_charges"]);
        let amount = quantiles(&r["lost_amount_cents"]);
        assert!(rpo.iter().all(|x| x.is_some_and(|x| x >= 0.0)));
        // Per run, a loss has an amount, and the spreads are over those runs.
        let mut max_lost = 0;
        for x in per_run {
            let l = x["lost_acknowledged_charges"].as_u64().expect("a count");
            let a = x["lost_amount_cents"].as_i64().expect("cents");
            assert_eq!(l == 0, a == 0, "{policy}/{mode}: lost {l} for {a} cents");
            if l > 0 {
                assert_eq!(x["invariants_ok"], false, "a lost acked charge is a breach");
            }
            max_lost = max_lost.max(l);
        }
        assert_eq!(lost[3], Some(max_lost as f64));
        assert_eq!(lost[3] == Some(0.0), amount[3] == Some(0.0));
        if policy == "reject-writes" {
            assert_eq!(
                r["first_run"]["promotions"].as_array().map(Vec::len),
                Some(0)
            );
            assert_eq!(max_lost, 0, "reject-writes loses nothing");
        }
        let timeline = r["first_run"]["timeline"]
            .as_array()
            .expect("timeline is an array");
        assert!(!timeline.is_empty());
        let times: Vec<f64> = timeline
            .iter()
            .map(|m| {
                assert!(m["what"].is_string(), "{m}");
                m["at_ms"].as_f64().expect("at_ms is a number")
            })
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "timeline out of order"
        );
    }
    assert_eq!(
        cells.len(),
        9,
        "every policy x mode exactly once: {cells:?}"
    );

    // The seed matters: another one gives another report.
    let other = ok(&[
        "drill",
        "region-down",
        "--matrix",
        "--format",
        "json",
        "--seed",
        "7",
    ]);
    assert_ne!(first, other);
}

#[test]
fn a_valid_scenario_file_runs_with_its_own_settings_and_faults() {
    let path = fixture("drill_valid.toml");
    let path = path.to_str().expect("UTF-8 path");
    let out = ok(&["drill", "--scenario", path, "--format", "json"]);
    let doc: Value = serde_json::from_str(&out).expect("one JSON document");
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["drill"], "fixture-valid");
    assert_eq!(r["policy"], "promote-auto");
    assert_eq!(r["replication"], "majority");
    // A file's timeline plays as written: no drawn onset.
    assert_eq!(r["onset_window_ms"], 0.0);
    let timeline = r["first_run"]["timeline"].as_array().expect("timeline");
    let at = |needle: &str| {
        timeline
            .iter()
            .find(|m| m["what"].as_str().is_some_and(|w| w.contains(needle)))
            .and_then(|m| m["at_ms"].as_f64())
            .unwrap_or_else(|| panic!("no `{needle}` in the timeline: {timeline:?}"))
    };
    assert_eq!(at("SG down"), 10_000.0);
    assert_eq!(at("partition US -> JP"), 35_000.0);
    for m in timeline {
        assert!(
            m["at_ms"].as_f64().unwrap() <= 60_000.0,
            "beyond the 60 s drill: {m}"
        );
    }
    // Majority with JP as a replica: SG down is survived without loss.
    assert_eq!(r["lost_acknowledged_charges"]["max"], 0.0);
    assert_eq!(r["runs_with_broken_invariants"], 0);

    // The table runs too, and flags override the file's settings.
    let table = ok(&["drill", "--scenario", path, "--policy", "reject-writes"]);
    assert!(table.contains("reject-writes"), "{table}");
    assert!(
        table.contains("reproduce: kata86 drill --scenario"),
        "{table}"
    );
    let out = ok(&[
        "drill",
        "--scenario",
        path,
        "--policy",
        "reject-writes",
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["results"][0]["policy"], "reject-writes");
    assert_eq!(
        doc["results"][0]["first_run"]["promotions"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

/// 1-based number of the first line of `text` containing `needle`.
fn line_with(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the fixture"))
        + 1
}

/// The `[[fault]]` header that opens the block holding line `line`.
fn header_above(text: &str, line: usize) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    (1..=line)
        .rev()
        .find(|&l| lines[l - 1].trim() == "[[fault]]")
        .unwrap_or(line)
}

/// A malformed scenario is refused (exit 2) with a message
/// `FILE:LINE: reason`, LINE inside `lines`, the reason holding `needles`.
fn refused_at(name: &str, lines: std::ops::RangeInclusive<usize>, needles: &[&str]) -> String {
    let path = fixture(name);
    let shown = path.to_str().expect("UTF-8 path");
    let err = refused(&["drill", "--scenario", shown]);
    let first = err.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("error: ")
        .and_then(|x| x.strip_prefix(shown))
        .and_then(|x| x.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{name}: the message does not start with the file name:\n{err}"));
    let line: usize = rest
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name}: the message names no line:\n{err}"));
    assert!(
        lines.contains(&line),
        "{name}: line {line} named, expected one of {lines:?}:\n{err}"
    );
    for n in needles {
        assert!(first.contains(n), "{name}: `{n}` missing from:\n{err}");
    }
    first.to_string()
}

#[test]
fn malformed_scenarios_are_refused_naming_the_file_and_the_line() {
    let text = |name: &str| std::fs::read_to_string(fixture(name)).expect("fixture");

    let t = text("drill_unknown_region.toml");
    let bad = line_with(&t, "\"EU\"");
    refused_at(
        "drill_unknown_region.toml",
        header_above(&t, bad)..=bad,
        &["EU"],
    );

    let t = text("drill_end_before_start.toml");
    let bad = line_with(&t, "end_s = 35");
    refused_at(
        "drill_end_before_start.toml",
        header_above(&t, bad)..=bad,
        &["35", "40"],
    );

    let t = text("drill_bad_syntax.toml");
    let bad = line_with(&t, "policy = \"promote-auto");
    refused_at("drill_bad_syntax.toml", bad..=bad, &[]);

    let t = text("drill_unknown_key.toml");
    let bad = line_with(&t, "fencing_mode");
    refused_at("drill_unknown_key.toml", bad..=bad, &["fencing_mode"]);

    let t = text("drill_unknown_key_in_fault.toml");
    let bad = line_with(&t, "severity");
    refused_at(
        "drill_unknown_key_in_fault.toml",
        header_above(&t, bad)..=bad,
        &["severity"],
    );
}

/// Two lag spikes on one link at once: the second is at fault, and the
/// message must point at it and name the one it contradicts the way the
/// message numbers faults (1-based: the first `[[fault]]` is fault 1).
#[test]
fn overlapping_lag_spikes_on_one_link_are_refused_at_the_second() {
    let t = std::fs::read_to_string(fixture("drill_overlapping_lag.toml")).expect("fixture");
    let second = line_with(&t, "extra_ms = 2000");
    let msg = refused_at(
        "drill_overlapping_lag.toml",
        header_above(&t, second)..=line_with(&t, "end_s = 40"),
        &["fault 2", "lag"],
    );
    assert!(
        !msg.contains("fault 0"),
        "faults are numbered from 1 in this message, yet it names a `fault 0`: {msg}"
    );
    assert!(
        msg.contains("fault 1"),
        "the contradicted fault is the first: {msg}"
    );
}

/// A bad value inside a scenario file is reported like any other scenario
/// error: with the file and the line.
#[test]
fn an_unknown_policy_in_a_scenario_names_the_file_the_line_and_the_choices() {
    let t = std::fs::read_to_string(fixture("drill_unknown_policy.toml")).expect("fixture");
    let bad = line_with(&t, "yolo");
    refused_at(
        "drill_unknown_policy.toml",
        bad..=bad,
        &["yolo", "reject-writes", "promote-manual", "promote-auto"],
    );
}

#[test]
fn unknown_names_are_refused_naming_the_valid_choices() {
    for (args, choices) in [
        (
            vec!["drill", "meteor"],
            vec!["meteor", "region-down", "partition", "lag-spike"],
        ),
        (
            vec!["drill", "region-down", "--policy", "yolo"],
            vec!["yolo", "reject-writes", "promote-manual", "promote-auto"],
        ),
        (
            vec!["drill", "region-down", "--replication", "quorum"],
            vec!["quorum", "async", "semi-sync", "majority"],
        ),
        (
            vec!["drill", "region-down", "--jp", "mirror"],
            vec!["mirror", "none", "replica", "witness"],
        ),
    ] {
        let err = refused(&args);
        for c in choices {
            assert!(
                err.contains(c),
                "kata86 {args:?}: `{c}` missing from:\n{err}"
            );
        }
    }
}

#[test]
fn flag_combinations_that_make_no_sense_are_refused() {
    // --matrix runs every policy and mode: picking one contradicts it.
    for args in [
        [
            "drill",
            "region-down",
            "--matrix",
            "--policy",
            "reject-writes",
        ],
        ["drill", "region-down", "--matrix", "--replication", "async"],
    ] {
        let err = refused(&args);
        assert!(err.contains("--matrix"), "kata86 {args:?}:\n{err}");
    }
    refused(&["drill", "region-down", "--matrix", "--policy", "x"]);

    let err = refused(&["drill", "region-down", "--format", "csv"]);
    assert!(err.contains("table") && err.contains("json"), "{err}");

    let valid = fixture("drill_valid.toml");
    let valid = valid.to_str().expect("UTF-8 path");
    let err = refused(&["drill", "--scenario", valid, "--jp", "none"]);
    assert!(err.contains("--jp"), "{err}");

    let missing = fixture("drill_no_such_file.toml");
    let missing = missing.to_str().expect("UTF-8 path");
    let err = refused(&["drill", "--scenario", missing]);
    assert!(err.contains(missing), "{err}");
}

/// The same seed gives byte-identical JSON for the wallet workload and for
/// every built-in drill; another seed gives another run.
#[test]
fn every_builtin_drill_and_the_wallet_are_byte_identical_for_one_seed() {
    for drill in [
        "baseline",
        "region-down",
        "partition",
        "lag-spike",
        "clock-skew",
        "runbook",
    ] {
        let args = ["drill", drill, "--format", "json", "--seed", "5"];
        let first = ok(&args);
        assert_eq!(first, ok(&args), "{drill}: two runs differ");
        let doc: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert_eq!(doc["results"][0]["read_strategy"], "bounded", "{drill}");
        let other = ok(&["drill", drill, "--format", "json", "--seed", "6"]);
        assert_ne!(first, other, "{drill}: the seed changes nothing");
    }
    let wallet = [
        "sim",
        "--workload",
        "wallet",
        "--iterations",
        "5000",
        "--format",
        "json",
        "--quiet",
    ];
    assert_eq!(ok(&wallet), ok(&wallet), "wallet runs differ");
}

/// Async's lost tail and a split brain's double spends are what those
/// drills show: reported, exit 0, no `defect`. A majority commit (the
/// design's, the default) loses nothing, and a breach the design promises
/// cannot happen would exit 1.
#[test]
fn breaches_the_design_accepts_are_figures_not_failures() {
    for args in [
        &[
            "drill",
            "partition",
            "--replication",
            "async",
            "--format",
            "json",
        ][..],
        &[
            "drill",
            "partition",
            "--replication",
            "async",
            "--no-fencing",
            "--format",
            "json",
        ][..],
        &["drill", "partition", "--format", "json"][..],
    ] {
        let doc: serde_json::Value = serde_json::from_str(&ok(args)).unwrap();
        let r = &doc["results"][0];
        assert_eq!(r["runs_with_defect"], 0, "{args:?}");
        let broken = r["runs_with_broken_invariants"].as_u64().unwrap();
        if !args.contains(&"async") {
            assert_eq!(r["lost_acknowledged_charges"]["max"], 0.0, "{args:?}");
            assert_eq!(broken, 0, "{args:?}");
        } else {
            assert!(broken > 0, "{args:?}: the drill shows a loss");
        }
    }
}

/// Runs over cores give the same bytes on one thread or two, and run i of
/// seed S is the run `--seed S+i --runs 1` plays alone.
#[test]
fn runs_are_byte_identical_whatever_the_thread_count_and_replay_alone() {
    let args = [
        "drill",
        "partition",
        "--runs",
        "8",
        "--seed",
        "40",
        "--format",
        "json",
    ];
    let with = |threads: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_kata86"))
            .args(args)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(0));
        String::from_utf8(o.stdout).expect("UTF-8")
    };
    let one = with("1");
    assert_eq!(one, with("2"), "the thread count changed the report");
    let doc: Value = serde_json::from_str(&one).unwrap();
    let runs = doc["results"][0]["per_run"].as_array().unwrap();
    assert_eq!(runs.len(), 8);
    // The runs differ: their own seeds and onsets.
    let onsets: BTreeSet<String> = runs.iter().map(|r| r["onset_ms"].to_string()).collect();
    assert!(onsets.len() > 1, "{onsets:?}");
    let fifth = &runs[5];
    assert_eq!(fifth["seed"], 45);
    let alone: Value = serde_json::from_str(&ok(&[
        "drill",
        "partition",
        "--runs",
        "1",
        "--seed",
        "45",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(&alone["results"][0]["per_run"][0], fifth);
}

#[test]
fn bad_run_counts_and_onset_windows_are_refused() {
    for n in ["0", "-3", "10001", "many"] {
        let err = refused(&["drill", "region-down", "--runs", n]);
        assert!(err.contains("runs") || err.contains(n), "{n}: {err}");
    }
    // 180 s + a 200 s window would end after the 300 s drill.
    let err = refused(&["drill", "region-down", "--onset-window", "200"]);
    assert!(err.contains("onset window") && err.contains("300"), "{err}");
    let err = refused(&["drill", "region-down", "--onset-window", "-1"]);
    assert!(err.contains("--onset-window"), "{err}");
}

/// Issue #19's first done-when: the default region-down drill carries, per
/// site and phase, verdicts with good and valid counts; VN's read and charge
/// objectives miss inside the impact window because requests failed, the
/// fault's budget is reported, and every objective passes in steady state.
#[test]
fn region_down_verdicts_are_per_site_and_per_phase() {
    let out = ok(&["drill", "region-down", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let verdicts = v["results"][0]["verdicts"].as_array().expect("verdicts");
    let find = |site: &str, slo: &str, phase: &str| {
        verdicts
            .iter()
            .find(|x| x["site"] == site && x["slo"] == slo && x["phase"] == phase)
            .unwrap_or_else(|| panic!("no {site} {slo} {phase}"))
    };
    for slo in [
        "read_p95",
        "charge_p95",
        "read_availability",
        "charge_availability",
    ] {
        let f = find("VN", slo, "fault");
        assert_eq!(f["share_met"], false, "{f}");
        assert!(f["good"].as_u64() < f["valid"].as_u64(), "{f}");
        assert!(f["budget"]["consumed_ppm"]["p95"].as_u64() > Some(0), "{f}");
        assert_eq!(f["kind"], "region-down");
    }
    for x in verdicts.iter().filter(|x| x["phase"] == "steady") {
        assert_eq!(x["pass"], true, "{x}");
        assert!(x["valid"].as_u64() > Some(0));
    }
    let table = ok(&["drill", "region-down", "--runs", "2"]);
    assert!(table.contains("verdicts per site and phase"), "{table}");
    assert!(table.contains("fault 1 region-down"), "{table}");
}

/// A world whose sites are not the kata's keeps the default objectives that
/// name no site and says which one it could not apply.
#[test]
fn a_default_objective_on_a_missing_site_is_reported_not_applied() {
    let dir = std::env::temp_dir().join(format!("kata86-na-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("renamed.toml");
    std::fs::write(
        &file,
        r#"name = "renamed"
duration_s = 120
leader = "SG"
[topology]
regions = ["SG", "US"]
links = [{ a = "SG", b = "US", rtt_ms = 180 }]
sites = [
  { name = "HN", home = "SG", rtt_ms = { SG = 45, US = 225 } },
  { name = "NY", home = "US", rtt_ms = { SG = 225, US = 10 } },
]
"#,
    )
    .expect("write");
    let path = file.to_str().expect("utf-8");
    let table = ok(&["drill", "--scenario", path, "--runs", "1"]);
    assert!(
        table.contains("SLO read_p95 names site VN, which this world lacks: not applied"),
        "{table}"
    );
    let json = ok(&[
        "drill",
        "--scenario",
        path,
        "--runs",
        "1",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["results"][0]["slo_not_applied"][0]["site"], "VN");
    // The objectives naming no site are judged at both sites.
    let verdicts = v["results"][0]["verdicts"].as_array().expect("verdicts");
    for site in ["HN", "NY"] {
        assert!(verdicts
            .iter()
            .any(|x| x["site"] == site && x["slo"] == "charge_availability"));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn drills_evaluate_the_burn_policy_the_alerts_are_generated_with() {
    let base = ["drill", "region-down", "--runs", "2", "--seed", "5"];
    let default = ok(&base);
    assert!(default.contains("30-day budget; page 1h/5m at 14.4, page 6h/30m at 6"));
    let mut args = base.to_vec();
    args.extend(["--budget-days", "7", "--burn", "page:1h/5m:14.4"]);
    let one = ok(&args);
    assert!(
        one.contains("(7-day budget; page 1h/5m at 14.4; evaluated every"),
        "{one}"
    );
    assert!(
        one.contains("--budget-days 7 --burn page:1h/5m:14.4"),
        "{one}"
    );
    // The runs are the same; each fault spends 30/7 times the share of a
    // 7-day budget that it spends of a 30-day one.
    let consumed = |extra: &[&str]| -> Vec<f64> {
        let mut args = base.to_vec();
        args.extend_from_slice(&["--format", "json"]);
        args.extend_from_slice(extra);
        let doc: Value = serde_json::from_str(&ok(&args)).expect("JSON");
        doc["results"][0]["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .filter_map(|v| v["budget"]["consumed_ppm"]["p95"].as_f64())
            .collect()
    };
    let (month, week) = (consumed(&[]), consumed(&["--budget-days", "7"]));
    assert!(!month.is_empty());
    assert_eq!(month.len(), week.len());
    // ppm are whole numbers: compare the faults that spent a visible share.
    let spent: Vec<(f64, f64)> = month
        .iter()
        .zip(&week)
        .filter(|(m, _)| **m > 1000.0)
        .map(|(m, w)| (*m, *w))
        .collect();
    assert!(!spent.is_empty());
    for (m, w) in spent {
        assert!((w / m - 30.0 / 7.0).abs() < 0.01, "{w} / {m}");
    }
    // A factor that can never fire against a 99.9 % objective is refused,
    // as kata86 alerts refuses it.
    let mut bad = base.to_vec();
    bad.extend(["--burn", "page:1h/5m:1000"]);
    let err = refused(&bad);
    assert!(err.contains("1000"), "{err}");
    let mut bad = base.to_vec();
    bad.extend(["--budget-days", "0.5"]);
    assert!(refused(&bad).contains("--budget-days 0.5"));
}
