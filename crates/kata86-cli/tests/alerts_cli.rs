//! `kata86 alerts`: the rules for people and for Prometheus, generated from
//! the engine's rules (never from names or thresholds written here), the
//! committed files under ops/prometheus kept equal to what the command
//! writes, and refusals of what makes no sense (exit 2).

use std::path::PathBuf;

mod common;

use common::{ok, refused};
use engine::drill::{run_drill, Builtin, DrillConfig, JpRole};
use engine::ops::prometheus::{alert_expr, duration};
use engine::ops::{default_alerts, Signal};

/// The arguments that write each committed file, and where it is.
const COMMITTED: [(&str, &[&str]); 2] = [
    ("rules.yml", &["alerts", "--format", "prometheus"]),
    (
        "lag_alert_test.yml",
        &[
            "alerts",
            "--format",
            "promtool-test",
            "--drill",
            "runbook",
            "--rules",
            "threshold",
        ],
    ),
];

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn committed(name: &str) -> String {
    std::fs::read_to_string(repo(&format!("ops/prometheus/{name}"))).expect("committed file")
}

#[test]
fn the_table_lists_every_default_rule_with_its_promql() {
    let out = ok(&["alerts"]);
    assert_eq!(out, ok(&["alerts", "--format", "table"]));
    for r in default_alerts() {
        let expr = alert_expr(&r, "10s");
        assert!(
            out.contains(&format!("{}: {expr}", r.name)),
            "{} missing:\n{out}",
            r.name
        );
    }
}

#[test]
fn the_rules_file_has_a_rule_for_every_default_alert() {
    let out = ok(&["alerts", "--format", "prometheus", "--rules", "threshold"]);
    assert!(out.contains("groups:\n  - name: 'kata86'\n    interval: 10s\n    rules:\n"));
    let rules = default_alerts();
    assert_eq!(out.matches("      - alert: ").count(), rules.len());
    for r in rules {
        let hold = duration(r.hold).expect("whole ms");
        let rule = format!(
            "      - alert: '{}'\n        expr: '{}'\n        for: {hold}\n        labels:\n          severity: 'page'\n",
            r.name,
            alert_expr(&r, "10s").replace('\'', "''")
        );
        assert!(out.contains(&rule), "no rule\n{rule}\nin\n{out}");
    }
    let design = std::fs::read_to_string(repo("DESIGN.md")).expect("DESIGN.md");
    assert!(
        out.contains("runbook_url: 'DESIGN.md#7-runbook'") && design.contains("\n## 7. Runbook\n"),
        "the runbook_url anchor must name DESIGN.md's runbook section"
    );
}

#[test]
fn the_committed_prometheus_files_are_what_the_command_writes() {
    for (name, args) in COMMITTED {
        assert!(
            committed(name) == ok(args),
            "ops/prometheus/{name} is stale; regenerate it:\n  cargo run -q -- {} > ops/prometheus/{name}",
            args.join(" ")
        );
    }
}

/// The committed test asserts the lag alert quiet up to the fault and
/// firing where the drill's own monitor fired it after the fault.
#[test]
fn the_committed_test_holds_the_lag_alert_quiet_before_the_fault_and_firing_after() {
    let cfg = DrillConfig::builtin(Builtin::Runbook, JpRole::Replica);
    let r = run_drill(&cfg, 86).expect("valid drill");
    let fault = cfg.faults.iter().map(|f| f.start).min().expect("a fault");
    let test = committed("lag_alert_test.yml");
    let at = |t: u64| duration(t).expect("whole seconds");
    let mut checked = 0;
    for (i, rule) in cfg.alerts.iter().enumerate() {
        if rule.signal != Signal::LagP95 {
            continue;
        }
        let name = &rule.name;
        for s in r.operations.signals.iter().take_while(|s| s.at <= fault) {
            let quiet = format!(
                "      - {{eval_time: {}, alertname: '{name}', exp_alerts: []}}\n",
                at(s.at)
            );
            assert!(test.contains(&quiet), "{quiet}");
        }
        let fired = r
            .operations
            .alerts
            .iter()
            .find(|f| f.alert.0 == i)
            .expect("the lag alert fires in the runbook drill");
        assert!(fired.fired_at > fault, "{fired:?}");
        let firing = format!(
            "      - eval_time: {}\n        alertname: '{name}'\n        exp_alerts:\n          - exp_labels:\n",
            at(fired.fired_at)
        );
        assert!(test.contains(&firing), "{firing}");
        checked += 1;
    }
    assert!(checked > 0, "no lag alert among the defaults");
}

