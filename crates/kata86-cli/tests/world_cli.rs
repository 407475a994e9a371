//! One world, one file: a scenario with renamed sites, its own SLOs and three
//! regions (examples/europe.toml) runs unchanged under every command, each
//! report names that world, and the drills with no flags play DESIGN.md's
//! design.

mod common;

use common::ok_at_root;
use serde_json::Value;

const FILE: &str = "examples/europe.toml";

/// Every command that reads a world, with arguments that keep it short.
const COMMANDS: [&[&str]; 7] = [
    &["sim", "--iterations", "20000"],
    &["drill", "--runs", "1"],
    &["drill", "region-down", "--runs", "1"],
    &["compare", "--runs", "1", "--quiet"],
    &["plan", "--runs", "1", "--quiet"],
    &["pbs", "--trials", "20000"],
    &["alerts", "--format", "prometheus"],
];

fn run(args: &[&str], extra: &[&str]) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--scenario", FILE]);
    all.extend_from_slice(extra);
    ok_at_root(&all)
}

#[test]
fn the_file_runs_under_every_command_and_each_report_names_its_world() {
    for args in COMMANDS {
        let out = run(args, &[]);
        // The file's own regions and sites, not the default world's (the
        // rules name sites only).
        let own = if args[0] == "alerts" {
            "site=\"UK\""
        } else {
            "FRA"
        };
        assert!(out.contains(own), "{args:?} does not name {own}:\n{out}");
        assert!(!out.contains("SG"), "{args:?} mentions SG:\n{out}");
        if args[0] != "alerts" {
            assert!(
                out.contains("world: your own (from a file)"),
                "{args:?} has no world line:\n{out}"
            );
        }
    }
}

#[test]
fn every_json_document_names_its_world() {
    // The file's world is the user's own; the built-in ones go by their
    // `--world` name, and each document carries the topology it played.
    for args in &COMMANDS[..5] {
        let mut json = args.to_vec();
        json.extend_from_slice(&["--format", "json"]);
        let own: Value = serde_json::from_str(&run(&json, &[])).unwrap();
        assert_eq!(own["world"], "own", "{args:?}");
        let topo = own["topology"].as_str().unwrap();
        assert!(
            topo.contains("FRA") && !topo.contains("SG"),
            "{args:?}: {topo}"
        );
        for world in ["default", "kata"] {
            let mut built_in = json.clone();
            if built_in[..2] == ["drill", "--runs"] {
                // Without a file, a drill is named.
                built_in.insert(1, "baseline");
            }
            built_in.extend_from_slice(&["--world", world]);
            let v: Value = serde_json::from_str(&ok_at_root(&built_in)).unwrap();
            assert_eq!(v["world"], world, "{built_in:?}");
            assert!(
                v["topology"].as_str().unwrap().contains("SG"),
                "{built_in:?}"
            );
        }
    }
    // pbs builds its latencies on a world too (it has no --world: the
    // default one); a published latency fit (--preset) has none.
    let pbs = ["pbs", "--trials", "20000", "--format", "json"];
    let own: Value = serde_json::from_str(&run(&pbs, &[])).unwrap();
    assert_eq!(own["world"], "own");
    assert!(own["topology"].as_str().unwrap().contains("FRA"));
    let default: Value = serde_json::from_str(&ok_at_root(&pbs)).unwrap();
    assert_eq!(default["world"], "default");
    let mut fit = pbs.to_vec();
    fit.extend_from_slice(&["--preset", "lnkd-ssd"]);
    let fit: Value = serde_json::from_str(&ok_at_root(&fit)).unwrap();
    assert!(fit.get("world").is_none() && fit.get("topology").is_none());
}

