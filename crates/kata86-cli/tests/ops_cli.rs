//! `kata86 drill` and operations, driven as an operator would: the runbook's
//! JSON report (shape and reproducibility), runbook flags and watermark
//! clocks on the command line and in scenario files, and refusals of what
//! makes no sense (exit 2, a clear message, file:line for scenario files).

use std::path::PathBuf;
mod common;

use common::{ok, refused};

use serde_json::Value;

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).expect("stdout is one JSON document")
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// The 1-based line of the first line of `path` containing `needle`.
fn line_of(path: &str, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .expect("fixture readable")
        .lines()
        .position(|l| l.contains(needle))
        .expect("needle in fixture")
        + 1
}

/// `err` names `path` and a line within `[from, to]` as `path:LINE:`.
fn names_line(err: &str, path: &str, from: usize, to: usize) -> bool {
    (from..=to).any(|l| err.contains(&format!("{path}:{l}:")))
}

fn f64_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

// ---------------------------------------------------------------------------
// 6. The runbook's JSON: byte-identical and with the documented keys
// ---------------------------------------------------------------------------

#[test]
fn runbook_json_is_reproducible_and_has_the_operations_keys() {
    let args = ["drill", "runbook", "--format", "json"];
    let first = ok(&args);
    let second = ok(&args);
    assert_eq!(first, second, "same command, different bytes");
    let doc: Value = serde_json::from_str(&first).expect("one JSON document");
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["drill"], "runbook");
    // The operations story of one run: the first, in full.
    let r = &results[0]["first_run"];

    let alerts = r["alerts"].as_array().expect("alerts is an array");
    assert!(!alerts.is_empty(), "the spike fires an alert");
    for a in alerts {
        assert!(a["name"].is_string(), "{a}");
        let fired = f64_of(&a["fired_at_ms"]);
        assert!(a.get("fault_at_ms").is_some(), "{a}");
        if let Some(f) = a["fault_at_ms"].as_f64() {
            assert!(f <= fired, "an alert's fault precedes it: {a}");
        }
    }
    let flags = r["flags"].as_array().expect("flags is an array");
    assert!(!flags.is_empty(), "the runbook mitigates with a flag");
    for f in flags {
        assert!(
            ["FORCE_LEADER_READ", "WRITE_READONLY_MODE", "DISABLE_RECS"]
                .contains(&f["name"].as_str().expect("name")),
            "{f}"
        );
        let on = f64_of(&f["on_at_ms"]);
        assert!(f.get("off_at_ms").is_some(), "{f}");
        if let Some(off) = f["off_at_ms"].as_f64() {
            assert!(off > on, "{f}");
        }
    }
    let e = &r["staleness_error_ms"];
    let (p50, p95, p99, max) = (
        f64_of(&e["p50"]),
        f64_of(&e["p95"]),
        f64_of(&e["p99"]),
        f64_of(&e["max"]),
    );
    assert!(0.0 <= p50 && p50 <= p95 && p95 <= p99 && p99 <= max, "{e}");
    let ratio = f64_of(&r["underreported_read_ratio"]);
    assert!((0.0..=1.0).contains(&ratio));

    // The detection time the report states is the first firing with a
    // fault, and it is within one 10 s monitoring window and a hold.
    let ttd = f64_of(&r["time_to_detect_ms"]);
    let earliest = alerts
        .iter()
        .filter_map(|a| Some(f64_of(&a["fired_at_ms"]) - a["fault_at_ms"].as_f64()?))
        .fold(f64::INFINITY, f64::min);
    assert!((ttd - earliest).abs() < 1e-6, "{ttd} vs {earliest}");
    // One 10 s window plus the longest `for:` hold of the default rules (60 s).
    assert!(ttd > 0.0 && ttd <= 70_000.0, "{ttd}");

    // A different seed is a different run.
    let other = ok(&["drill", "runbook", "--format", "json", "--seed", "7"]);
    assert_ne!(first, other);
}

// ---------------------------------------------------------------------------
// Flags and watermarks on the command line
// ---------------------------------------------------------------------------

