//! The real `kata86` binary, driven as a user would.

mod common;

use common::{ok, refused};

use serde_json::Value;

const SITES: [&str; 2] = ["VN", "US"];
const STRATEGIES: [&str; 5] = ["local", "leader", "fallback", "quorum", "bounded"];

#[test]
fn json_is_reproducible_and_has_the_documented_shape() {
    let args = ["sim", "--iterations", "2000", "--format", "json"];
    let first = ok(&args);
    let second = ok(&args);
    assert_eq!(first, second, "same command, different bytes");

    let doc: Value = serde_json::from_str(&first).expect("stdout is one JSON document");
    for key in ["seed", "iterations", "results"] {
        assert!(doc.get(key).is_some(), "top-level key `{key}` missing");
    }
    assert_eq!(doc["iterations"], 2000);
    assert_eq!(doc["seed"], 86, "default seed");
    let results = doc["results"].as_array().expect("results is an array");
    assert_eq!(results.len(), 10, "2 sites x 5 strategies by default");

    let mut cells = Vec::new();
    for r in results {
        for key in [
            "client",
            "strategy",
            "model",
            "leader",
            "read_ms",
            "write_ms",
            "lag_ms",
            "stale_read_ratio",
            "leader_read_ratio",
            "slo",
        ] {
            assert!(r.get(key).is_some(), "result key `{key}` missing in {r}");
        }
        for summary in ["read_ms", "write_ms", "lag_ms"] {
            for key in ["p50", "p95", "p99", "p999", "max", "mean", "count"] {
                assert!(
                    r[summary].get(key).is_some_and(Value::is_number),
                    "`{summary}.{key}` missing or not a number in {r}"
                );
            }
        }
        assert!(
            r.get("reported_staleness_ms").is_none() && r.get("data_age_ms").is_none(),
            "the kata loop measures lag only: {r}"
        );
        assert_eq!(r["read_ms"]["count"], 2000, "{r}");
        assert_eq!(r["lag_ms"]["count"], 2000, "{r}");
        assert_eq!(r["model"], "iid");
        assert_eq!(r["leader"], "SG");
        for ratio in ["stale_read_ratio", "leader_read_ratio"] {
            let x = r[ratio].as_f64().expect("ratio is a number");
            assert!((0.0..=1.0).contains(&x), "{ratio} = {x}");
        }
        let slo = r["slo"].as_array().expect("slo is an array");
        assert!(!slo.is_empty(), "no SLO verdicts in {r}");
        for v in slo {
            for key in ["name", "target_ms", "observed_ms", "pass"] {
                assert!(v.get(key).is_some(), "slo key `{key}` missing in {v}");
            }
            assert!(v["pass"].is_boolean());
        }
        cells.push((
            r["client"].as_str().unwrap().to_string(),
            r["strategy"].as_str().unwrap().to_string(),
        ));
    }
    for site in SITES {
        for strategy in STRATEGIES {
            let n = cells
                .iter()
                .filter(|(c, s)| c == site && s == strategy)
                .count();
            assert_eq!(n, 1, "cell {site}/{strategy} appears {n} times");
        }
    }
}

#[test]
fn table_shows_the_seed_and_a_working_reproduce_line() {
    let table = ok(&["sim", "--iterations", "2000", "--seed", "4242"]);
    assert!(table.contains("4242"), "the seed is not shown:\n{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with("reproduce:"))
        .unwrap_or_else(|| panic!("no `reproduce:` line:\n{table}"));
    let mut words = line["reproduce:".len()..].split_whitespace();
    assert_eq!(words.next(), Some("kata86"), "{line}");
    let args: Vec<&str> = words.collect();
    assert!(args.contains(&"4242"), "{line}");
    let again = ok(&args);
    assert_eq!(again, table, "the reproduce command printed something else");
    // A different seed gives a different report.
    let other = ok(&["sim", "--iterations", "2000", "--seed", "4243"]);
    assert_ne!(other, table);
}

#[test]
fn csv_has_a_header_and_one_row_per_cell() {
    let check = |args: &[&str], cells: usize| {
        let text = ok(args);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + cells, "{args:?}:\n{text}");
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(&header[..2], ["client", "strategy"], "{}", lines[0]);
        for row in &lines[1..] {
            assert_eq!(
                row.split(',').count(),
                header.len(),
                "row and header disagree:\n{}\n{row}",
                lines[0]
            );
        }
        lines[1..]
            .iter()
            .map(|l| {
                let mut f = l.split(',');
                (f.next().unwrap().to_string(), f.next().unwrap().to_string())
            })
            .collect::<Vec<_>>()
    };
    let all = check(&["sim", "--iterations", "2000", "--format", "csv"], 10);
    for site in SITES {
        for strategy in STRATEGIES {
            assert!(
                all.contains(&(site.to_string(), strategy.to_string())),
                "{site}/{strategy} missing"
            );
        }
    }
    let some = check(
        &[
            "sim",
            "--iterations",
            "2000",
            "--format",
            "csv",
            "--client",
            "US",
            "--strategy",
            "local",
            "--strategy",
            "fallback",
        ],
        2,
    );
    assert_eq!(
        some,
        [
            ("US".to_string(), "local".to_string()),
            ("US".to_string(), "fallback".to_string())
        ]
    );
}