#[test]
fn the_files_slos_are_the_ones_judged() {
    // sim judges the file's latency objectives (150 ms charge p95, not 500).
    let sim = run(COMMANDS[0], &[]);
    assert!(sim.contains("charge_p95 < 150 ms"), "{sim}");
    assert!(!sim.contains("charge_p95 < 500 ms"), "{sim}");
    // The drill's verdicts name the file's SLOs at the file's sites; the
    // site-specific one is judged at UK only.
    let drill = run(COMMANDS[2], &["--format", "json"]);
    let doc: Value = serde_json::from_str(&drill).expect("JSON");
    let verdicts = doc["results"][0]["verdicts"].as_array().expect("verdicts");
    let at = |slo: &str| -> Vec<String> {
        let mut s: Vec<String> = verdicts
            .iter()
            .filter(|v| v["slo"] == slo)
            .map(|v| v["site"].as_str().unwrap().to_string())
            .collect();
        s.dedup();
        s
    };
    assert_eq!(at("uk_staleness_p95"), vec!["UK"]);
    let mut charge = at("charge_p95");
    charge.sort();
    charge.dedup();
    assert_eq!(charge, vec!["DE", "PL", "UK"]);
    assert!(
        at("read_p95").is_empty(),
        "the default SLOs were not replaced"
    );
    // The built-in fault hits the file's leader.
    let faults = serde_json::to_string(&doc["results"][0]["first_run"]["timeline"]).unwrap();
    assert!(faults.contains("fault 1 starts: FRA down"), "{faults}");
}

#[test]
fn a_drill_with_no_flags_plays_the_design_and_loses_nothing() {
    let out = ok_at_root(&["drill", "partition"]);
    assert!(out.contains("(DESIGN.md's)"), "{out}");
    let json = ok_at_root(&["drill", "partition", "--format", "json"]);
    let doc: Value = serde_json::from_str(&json).expect("JSON");
    let r = &doc["results"][0];
    for k in [
        "lost_acknowledged_charges",
        "lost_amount_cents",
        "lost_acknowledged_top_ups",
        "lost_top_up_amount_cents",
        "overspend_incidents",
    ] {
        assert_eq!(r[k]["max"].as_f64(), Some(0.0), "{k}: {}", r[k]);
    }
    assert_eq!(r["runs_with_broken_invariants"], 0);
    assert_eq!(doc["runs"], 20);
}

#[test]
fn compare_judges_the_worlds_charge_objectives() {
    let out = run(COMMANDS[3], &[]);
    assert!(
        out.contains("DE: charge_p95 95 % < 150 ms; UK: charge_p95 95 % < 150 ms"),
        "{out}"
    );
    assert!(!out.contains("500 ms"), "{out}");
    // The world's objectives decide the column: the default world's charges
    // pass 500 ms under single-leader, the same charges fail 100 ms.
    let slo = std::env::temp_dir().join(format!("kata86-world-{}.yaml", std::process::id()));
    let export = ok_at_root(&["slo", "export", "--format", "openslo"]);
    let tight = export
        .replace("kata86.io/target-ms: '500'", "kata86.io/target-ms: '100'")
        .replace(
            "kata86_charge_duration_seconds_bucket{le=\"0.5\"}",
            "kata86_charge_duration_seconds_bucket{le=\"0.1\"}",
        );
    assert_ne!(tight, export, "the export names the 500 ms target");
    std::fs::write(&slo, tight).unwrap();
    let base = ["compare", "--runs", "1", "--quiet", "--format", "json"];
    let json = |extra: &[&str]| -> Value {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        serde_json::from_str(&ok_at_root(&args)).expect("JSON")
    };
    let ok_of = |doc: &Value| -> Vec<bool> {
        doc["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["write_path"] == "single-leader")
            .map(|r| r["slo_charge_p95_ok"].as_bool().expect("bool"))
            .collect()
    };
    let default = json(&[]);
    let slo_path = slo.to_str().unwrap();
    let tight = json(&["--slo-file", slo_path]);
    let _ = std::fs::remove_file(&slo);
    assert!(ok_of(&default).iter().all(|&x| x), "{default}");
    assert!(ok_of(&tight).iter().all(|&x| !x), "{tight}");
}
