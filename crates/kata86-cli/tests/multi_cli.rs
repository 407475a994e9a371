//! `kata86 compare` and `kata86 drill --write-path`: exit codes, the JSON
//! flags `invariants_ok` / `invariants_expected`, byte-for-byte
//! reproducibility per write path, and refusals of bad input.

mod common;

use common::{ok, refused};
use serde_json::Value;

const PATHS: [&str; 3] = ["lww", "crdt", "escrow"];

#[test]
fn every_write_path_repeats_its_bytes_on_one_seed() {
    for p in PATHS {
        let args = [
            "drill",
            "partition",
            "--write-path",
            p,
            "--format",
            "json",
            "--seed",
            "5",
        ];
        assert_eq!(ok(&args), ok(&args), "{p}");
    }
    let single = [
        "drill",
        "partition",
        "--write-path",
        "single-leader",
        "--runs",
        "1",
        "--format",
        "json",
    ];
    assert_eq!(ok(&single), ok(&single));
    let cmp = ["compare", "--format", "json", "--seed", "3"];
    assert_eq!(ok(&cmp), ok(&cmp));
}

#[test]
fn single_leader_is_todays_drill_byte_for_byte() {
    let today = ok(&["drill", "baseline", "--runs", "2", "--format", "json"]);
    let named = ok(&[
        "drill",
        "baseline",
        "--runs",
        "2",
        "--format",
        "json",
        "--write-path",
        "single-leader",
    ]);
    // Equal but for the echoed command, which names the flag given.
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).expect("JSON");
        v.as_object_mut().expect("an object").remove("command");
        v
    };
    assert_eq!(strip(&today), strip(&named));
    assert!(named.contains("--write-path single-leader"));
}

#[test]
fn lww_and_crdt_breaches_are_findings_and_escrow_keeps_the_money() {
    for p in PATHS {
        let out = ok(&["drill", "partition", "--write-path", p, "--format", "json"]);
        let v: Value = serde_json::from_str(&out).expect("JSON");
        let expected = p == "escrow";
        assert_eq!(v["invariants_expected"], Value::Bool(expected), "{p}");
        assert!(v["invariants_ok"].is_boolean());
        if expected {
            assert_eq!(v["invariants_ok"], Value::Bool(true), "{p}: {out}");
            assert_eq!(v["overspend_incidents"], 0);
        } else {
            assert_eq!(v["invariants_ok"], Value::Bool(false), "{p}: {out}");
        }
    }
}