#[test]
fn force_leader_read_for_the_spike_serves_nothing_stale_during_it() {
    let r = &json(&[
        "drill",
        "lag-spike",
        "--flag",
        "FORCE_LEADER_READ@60-180",
        "--format",
        "json",
    ])["results"][0];
    assert_eq!(
        r["during_faults"]["total"]["reads_over_bound"], 0,
        "{}",
        r["during_faults"]
    );
    // The flag moves with the fault: both shifted by the run's drawn onset.
    let flags = r["first_run"]["flags"].as_array().unwrap();
    let onset = f64_of(&r["per_run"][0]["onset_ms"]);
    assert!((0.0..60_000.0).contains(&onset), "{onset}");
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0]["name"], "FORCE_LEADER_READ");
    let near = |v: &Value, x: f64| (f64_of(v) - x).abs() < 1e-6;
    assert!(near(&flags[0]["on_at_ms"], 60_000.0 + onset), "{flags:?}");
    assert!(near(&flags[0]["off_at_ms"], 180_000.0 + onset), "{flags:?}");
    // Without the flag, under `local` reads, the spike does serve stale reads.
    let plain = &json(&[
        "drill",
        "lag-spike",
        "--strategy",
        "local",
        "--format",
        "json",
    ])["results"][0];
    assert_eq!(plain["read_strategy"], "local");
    assert!(
        plain["during_faults"]["total"]["reads_over_bound"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn clock_skew_compares_both_watermarks_and_hlc_never_under_reports() {
    let doc = json(&["drill", "clock-skew", "--format", "json"]);
    let results = doc["results"].as_array().unwrap();
    let by = |w: &str| {
        results
            .iter()
            .find(|r| r["watermark"].as_str() == Some(w))
            .unwrap_or_else(|| panic!("a {w} run"))
    };
    let (wall, hlc) = (by("wall"), by("hlc"));
    assert!(f64_of(&wall["underreported_read_ratio"]) >= 0.99, "{wall}");
    assert_eq!(f64_of(&hlc["underreported_read_ratio"]), 0.0);
    // Both bounded by the 500 ms skew (bound), one histogram bucket over.
    for r in [wall, hlc] {
        assert!(
            f64_of(&r["staleness_error_ms"]["max"]) <= 500.0 * 1.001,
            "{r}"
        );
    }
    // Asking for one watermark runs only that one.
    let one = json(&[
        "drill",
        "clock-skew",
        "--watermark",
        "hlc",
        "--format",
        "json",
    ]);
    let results = one["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["watermark"], "hlc");
}

// ---------------------------------------------------------------------------
// 7. Refusals on the command line
// ---------------------------------------------------------------------------

#[test]
fn an_unknown_flag_name_is_refused_naming_the_known_ones() {
    let err = refused(&["drill", "lag-spike", "--flag", "BOGUS@1-2"]);
    assert!(err.contains("BOGUS"), "{err}");
    for known in ["FORCE_LEADER_READ", "WRITE_READONLY_MODE", "DISABLE_RECS"] {
        assert!(err.contains(known), "lists {known}: {err}");
    }
}

#[test]
fn a_flag_without_a_window_is_refused_with_the_expected_form() {
    let err = refused(&["drill", "lag-spike", "--flag", "FORCE_LEADER_READ@5"]);
    assert!(err.contains("FORCE_LEADER_READ@5"), "{err}");
    assert!(err.contains("NAME@ON-OFF"), "{err}");
    // A window that ends before it starts, or after the drill.
    let err = refused(&["drill", "lag-spike", "--flag", "FORCE_LEADER_READ@50-10"]);
    assert!(err.contains("FORCE_LEADER_READ"), "{err}");
    let err = refused(&["drill", "lag-spike", "--flag", "DISABLE_RECS@10-400"]);
    assert!(err.contains("DISABLE_RECS"), "{err}");
    refused(&["drill", "lag-spike", "--flag", "FORCE_LEADER_READ"]);
    refused(&["drill", "lag-spike", "--flag", "FORCE_LEADER_READ@a-b"]);
}

/// The example with a clock beyond the bound shows what the offset check
/// buys: without it a lease overlap and under-reported reads, with it none
/// (and the reads it refused). A scenario's `offset_check = false` is the
/// same as `--no-offset-check`.
#[test]
fn the_offset_check_example_shows_overlap_and_under_reports_only_without_the_check() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/clock-jump-beyond-bound.toml")
        .display()
        .to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "drill",
            "--scenario",
            path.as_str(),
            "--runs",
            "3",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        json(&args)
    };
    // Over every run: the largest overlap, the pooled under-reporting.
    let on = run(&[]);
    let r = &on["results"][0];
    assert_eq!(r["watermark"], "hlc");
    assert_eq!(r["max_offset_enforced"], true);
    assert_eq!(f64_of(&r["lease_overlap_ms"]["max"]), 0.0, "{r}");
    assert_eq!(f64_of(&r["underreported_read_ratio"]), 0.0, "{r}");
    assert!(
        r["first_run"]["offset_refused_reads"].as_u64().unwrap() > 0,
        "{r}"
    );
    let off = run(&["--no-offset-check"]);
    assert!(off["command"]
        .as_str()
        .unwrap()
        .contains("--no-offset-check"));
    let r = &off["results"][0];
    assert_eq!(r["max_offset_enforced"], false);
    assert!(f64_of(&r["lease_overlap_ms"]["p50"]) > 0.0, "{r}");
    assert!(f64_of(&r["underreported_read_ratio"]) > 0.0, "{r}");
    assert_eq!(r["first_run"]["offset_refused_reads"], 0);
    // The same switch in the file.
    let text = std::fs::read_to_string(&path).unwrap();
    let dir = std::env::temp_dir().join(format!("kata86-offset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("no-check.toml");
    std::fs::write(
        &file,
        text.replace(
            "watermark = \"hlc\"",
            "watermark = \"hlc\"\noffset_check = false",
        ),
    )
    .unwrap();
    let file = file.display().to_string();
    let from_file = json(&[
        "drill",
        "--scenario",
        &file,
        "--runs",
        "3",
        "--format",
        "json",
    ]);
    assert_eq!(from_file["results"][0]["max_offset_enforced"], false);
    assert_eq!(
        from_file["results"][0]["lease_overlap_ms"],
        off["results"][0]["lease_overlap_ms"]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unknown_watermark_is_refused_naming_the_known_ones() {
    let err = refused(&["drill", "clock-skew", "--watermark", "sundial"]);
    assert!(err.contains("sundial"), "{err}");
    assert!(err.contains("wall") && err.contains("hlc"), "{err}");
}

// ---------------------------------------------------------------------------
// 7. Scenario files with [[clock]] and [[flag]]
// ---------------------------------------------------------------------------

#[test]
fn a_scenario_with_clocks_and_flags_runs_them() {
    let path = fixture("ops_clock_flag.toml");
    let args = ["drill", "--scenario", path.as_str(), "--format", "json"];
    let first = ok(&args);
    assert_eq!(first, ok(&args), "a scenario run is reproducible");
    let doc: Value = serde_json::from_str(&first).unwrap();
    let r = &doc["results"][0];
    assert_eq!(r["drill"], "ops-clock-flag");
    assert_eq!(r["watermark"], "wall");
    // [[flag]]: on for the spike (20 s → 50 s): nothing stale during it.
    let flags = r["first_run"]["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["name"], "FORCE_LEADER_READ");
    assert_eq!(f64_of(&flags[0]["on_at_ms"]), 20_000.0);
    assert_eq!(f64_of(&flags[0]["off_at_ms"]), 50_000.0);
    assert_eq!(r["during_faults"]["total"]["reads_over_bound"], 0);
    // [[clock]]: SG +250 ms, US −250 ms with wall-clock watermarks: reads
    // are under-reported, by at most the 500 ms between the two clocks. With
    // exact clocks nothing would be.
    assert!(f64_of(&r["underreported_read_ratio"]) > 0.9, "{r}");
    let max = f64_of(&r["staleness_error_ms"]["max"]);
    assert!(max > 0.0 && max <= 500.0 * 1.001, "{max}");
}

#[test]
fn an_unknown_flag_in_a_scenario_is_refused_with_file_and_line() {
    let path = fixture("ops_unknown_flag.toml");
    let err = refused(&["drill", "--scenario", &path]);
    let (header, name) = (
        line_of(&path, "[[flag]]"),
        line_of(&path, "FORCE_LEADER_READS"),
    );
    assert!(names_line(&err, &path, header, name), "{err}");
    assert!(err.contains("FORCE_LEADER_READS"), "{err}");
    assert!(
        err.contains("FORCE_LEADER_READ,") || err.contains("DISABLE_RECS"),
        "{err}"
    );
}

#[test]
fn a_clock_on_an_unknown_region_is_refused_with_file_and_line() {
    let path = fixture("ops_clock_unknown_region.toml");
    let err = refused(&["drill", "--scenario", &path]);
    // The second [[clock]] (EU), not the first (SG).
    let eu = line_of(&path, "\"EU\"");
    assert!(names_line(&err, &path, eu - 2, eu), "{err}");
    assert!(err.contains("EU"), "{err}");
}

/// Other scenario errors name their line (`[[fault]]` windows do); a
/// `[[flag]]` window past the drill's end should too.
#[test]
fn a_flag_window_past_the_drill_in_a_scenario_names_its_line() {
    let path = fixture("ops_flag_after_end.toml");
    let err = refused(&["drill", "--scenario", &path]);
    assert!(err.contains("WRITE_READONLY_MODE"), "{err}");
    let off = line_of(&path, "off_s = 90");
    assert!(names_line(&err, &path, off - 3, off), "{err}");
}

/// A drift of `inf` ppm is not a clock: refuse it (with its line) rather
/// than run on wrapped-around arithmetic.
#[test]
fn a_non_finite_clock_drift_in_a_scenario_is_refused() {
    let path = fixture("ops_clock_nonfinite.toml");
    let err = refused(&["drill", "--scenario", &path]);
    let ppm = line_of(&path, "ppm = inf");
    assert!(names_line(&err, &path, ppm - 3, ppm), "{err}");
}