/// Bad input: exit code 2, nothing on stdout, no panic, and a message on
/// stderr that contains every one of `needles`.
fn rejects(args: &[&str], needles: &[&str]) {
    let err = refused(args);
    for n in needles {
        assert!(
            err.contains(n),
            "kata86 {args:?}: stderr does not mention `{n}`:\n{err}"
        );
    }
}

#[test]
fn unknown_names_are_rejected_with_the_known_ones() {
    rejects(
        &["sim", "--iterations", "100", "--client", "TH"],
        &["TH", "VN", "US"],
    );
    rejects(
        &[
            "sim",
            "--iterations",
            "100",
            "--world",
            "kata",
            "--leader",
            "JP",
        ],
        &["JP", "SG", "US"],
    );
    rejects(
        &["sim", "--iterations", "100", "--strategy", "nearest"],
        &["nearest", "local", "fallback", "quorum"],
    );
    rejects(
        &["sim", "--iterations", "100", "--model", "foo"],
        &["foo", "iid", "episodic"],
    );
    rejects(&["frobnicate"], &["frobnicate"]);
    rejects(&[], &["sim"]);
}

#[test]
fn zero_iterations_are_rejected() {
    rejects(&["sim", "--iterations", "0"], &["iterations"]);
}

#[test]
fn negative_values_written_with_equals_are_rejected() {
    rejects(
        &["sim", "--iterations", "100", "--deadline=-5"],
        &["deadline", "-5"],
    );
    rejects(
        &["sim", "--iterations", "100", "--jitter=-1"],
        &["jitter", "-1"],
    );
    rejects(
        &["sim", "--iterations", "100", "--commit=-1"],
        &["commit", "-1"],
    );
    rejects(
        &["sim", "--iterations", "100", "--rate=-1"],
        &["rate", "-1"],
    );
    rejects(&["sim", "--iterations", "100", "--rate", "0"], &["rate"]);
    rejects(
        &["sim", "--iterations", "100", "--deadline", "nan"],
        &["deadline"],
    );
    rejects(
        &["sim", "--iterations", "100", "--fallback-threshold=-1"],
        &["fallback-threshold", "-1"],
    );
    rejects(
        &["sim", "--iterations", "100", "--max-staleness=-1"],
        &["max-staleness", "-1"],
    );
}

/// The way a user types it: `--deadline -5`. The message must say which flag
/// is wrong and show the value, not merely that `-5` was unexpected.
#[test]
fn negative_values_written_with_a_space_are_explained() {
    rejects(
        &["sim", "--iterations", "100", "--deadline", "-5"],
        &["deadline", "-5"],
    );
    rejects(
        &["sim", "--iterations", "100", "--jitter", "-1"],
        &["jitter", "-1"],
    );
}

#[test]
fn help_explains_the_flags() {
    let top = ok(&["--help"]);
    assert!(top.contains("sim"), "{top}");
    let sim = ok(&["sim", "--help"]);
    for flag in [
        "--iterations",
        "--seed",
        "--client",
        "--strategy",
        "--model",
        "--leader",
        "--format",
        "--rate",
        "--jitter",
        "--deadline",
        "--commit",
        "--fallback-threshold",
        "--max-staleness",
    ] {
        assert!(
            sim.contains(flag),
            "`sim --help` does not mention {flag}:\n{sim}"
        );
    }
    for value in [
        "local", "fallback", "quorum", "iid", "episodic", "json", "csv",
    ] {
        assert!(sim.contains(value), "`sim --help` does not mention {value}");
    }
}

/// Numbers past their bounds are refused with the bound, never saturated
/// into a run with wrong figures; work past a normal run needs asking for.
#[test]
fn numbers_past_their_bounds_are_refused_with_the_bound() {
    for (args, needle) in [
        (
            &["sim", "--iterations", "18446744073709551615"][..],
            "1000000000",
        ),
        (&["sim", "--commit", "1e308"][..], "3600000"),
        (&["sim", "--jitter", "1e308"][..], "10000"),
        (&["sim", "--deadline", "inf"][..], "3600000"),
        (
            &["sim", "--workload", "wallet", "--accounts", "4294967295"][..],
            "1000000",
        ),
        (
            &["sim", "--workload", "wallet", "--zipf", "1e308"][..],
            "at most 10",
        ),
        // The shared cost model (issue #21): a billion wallet requests in
        // each of 8 cells is about 35 minutes.
        (
            &["sim", "--workload", "wallet", "--iterations", "1000000000"][..],
            "--allow-long",
        ),
    ] {
        let err = refused(args);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