#[test]
fn compare_prints_every_path_on_every_drill() {
    let out = ok(&["compare", "--runs", "3", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 4 * 4);
    assert!(rows.iter().all(|r| r["runs"] == 3));
    let table = ok(&["compare", "--runs", "2"]);
    for p in ["single-leader", "lww", "crdt", "escrow"] {
        assert!(table.contains(p), "{table}");
    }
    // Tidy CSV: a header, then one figure per row, every drill x path.
    let csv = ok(&["compare", "--runs", "2", "--format", "csv"]);
    assert_eq!(
        csv.lines().next(),
        Some("drill,write_path,site,metric,statistic,value")
    );
    let pairs: std::collections::BTreeSet<(&str, &str)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    assert_eq!(pairs.len(), 16, "{pairs:?}");
    let scenario = common::repo_root().join("examples/sg-down-two-regions.toml");
    let one = ok(&[
        "compare",
        "--scenario",
        scenario.to_str().expect("UTF-8 path"),
        "--runs",
        "2",
        "--format",
        "csv",
    ]);
    let paths: std::collections::BTreeSet<&str> = one
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(paths.len(), 4, "{one}");
    assert!(one.contains("\nsg-down-two-regions,escrow,"), "{one}");
}

#[test]
fn escrow_rights_can_start_in_one_region() {
    let out = ok(&[
        "drill",
        "partition",
        "--write-path",
        "escrow",
        "--escrow-regions",
        "SG",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["invariants_ok"], Value::Bool(true), "{out}");
    assert!(v["command"]
        .as_str()
        .unwrap()
        .contains("--escrow-regions SG"));
}

#[test]
fn escrow_rebalancing_is_settable_and_named_in_the_command() {
    let json = |policy: &str| -> Value {
        let out = ok(&[
            "drill",
            "partition",
            "--write-path",
            "escrow",
            "--escrow-rebalance",
            policy,
            "--runs",
            "2",
            "--format",
            "json",
        ]);
        serde_json::from_str(&out).expect("JSON")
    };
    let (od, bg) = (json("on-demand"), json("background"));
    for v in [&od, &bg] {
        assert_eq!(v["invariants_ok"], Value::Bool(true));
        assert_eq!(v["overspend_incidents"], 0);
    }
    assert!(od["command"]
        .as_str()
        .unwrap()
        .contains("--escrow-rebalance on-demand"));
    // Background transfers are counted apart from on-demand ones.
    assert_eq!(od["background_transfers"], 0);
    assert!(bg["background_transfers"].as_u64().unwrap() > 0, "{bg}");
    assert!(bg["row"]["background_transfers"]["p50"].as_f64().unwrap() > 0.0);
    assert!(od["rights_transfers"].as_u64().unwrap() > 0);
    // The flag means nothing off escrow.
    for p in ["lww", "single-leader"] {
        let err = refused(&[
            "drill",
            "baseline",
            "--write-path",
            p,
            "--escrow-rebalance",
            "on-demand",
        ]);
        assert!(err.contains("--escrow-rebalance"), "{err}");
    }
}

#[test]
fn bad_write_paths_and_combinations_are_refused() {
    let err = refused(&["drill", "baseline", "--write-path", "paxos"]);
    for p in ["single-leader", "lww", "crdt", "escrow"] {
        assert!(err.contains(p), "{err}");
    }
    let err = refused(&[
        "drill",
        "baseline",
        "--write-path",
        "lww",
        "--policy",
        "promote-auto",
    ]);
    assert!(
        err.contains("--policy") && err.contains("single leader"),
        "{err}"
    );
    let err = refused(&[
        "drill",
        "partition",
        "--write-path",
        "crdt",
        "--replication",
        "majority",
    ]);
    assert!(err.contains("--replication"), "{err}");
    let err = refused(&[
        "drill",
        "baseline",
        "--write-path",
        "escrow",
        "--escrow-regions",
        "",
    ]);
    assert!(err.contains("at least one region holding rights"), "{err}");
    refused(&[
        "drill",
        "baseline",
        "--write-path",
        "escrow",
        "--escrow-regions",
        "MARS",
    ]);
    refused(&[
        "drill",
        "baseline",
        "--write-path",
        "lww",
        "--escrow-regions",
        "SG",
    ]);
    let err = refused(&["drill", "baseline", "--write-path", "lww", "--runs", "1001"]);
    assert!(err.contains("--runs 1001"), "{err}");
    refused(&["drill", "baseline", "--write-path", "lww", "--matrix"]);
    // Runbook flags: B has no leader to force reads to and no eligibility
    // reads to shed; the runbook drill's first step is such a flag.
    let err = refused(&[
        "drill",
        "baseline",
        "--write-path",
        "crdt",
        "--flag",
        "FORCE_LEADER_READ@60-120",
    ]);
    assert!(err.contains("FORCE_LEADER_READ"), "{err}");
    let err = refused(&["drill", "runbook", "--write-path", "lww"]);
    assert!(
        err.contains("runbook") && err.contains("WRITE_READONLY_MODE"),
        "{err}"
    );
    refused(&["compare", "--scenario", "/nonexistent.toml"]);
    for n in ["0", "-1", "1001"] {
        let err = refused(&["compare", "--runs", n]);
        assert!(err.contains("--runs"), "{n}: {err}");
    }
}

#[test]
fn sim_wallet_takes_every_write_path_and_repeats_its_bytes() {
    for p in PATHS {
        let args = [
            "sim",
            "--workload",
            "wallet",
            "--write-path",
            p,
            "--iterations",
            "20000",
            "--format",
            "json",
            "--quiet",
        ];
        let out = ok(&args);
        assert_eq!(out, ok(&args), "{p}");
        let v: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["write_path"], p);
        assert_eq!(v["invariants_expected"], Value::Bool(p == "escrow"), "{p}");
        // No fault: lww and crdt still break the money (concurrent writes
        // within a replication delay); escrow does not.
        assert_eq!(v["invariants_ok"], Value::Bool(p == "escrow"), "{p}: {out}");
        assert!(v["acknowledged_charges"].as_u64().unwrap() > 1000, "{p}");
        let cmd = v["command"].as_str().unwrap();
        assert!(cmd.starts_with("kata86 sim ") && cmd.contains(&format!(" --write-path {p}")));
    }
    // single-leader is the wallet sim as it was.
    let base = ["sim", "--workload", "wallet", "--iterations", "5000", "-q"];
    let mut named = base.to_vec();
    named.extend(["--write-path", "single-leader"]);
    // The same table but for the echoed command, which names the flag.
    let (plain, named) = (ok(&base), ok(&named));
    let body = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("reproduce: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&plain), body(&named));
    assert!(named.contains("--write-path single-leader"), "{named}");
}

#[test]
fn sim_write_paths_refuse_what_they_cannot_mean() {
    for (args, says) in [
        (vec!["sim", "--write-path", "lww"], "--workload wallet"),
        (
            vec!["sim", "--workload", "wallet", "--write-path", "paxos"],
            "[possible values: single-leader, lww, crdt, escrow]",
        ),
        (
            vec![
                "sim",
                "--workload",
                "wallet",
                "--write-path",
                "crdt",
                "--strategy",
                "leader",
            ],
            "has no leader to read from",
        ),
        (
            vec![
                "sim",
                "--workload",
                "wallet",
                "--write-path",
                "crdt",
                "--strategy",
                "local,bounded",
            ],
            "one --strategy",
        ),
        (
            vec![
                "sim",
                "--workload",
                "wallet",
                "--write-path",
                "escrow",
                "--client",
                "VN",
            ],
            "every site at once",
        ),
        (
            vec![
                "sim",
                "--workload",
                "wallet",
                "--write-path",
                "lww",
                "--format",
                "csv",
            ],
            "table or json",
        ),
    ] {
        let err = refused(&args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Issue #19: compare counts what users lose the same way on every path:
/// charges sent during a cut or outage not done (no answer that stood, or a
/// spurious decline), per site; nothing to count without such a fault.
#[test]
fn compare_counts_charges_not_completed_per_site_and_path() {
    let out = ok(&["compare", "--runs", "2", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let rows = v["rows"].as_array().expect("rows");
    for r in rows {
        for s in r["sites"].as_array().expect("sites") {
            let p50 = &s["charges_not_completed"]["p50"];
            match r["drill"].as_str() {
                Some("partition" | "region-down") => {
                    assert!(p50.as_f64().is_some(), "{r}");
                }
                _ => assert!(p50.is_null(), "{r}"),
            }
        }
        if r["drill"] == "partition" && r["write_path"] == "escrow" {
            // Escrow's undone charges include its spurious declines.
            let undone: f64 = r["sites"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["charges_not_completed"]["max"].as_f64().unwrap())
                .sum();
            assert!(undone > 0.0, "{r}");
        }
    }
}

#[test]
fn multi_leader_drills_are_monitored_by_the_same_alert_rules() {
    for path in ["lww", "crdt", "escrow"] {
        let args = [
            "drill",
            "region-down",
            "--write-path",
            path,
            "--runs",
            "1",
            "--format",
            "json",
        ];
        let v: Value = serde_json::from_str(&ok(&args)).expect("json");
        let alerts = v["alerts"].as_array().expect("alerts");
        // SG down: its reads fail at once, and the alert that watches them
        // fires at the end of the first window past the fault's start.
        let fault = alerts
            .iter()
            .find(|a| a["name"] == "read_errors")
            .unwrap_or_else(|| panic!("{path}: read_errors did not fire: {alerts:?}"));
        let start = fault["fault_at_ms"].as_f64().expect("after the fault");
        let fired = fault["fired_at_ms"].as_f64().unwrap();
        assert!(
            fired > start && fired <= start + 10_000.0,
            "{path}: {fault}"
        );
        assert!(fault["resolved_at_ms"].as_f64().unwrap() > start + 120_000.0);
        // Time to detect: the earliest alert after a fault, from its start.
        let earliest = alerts
            .iter()
            .filter_map(|a| Some(a["fired_at_ms"].as_f64()? - a["fault_at_ms"].as_f64()?))
            .fold(f64::INFINITY, f64::min);
        let ttd = v["time_to_detect_ms"].as_f64().unwrap();
        assert!((ttd - earliest).abs() < 1e-6, "{path}: {ttd} vs {earliest}");
        let table = ok(&args[..6]);
        assert!(
            table.contains("alerts in run 1 (every 10.0 s window):"),
            "{table}"
        );
        assert!(table.contains("time to detect:"), "{table}");
    }
    // No fault: nothing to detect, and an alert could only be a false alarm.
    let v: Value = serde_json::from_str(&ok(&[
        "drill",
        "baseline",
        "--write-path",
        "escrow",
        "--runs",
        "1",
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(v["time_to_detect_ms"].is_null());
    assert!(v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["fault_at_ms"].is_null()));
}

/// `WRITE_READONLY_MODE` on B: the charges sent in its window are refused,
/// the identity `charges = acknowledged + declined + unknown + refused`
/// holds, and the switch is reported.
#[test]
fn read_only_mode_refuses_b_charges_in_its_window() {
    for p in PATHS {
        let out = ok(&[
            "drill",
            "baseline",
            "--write-path",
            p,
            "--runs",
            "1",
            "--duration",
            "120",
            "--flag",
            "WRITE_READONLY_MODE@30-60",
            "--format",
            "json",
        ]);
        let v: Value = serde_json::from_str(&out).expect("JSON");
        let r = &v;
        let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k}: {r}"));
        assert!(n("rejected_charges") > 0, "{p}: {r}");
        assert_eq!(
            n("charges"),
            n("acknowledged_charges")
                + n("declined_charges")
                + n("unknown_outcome_charges")
                + n("rejected_charges"),
            "{p}"
        );
        assert_eq!(r["flags"][0]["name"], "WRITE_READONLY_MODE", "{p}");
    }
}