/// Per objective and covered site: a ratio per window, a page and a
/// ticket, each pair's threshold the factor times the budget share.
#[test]
fn the_burn_rate_rules_cover_every_objective_at_every_site() {
    let all = ok(&["alerts", "--format", "prometheus"]);
    let burn = ok(&["alerts", "--format", "prometheus", "--rules", "burn-rate"]);
    let threshold = ok(&["alerts", "--format", "prometheus", "--rules", "threshold"]);
    assert!(all.contains("  - name: 'kata86'\n") && all.contains("  - name: 'kata86-slo-"));
    assert!(!burn.contains("  - name: 'kata86'\n"), "{burn}");
    assert!(!threshold.contains("kata86-slo-"), "{threshold}");
    let cfg = DrillConfig::builtin(Builtin::Baseline, JpRole::Replica);
    let t = &cfg.topology;
    let mut expected = 0;
    for slo in &cfg.slos {
        for site in t.site_ids().map(|s| t.site_name(s)) {
            if !slo.applies_to(site) {
                continue;
            }
            for sev in ["page", "ticket"] {
                expected += 1;
                let head = format!("      - alert: '{}_burn_{sev}'\n        expr: '", slo.name);
                assert!(burn.contains(&head), "{head}");
            }
            // 14.4 over 1 h, written as PromQL computes it.
            let pair = format!(
                "kata86:slo_error_ratio:rate1h{{slo=\"{}\",site=\"{site}\"}} > (14.4 * (1 - {}))",
                slo.name, slo.quantile
            );
            assert!(burn.contains(&pair), "{pair}");
        }
    }
    assert_eq!(burn.matches("      - alert: ").count(), expected);
    assert_eq!(
        burn.matches("      - record: ").count(),
        expected / 2 * 7,
        "7 windows per objective and site"
    );
}

#[test]
fn the_budget_period_and_the_pairs_are_settable() {
    let out = ok(&[
        "alerts",
        "--rules",
        "burn-rate",
        "--budget-days",
        "28",
        "--burn",
        "page:2h/10m:10",
    ]);
    assert!(out.contains("28d error budget"), "{out}");
    // 10 × 2 h of 28 days: 2.976 %.
    assert!(
        out.contains(" page     | 2h          | 10m          | 10        | 3.0 %"),
        "{out}"
    );
    assert!(!out.contains("14.4"), "{out}");
}

/// A factor at or over 1 / (1 − target) needs an error ratio over 1.
#[test]
fn a_factor_that_can_never_fire_is_refused() {
    // 1 / (1 − 0.95) = 20 for the 95 % objectives.
    let err = refused(&[
        "alerts",
        "--format",
        "prometheus",
        "--burn",
        "page:1h/5m:20",
    ]);
    assert!(err.contains("can never fire"), "{err}");
    assert!(
        err.contains("read_p95") && err.contains("1 / (1 − target) = 20"),
        "{err}"
    );
    ok(&[
        "alerts",
        "--format",
        "prometheus",
        "--burn",
        "page:1h/5m:19.9",
    ]);
    let err = refused(&["alerts", "--burn", "page:5m/1h:2"]);
    assert!(err.contains("shorter"), "{err}");
    let err = refused(&["alerts", "--burn", "pager:1h/5m:2"]);
    assert!(err.contains("SEVERITY:LONG/SHORT:FACTOR"), "{err}");
    let err = refused(&["alerts", "--budget-days", "0"]);
    assert!(err.contains("--budget-days"), "{err}");
}

/// The burn-rate test of `region-down --policy reject-writes`: the
/// charge-availability page expected at both sites from the evaluation
/// where the drill's own report says it paged (its windows, 1 h and 6 h,
/// fit in the replayed 6 h warm-up, so the two evaluations agree), and not
/// one evaluation before.
#[test]
fn the_burn_rate_test_expects_the_page_where_the_drill_reports_it() {
    let test = ok(&[
        "alerts",
        "--format",
        "promtool-test",
        "--drill",
        "region-down",
        "--policy",
        "reject-writes",
        "--rules",
        "burn-rate",
    ]);
    let mut cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Replica);
    cfg.policy = engine::drill::Policy::RejectWrites;
    let r = run_drill(&cfg, 86).expect("valid drill");
    let step = cfg.burn_step_s();
    let warmup = 6 * 3600;
    let j = cfg
        .slos
        .iter()
        .position(|s| s.name == "charge_availability")
        .expect("a default objective");
    let mut paged = 0;
    for (si, sli) in r.sli.iter().enumerate() {
        let id = cfg.topology.site_ids().nth(si).expect("a site");
        let site = cfg.topology.site_name(id);
        let Some(page) = sli.burn[j]
            .iter()
            .find(|f| f.severity == slo::Severity::Page)
        else {
            panic!("no page at {site}: {:?}", sli.burn[j]);
        };
        // The page fires after the fault's start, within an hour.
        let fault = sli.faults[0].from_s;
        assert!(
            page.fired_at_s > fault && page.fired_at_s < fault + 3600,
            "{page:?}"
        );
        let at = |t: u64| slo::rules::duration(warmup + t);
        let firing = format!(
            "      - eval_time: {}\n        alertname: 'charge_availability_burn_page'\n",
            at(page.fired_at_s)
        );
        assert!(test.contains(&firing), "{firing}");
        let labels = format!(
            "          - exp_labels:\n              severity: 'page'\n              slo: 'charge_availability'\n              site: '{site}'\n"
        );
        let block = &test[test.find(&firing).unwrap()..];
        let block = &block[..block[1..].find("\n      - ").map_or(block.len(), |e| e + 1)];
        assert!(block.contains(&labels), "{block}");
        let before = format!(
            "eval_time: {}, alertname: 'charge_availability_burn_page', exp_alerts: []",
            at(page.fired_at_s - step)
        );
        // Quiet the step before, unless the other site already fired.
        if !test.contains(&before) {
            let b = format!(
                "      - eval_time: {}\n        alertname: 'charge_availability_burn_page'\n",
                at(page.fired_at_s - step)
            );
            let block = &test[test.find(&b).expect("asserted the step before")..];
            let block = &block[..block[1..].find("\n      - ").map_or(block.len(), |e| e + 1)];
            assert!(!block.contains(&labels), "{block}");
        }
        paged += 1;
    }
    assert_eq!(paged, 2, "both sites page");
    // The staleness objectives judge data age, which no metric carries.
    assert!(
        test.contains("staleness_p95: not asserted: data age"),
        "{test}"
    );
}

