//! `kata86 pbs`: the JSON shape, byte-identical output whatever the thread
//! count, and refusals of bad input (exit 2, a message that names the fault).

mod common;

use std::process::Command;

use common::{ok, refused};
use serde_json::Value;

fn with_threads(threads: &str, args: &[&str]) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("the kata86 binary runs");
    assert_eq!(o.status.code(), Some(0));
    o.stdout
}

#[test]
fn one_and_two_threads_print_the_same_bytes() {
    // 300,000 trials: five chunks, so two threads really split the work.
    for fmt in ["json", "table", "csv"] {
        let args = [
            "pbs", "--preset", "wan", "--r", "1", "--w", "2", "--trials", "300000", "--format", fmt,
        ];
        assert_eq!(with_threads("1", &args), with_threads("2", &args), "{fmt}");
    }
    let args = [
        "pbs", "--n", "5", "--r", "2", "--w", "2", "--trials", "200000",
    ];
    assert_eq!(with_threads("1", &args), with_threads("2", &args));
}

#[test]
fn json_has_exactly_the_documented_fields() {
    let out = ok(&[
        "pbs",
        "--preset",
        "lnkd-ssd",
        "--n",
        "3",
        "--r",
        "1",
        "--w",
        "1",
        "--trials",
        "20000",
        "--format",
        "json",
        "--step-ms",
        "0.5",
        "--points",
        "5",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "command",
            "curve",
            "k_staleness",
            "n",
            "points",
            "preset",
            "r",
            "read_ms",
            "schema_version",
            "seed",
            "step_ms",
            "t_visibility_ms",
            "trials",
            "w",
            "write_ms"
        ]
    );
    assert_eq!(v["preset"], "lnkd-ssd");
    assert_eq!(v["trials"], 20000);
    for l in ["0.99", "0.999", "0.9999"] {
        assert!(v["t_visibility_ms"][l].as_f64().unwrap() > 0.0, "{l}");
    }
    for p in ["p50", "p99", "p999"] {
        assert!(v["read_ms"][p].as_f64().unwrap() > 0.0);
        assert!(v["write_ms"][p].as_f64().unwrap() > 0.0);
    }
    let k = v["k_staleness"].as_array().unwrap();
    assert_eq!(k[0]["k"], 1);
    assert_eq!(k[0]["closed_form"].as_f64().unwrap(), 0.333333);
    let curve = v["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 5);
    assert_eq!(curve[4]["t_ms"].as_f64().unwrap(), 2.0);
    // The command it echoes plays the same run: the same document.
    let command = v["command"].as_str().unwrap();
    let mut again: Vec<&str> = command.split(' ').skip(1).collect();
    again.extend(["--format", "json"]);
    assert_eq!(serde_json::from_str::<Value>(&ok(&again)).unwrap(), v);
}

#[test]
fn csv_is_the_curve() {
    let out = ok(&[
        "pbs", "--trials", "1000", "--points", "3", "--format", "csv",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "t_ms,p_consistent");
    assert_eq!(lines.len(), 4);
    assert!(lines[3].starts_with("2,"));
}

#[test]
fn a_scenario_topology_and_a_placement_are_accepted() {
    let out = ok(&[
        "pbs",
        "--scenario",
        "tests/fixtures/drill_valid.toml",
        "--trials",
        "1000",
    ]);
    assert!(out.starts_with("pbs "), "{out}");
    let out = ok(&[
        "pbs",
        "--placement",
        "US,US,JP",
        "--trials",
        "1000",
        "--format",
        "json",
    ]);
    // The model names the world and where the replicas sit.
    assert!(
        out.contains("\"preset\": \"default world, replicas US,US,JP\""),
        "{out}"
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let cases: &[(&[&str], &str)] = &[
        (&["pbs", "--r", "0"], "R must be at least 1"),
        (&["pbs", "--w", "0"], "W must be at least 1"),
        (&["pbs", "--r", "4"], "R = 4 is more than N = 3"),
        (&["pbs", "--w", "9", "--n", "5"], "W = 9 is more than N = 5"),
        (&["pbs", "--n", "10"], "N = 10 is not possible"),
        (&["pbs", "--n", "0"], "N = 0 is not possible"),
        (&["pbs", "--preset", "wan", "--n", "4"], "holds 1 to 3"),
        (
            &["pbs", "--preset", "lnkd-ssd", "--n", "17"],
            "holds 1 to 16",
        ),
        (
            &["pbs", "--preset", "nope"],
            "lnkd-ssd, lnkd-disk, ymmr, wan",
        ),
        (&["pbs", "--trials", "0"], "trials must be 1 to"),
        (&["pbs", "--trials", "100000001"], "trials must be 1 to"),
        (&["pbs", "--step-ms", "-1"], "positive"),
        (&["pbs", "--step-ms", "0"], "positive"),
        (&["pbs", "--step-ms", "NaN"], "positive"),
        (&["pbs", "--step-ms", "inf"], "positive"),
        (&["pbs", "--points", "0"], "points"),
        (&["pbs", "--placement", "SG,XX,JP"], "XX"),
        (&["pbs", "--placement", "SG,US"], "names 2 replicas"),
        (
            &["pbs", "--n", "4", "--placement", "SG,SG,SG,SG"],
            "at most 3",
        ),
        (
            &["pbs", "--preset", "ymmr", "--placement", "SG,US,JP"],
            "preset",
        ),
        (
            &["pbs", "--preset", "wan", "--scenario", "x.toml"],
            "cannot be used",
        ),
        (&["pbs", "--scenario", "no/such/file.toml"], "cannot read"),
    ];
    for (args, why) in cases {
        let err = refused(args);
        assert!(err.contains(why), "{args:?}: {err}");
    }
}