#[test]
fn a_scenario_brings_its_own_rules() {
    let file = repo("examples/sg-down-two-regions.toml");
    let file = file.to_str().expect("UTF-8 path");
    let out = ok(&["alerts", "--format", "prometheus", "--scenario", file]);
    assert!(out.contains("- alert: 'writes_refused'"), "{out}");
    assert!(out.contains("- alert: 'replica_lag'"), "{out}");
    for r in default_alerts() {
        assert!(!out.contains(&format!("'{}'", r.name)), "{out}");
    }
    let test = ok(&["alerts", "--format", "promtool-test", "--scenario", file]);
    assert!(test.contains("alertname: 'writes_refused'"), "{test}");
    assert_eq!(
        test,
        ok(&["alerts", "--format", "promtool-test", "--scenario", file])
    );
}

#[test]
fn bad_requests_are_refused_with_exit_2() {
    let err = refused(&["alerts", "--format", "yaml"]);
    assert!(
        err.contains("'yaml'") && err.contains("prometheus"),
        "{err}"
    );
    let err = refused(&["alerts", "--format", "promtool-test"]);
    assert!(err.contains("--drill"), "{err}");
    let err = refused(&["alerts", "--drill", "meteor"]);
    assert!(err.contains("lag-spike"), "{err}");
    let err = refused(&["alerts", "--scenario", "no/such/file.toml"]);
    assert!(err.contains("no/such/file.toml"), "{err}");
    refused(&["alerts", "--drill", "runbook", "--scenario", "x.toml"]);
}

#[test]
fn a_window_prometheus_cannot_express_is_refused() {
    let example = std::fs::read_to_string(repo("examples/sg-down-two-regions.toml"))
        .expect("example readable");
    let text = example.replace("signal_window_s = 10", "signal_window_s = 10.0005");
    assert_ne!(text, example);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sub-ms-window.toml");
    std::fs::write(&path, text).expect("temp file");
    let path = path.to_str().expect("UTF-8 path");
    for format in ["table", "prometheus", "promtool-test"] {
        let err = refused(&["alerts", "--format", format, "--scenario", path]);
        assert!(err.contains("whole number of milliseconds"), "{err}");
    }
}

/// docs/metrics.md names the code's metrics, bounds and queries.
#[test]
fn docs_metrics_md_matches_the_code() {
    use engine::ops::prometheus::*;
    let doc = std::fs::read_to_string(repo("docs/metrics.md")).expect("docs/metrics.md");
    for metric in [
        STALENESS,
        CHARGE_DURATION,
        READS,
        READ_ERRORS,
        STALE_READS,
        CHARGE_ATTEMPTS,
        CHARGE_ATTEMPT_ERRORS,
    ] {
        assert!(doc.contains(&format!("| `{metric}` |")), "{metric}");
    }
    for reason in [REJECTED, TIMEOUT] {
        assert!(doc.contains(&format!("`reason=\"{reason}\"`")), "{reason}");
    }
    let bounds = |b: &[u64]| {
        b.iter()
            .map(|&us| (us as f64 / 1e6).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (what, b) in [
        ("staleness", &STALENESS_BUCKETS_US[..]),
        ("charge attempts", &CHARGE_BUCKETS_US[..]),
    ] {
        let line = format!("- {what}: {} —", bounds(b));
        assert!(doc.contains(&line), "{line}");
    }
    use slo::indicator as sli;
    for metric in [
        sli::REQUESTS,
        sli::READ_DURATION,
        sli::CHARGE_DURATION,
        sli::READ_STALENESS,
    ] {
        assert!(doc.contains(&format!("| `{metric}` |")), "{metric}");
    }
    for outcome in [sli::GOOD, sli::SLOW, sli::FAILED] {
        assert!(
            doc.contains(&format!("`outcome=\"{outcome}\"`")),
            "{outcome}"
        );
    }
    for (name, signal) in scenario::SIGNALS {
        let row = format!(
            "| `{signal:?}` (`{name}`) | `{}` |",
            signal_expr(*signal, "10s")
        );
        assert!(doc.contains(&row), "{row}");
    }
}
