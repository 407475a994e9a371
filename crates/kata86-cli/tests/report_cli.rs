//! `--report` and `--hgrm`: the figures behind every plot equal the JSON of
//! the same run, `.hgrm` files parse back to the run's percentiles, the same
//! seed gives the same report bytes, and bad paths are refused naming the
//! flag.

mod common;

use std::path::PathBuf;

use common::{kata86, ok, refused, stderr};
use serde_json::Value;

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kata86-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The figures embedded in a report page.
fn figures(html: &str) -> Value {
    let tag = "<pre id=\"kata86-figures\" hidden>";
    let start = html.find(tag).expect("figures embedded") + tag.len();
    let end = html[start..].find("</pre>").expect("closed") + start;
    let json = html[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).expect("figures are JSON")
}

fn run_json_with(args: &[&str], report: &PathBuf) -> (Value, Value, String) {
    let mut all: Vec<&str> = args.to_vec();
    let r = report.to_str().expect("utf-8 path");
    all.extend(["--format", "json", "--report", r]);
    let out = ok(&all);
    let json: Value = serde_json::from_str(&out).expect("json");
    let html = std::fs::read_to_string(report).expect("report written");
    (json, figures(&html), html)
}

#[test]
fn sim_figures_and_hgrm_equal_the_json() {
    let dir = scratch("sim");
    let report = dir.join("sim.html");
    let hgrm = dir.join("hgrm/nested");
    let mut args = vec!["sim", "--iterations", "20000", "--seed", "5", "--hgrm"];
    args.push(hgrm.to_str().expect("utf-8"));
    let (json, fig, html) = run_json_with(&args, &report);
    assert_eq!(fig["seed"], 5);
    assert_eq!(fig["command"], json["command"]);
    assert!(html.contains("kata86 sim --iterations 20000 --seed 5"));
    let f = &fig["figures"];
    assert_eq!(f["kind"], "sim");
    assert_eq!(f["staleness_series"], "lag_ms");
    assert_eq!(f["bound_ms"], 2000.0);
    assert_eq!(f["read_p95_target_ms"], 150.0);
    let cells = f["cells"].as_array().expect("cells");
    let results = json["results"].as_array().expect("results");
    assert_eq!(cells.len(), results.len());
    assert_eq!(cells.len(), 10);
    for (c, r) in cells.iter().zip(results) {
        let (site, strategy) = (
            r["client"].as_str().unwrap(),
            r["strategy"].as_str().unwrap(),
        );
        assert_eq!(c["client"], r["client"]);
        assert_eq!(c["strategy"], r["strategy"]);
        assert_eq!(c["read_p95_ms"], r["read_ms"]["p95"]);
        assert_eq!(c["staleness_p95_ms"], r["lag_ms"]["p95"]);
        assert_eq!(c["staleness_p99_ms"], r["lag_ms"]["p99"]);
        // The SLO table's verdicts are the JSON's.
        let slo = c["slo"].as_array().expect("slo");
        let jslo = r["slo"].as_array().expect("slo");
        assert_eq!(slo.len(), jslo.len());
        for (a, b) in slo.iter().zip(jslo) {
            for k in ["name", "target_ms", "observed_ms", "pass"] {
                assert_eq!(a[k], b[k], "{site} {strategy} {k}");
            }
        }
        // Every series has its .hgrm, which parses back to the run's figures.
        for (series, key) in [
            ("read", "read_ms"),
            ("charge", "write_ms"),
            ("lag", "lag_ms"),
        ] {
            // The site's index in the topology (from 0) tells sites apart
            // whatever their names sanitise to.
            let index = ["VN", "US"]
                .iter()
                .position(|s| *s == site)
                .expect("a kata site");
            let path = hgrm.join(format!("sim-{index}-{site}-{strategy}-{series}.hgrm"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path:?}"));
            let h = metrics::hgrm::parse(&text).expect("parses");
            let s = &r[key];
            assert_eq!(Some(h.total_count), s["count"].as_u64(), "{path:?}");
            assert_eq!(Some(h.max_ms), s["max"].as_f64(), "{path:?}");
            assert_eq!(Some(h.mean_ms), s["mean"].as_f64(), "{path:?}");
            // A percentile read off the file: the first row at or past it.
            let at = |q: f64| h.rows.iter().find(|r| r.quantile >= q).map(|r| r.value_ms);
            assert_eq!(at(0.5), s["p50"].as_f64(), "{path:?} p50");
            // p95 and p99 are not always ticks of the distribution: they lie
            // between the rows around them.
            for (q, k) in [(0.95, "p95"), (0.99, "p99")] {
                let v = s[k].as_f64().unwrap();
                let before = h
                    .rows
                    .iter()
                    .rev()
                    .find(|r| r.quantile < q)
                    .map(|r| r.value_ms);
                assert!(before.is_none_or(|b| b <= v), "{path:?} {k}");
                assert!(at(q).is_some_and(|a| a >= v), "{path:?} {k}");
            }
            assert_eq!(h.rows.last().map(|r| r.value_ms), s["max"].as_f64());
            if series == "lag" {
                // The CDF plotted is the .hgrm's rows, each at its exact share.
                let cdf = c["staleness_cdf"].as_array().expect("cdf");
                assert_eq!(cdf.len(), h.rows.len());
                for (p, row) in cdf.iter().zip(&h.rows) {
                    assert_eq!(p["ms"].as_f64(), Some(row.value_ms));
                    let share = row.total_count as f64 / h.total_count as f64;
                    assert_eq!(p["quantile"].as_f64(), Some(share));
                }
            }
        }
    }
    // 2 sites x 5 strategies x 3 series, nothing else.
    assert_eq!(std::fs::read_dir(&hgrm).expect("dir").count(), 30);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn same_seed_same_report_bytes() {
    let dir = scratch("same");
    let page = |name: &str, seed: &str| {
        let path = dir.join(name);
        ok(&[
            "sim",
            "--iterations",
            "5000",
            "--seed",
            seed,
            "--quiet",
            "--report",
            path.to_str().unwrap(),
        ]);
        std::fs::read(path).expect("written")
    };
    let a = page("a.html", "9");
    assert_eq!(a, page("b.html", "9"));
    assert_ne!(a, page("c.html", "10"));
    let drill = |name: &str| {
        let path = dir.join(name);
        ok(&[
            "drill",
            "lag-spike",
            "--runs",
            "2",
            "--report",
            path.to_str().unwrap(),
        ]);
        std::fs::read(path).expect("written")
    };
    assert_eq!(drill("d1.html"), drill("d2.html"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn spread_eq(fig: &Value, json: &Value, what: &str) {
    for k in ["p50", "p95", "p99", "max"] {
        assert_eq!(fig[k], json[k], "{what} {k}");
    }
}

#[test]
fn drill_figures_equal_the_json() {
    let dir = scratch("drill");
    let report = dir.join("drill.html");
    let hgrm = dir.join("h");
    let args = [
        "drill",
        "region-down",
        "--runs",
        "4",
        "--hgrm",
        hgrm.to_str().unwrap(),
    ];
    let (json, fig, html) = run_json_with(&args, &report);
    assert!(html.contains("kata86 drill region-down --seed 86 --runs 4"));
    let f = &fig["figures"];
    assert_eq!(f["kind"], "drill");
    assert_eq!(f["runs"], 4);
    let configs = f["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 1);
    let (c, r) = (&configs[0], &json["results"][0]);
    assert_eq!(c["label"], "promote-auto / majority");
    // RTO per site and RPO over the runs: the spreads and every run's value.
    let per_run = r["per_run"].as_array().expect("per_run");
    for site in c["rto"].as_array().expect("rto") {
        let name = site["site"].as_str().unwrap();
        spread_eq(&site["spread"], &r["rto_ms"][name], name);
        let runs: Vec<&Value> = per_run.iter().map(|x| &x["rto_ms"][name]).collect();
        let mine: Vec<&Value> = site["runs_ms"].as_array().unwrap().iter().collect();
        assert_eq!(mine, runs, "{name}");
    }
    spread_eq(&c["rpo_spread"], &r["rpo_ms"], "rpo");
    let rpo: Vec<&Value> = per_run.iter().map(|x| &x["rpo_ms"]).collect();
    assert_eq!(
        c["rpo_ms"].as_array().unwrap().iter().collect::<Vec<_>>(),
        rpo
    );
    // The timeline is the first run's: its alerts, flags and promotions.
    let t = &c["timeline"];
    let first = &r["first_run"];
    assert_eq!(t["seed"], first["seed"]);
    let alerts = t["alerts"].as_array().unwrap();
    let jalerts = first["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "region-down fires alerts");
    assert_eq!(alerts.len(), jalerts.len());
    for (a, b) in alerts.iter().zip(jalerts) {
        for k in ["name", "fired_at_ms", "resolved_at_ms"] {
            assert_eq!(a[k], b[k]);
        }
    }
    let promos = t["promotions"].as_array().unwrap();
    let jpromos = first["promotions"].as_array().unwrap();
    assert!(!promos.is_empty(), "promote-auto promotes");
    assert_eq!(promos.len(), jpromos.len());
    for (a, b) in promos.iter().zip(jpromos) {
        assert_eq!(a["at_ms"], b["at_ms"]);
        assert_eq!(a["label"], b["region"]);
    }
    assert_eq!(
        t["flags"].as_array().unwrap().len(),
        first["flags"].as_array().unwrap().len()
    );
    // One point per closed window, over the whole drill; one fault span that
    // starts at the first run's onset + 60 s.
    let windows = t["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 30);
    let onset = per_run[0]["onset_ms"].as_f64().unwrap();
    let from = t["faults"][0]["from_ms"].as_f64().unwrap();
    assert!(
        (from - (60_000.0 + onset)).abs() < 1e-6,
        "{from} vs {onset}"
    );
    assert_eq!(t["faults"][0]["label"], "SG down");
    // The staleness series are kept when a report is asked for.
    assert!(windows
        .iter()
        .any(|w| w["staleness_p95_ms"].as_f64().is_some_and(|s| s > 0.0)));
    // During the outage some window answered fewer charges.
    assert!(windows
        .iter()
        .any(|w| w["charge_success"].as_f64().is_some_and(|s| s < 0.9)));
    // SLO verdicts are the JSON's, inside then outside the faults.
    let slo = c["slo"].as_array().unwrap();
    let j: Vec<&Value> = r["during_faults"]["slo"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r["outside_faults"]["slo"].as_array().unwrap())
        .collect();
    assert_eq!(slo.len(), j.len());
    for (a, b) in slo.iter().zip(j) {
        for k in ["name", "target_ms", "observed_ms", "pass"] {
            assert_eq!(&a[k], &b[k]);
        }
    }
    // Budgets: one per per-site verdict, each the JSON's burn rate and time
    // to exhaustion.
    let budgets = c["budgets"].as_array().expect("budgets");
    let verdicts = r["verdicts"].as_array().expect("verdicts");
    assert_eq!(budgets.len(), verdicts.len());
    assert!(budgets
        .iter()
        .any(|b| b["exhaustion_days"].as_f64().is_some()));
    for (b, v) in budgets.iter().zip(verdicts) {
        for (k, j) in [
            ("site", "site"),
            ("slo", "slo"),
            ("burn_rate", "burn_rate"),
            ("exhaustion_days", "exhaustion_days"),
            ("pass", "pass"),
            ("good_share", "share"),
        ] {
            assert_eq!(b[k], v[j], "{k}");
        }
    }
    assert!(html.contains("Error budgets per site and phase"));
    // .hgrm: 2 windows x sites x 4 series, each matching the JSON's pooled figures.
    let sites = r["during_faults"]["by_client"].as_array().unwrap();
    for (when, key) in [("during", "during_faults"), ("outside", "outside_faults")] {
        for (index, s) in r[key]["by_client"].as_array().unwrap().iter().enumerate() {
            let site = s["client"].as_str().unwrap();
            let path = hgrm.join(format!(
                "drill-region-down-promote-auto-majority-{index}-{site}-bounded-{when}-charge.hgrm"
            ));
            let h = metrics::hgrm::parse(&std::fs::read_to_string(&path).expect("written"))
                .expect("parses");
            assert_eq!(Some(h.total_count), s["write_ms"]["count"].as_u64());
            assert_eq!(Some(h.max_ms), s["write_ms"]["max"].as_f64());
        }
    }
    assert_eq!(
        std::fs::read_dir(&hgrm).unwrap().count(),
        2 * sites.len() * 4
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn matrix_report_has_every_configuration() {
    let dir = scratch("matrix");
    let report = dir.join("m.html");
    let (json, fig, html) = run_json_with(
        &["drill", "region-down", "--matrix", "--runs", "1"],
        &report,
    );
    let configs = fig["figures"]["configs"].as_array().unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(configs.len(), 9);
    for (c, r) in configs.iter().zip(results) {
        let label = format!(
            "{} / {}",
            r["policy"].as_str().unwrap(),
            r["replication"].as_str().unwrap()
        );
        assert_eq!(c["label"], label.as_str());
        spread_eq(&c["rpo_spread"], &r["rpo_ms"], &label);
    }
    assert_eq!(
        html.matches("<svg").count(),
        27,
        "timeline, RTO and RPO per configuration"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_and_pbs_figures_equal_the_json() {
    let dir = scratch("cmp");
    let (json, fig, _) = run_json_with(&["compare", "--runs", "1"], &dir.join("c.html"));
    let rows = fig["figures"]["rows"].as_array().unwrap();
    let jrows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), jrows.len());
    assert_eq!(rows.len(), 16, "four drills x four write paths");
    for (a, b) in rows.iter().zip(jrows) {
        assert_eq!(a["drill"], b["drill"]);
        assert_eq!(a["write_path"], b["write_path"]);
        assert_eq!(a["slo_ok"], b["slo_charge_p95_ok"]);
        for k in [
            "overspend_incidents",
            "lost_updates",
            "duplicate_effects",
            "spurious_declines",
        ] {
            spread_eq(&a[k], &b[k], k);
        }
    }
    let args = [
        "pbs",
        "--preset",
        "lnkd-ssd",
        "--trials",
        "20000",
        "--step-ms",
        "0.5",
        "--points",
        "9",
    ];
    let (json, fig, html) = run_json_with(&args, &dir.join("p.html"));
    assert!(html.contains(
        "kata86 pbs --preset lnkd-ssd --n 3 --r 1 --w 1 --trials 20000 --seed 86 --step-ms 0.5 --points 9"
    ));
    let f = &fig["figures"];
    let curve = f["curve"].as_array().unwrap();
    let jcurve = json["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 9);
    for (a, b) in curve.iter().zip(jcurve) {
        assert_eq!(a["ms"], b["t_ms"]);
        assert_eq!(a["quantile"], b["p_consistent"]);
    }
    for pair in f["t_visibility_ms"].as_array().unwrap() {
        let (p, t) = (pair[0].as_str().unwrap(), &pair[1]);
        assert_eq!(t, &json["t_visibility_ms"][p], "{p}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_paths_are_refused_naming_the_flag() {
    let dir = scratch("bad");
    let missing = dir.join("no/such/dir/r.html");
    let err = refused(&[
        "sim",
        "--iterations",
        "10",
        "--report",
        missing.to_str().unwrap(),
    ]);
    assert!(
        err.contains("--report") && err.contains("does not exist"),
        "{err}"
    );
    let err = refused(&[
        "drill",
        "baseline",
        "--runs",
        "1",
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert!(
        err.contains("--report") && err.contains("is a directory"),
        "{err}"
    );
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    let err = refused(&[
        "sim",
        "--iterations",
        "10",
        "--hgrm",
        file.to_str().unwrap(),
    ]);
    assert!(err.contains("--hgrm") && err.contains("is a file"), "{err}");
    let err = refused(&[
        "drill",
        "baseline",
        "--runs",
        "1",
        "--hgrm",
        file.to_str().unwrap(),
    ]);
    assert!(err.contains("--hgrm"), "{err}");
    let err = refused(&["pbs", "--report", missing.to_str().unwrap()]);
    assert!(err.contains("--report"), "{err}");
    let err = refused(&["compare", "--report", missing.to_str().unwrap()]);
    assert!(err.contains("--report"), "{err}");
    let err = refused(&[
        "drill",
        "partition",
        "--write-path",
        "lww",
        "--report",
        missing.to_str().unwrap(),
    ]);
    assert!(err.contains("--report"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nothing_on_stderr_when_it_is_not_a_terminal() {
    let dir = scratch("quiet");
    let r = dir.join("r.html");
    let o = kata86(&[
        "sim",
        "--iterations",
        "20000",
        "--report",
        r.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "", "no progress when stderr is a pipe");
    let o = kata86(&[
        "drill",
        "baseline",
        "--runs",
        "2",
        "--report",
        r.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_report_figures_equal_the_json() {
    let dir = scratch("plan");
    let report = dir.join("plan.html");
    let (json, fig, html) = run_json_with(
        &[
            "plan",
            "--runs",
            "1",
            "--write-path",
            "majority",
            "--write-path",
            "lww",
        ],
        &report,
    );
    assert_eq!(fig["figures"]["kind"], "plan");
    assert_eq!(fig["command"], json["command"]);
    let designs = fig["figures"]["designs"].as_array().expect("designs");
    let ranked = json["ranked"].as_array().expect("ranked");
    let rejected = json["rejected"].as_array().expect("rejected");
    assert_eq!(designs.len(), ranked.len() + rejected.len());
    for (i, d) in ranked.iter().enumerate() {
        let p = &designs[i];
        assert_eq!(p["design"], d["design"]);
        assert_eq!(p["rank"], i + 1);
        assert_eq!(p["charge_p95_ms"], d["charge_p95_ms"]);
        assert_eq!(p["read_p95_ms"], d["read_p95_ms"]);
        assert_eq!(p["staleness_p99_ms"], d["data_age_p99_ms"]);
    }
    for (d, p) in rejected.iter().zip(&designs[ranked.len()..]) {
        assert_eq!(p["design"], d["design"]);
        assert_eq!(p["rejected"], d["rejected"]);
        assert!(p["rank"].is_null());
    }
    // The best design's budgets: every fault verdict of the JSON, in order.
    let budgets = fig["figures"]["budgets"].as_array().expect("budgets");
    let faults: Vec<&Value> = ranked[0]["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .filter(|v| !v["verdict"]["budget"].is_null())
        .collect();
    assert!(!faults.is_empty());
    assert_eq!(budgets.len(), faults.len());
    for (b, f) in budgets.iter().zip(faults) {
        let v = &f["verdict"];
        assert!(b["phase"]
            .as_str()
            .unwrap()
            .starts_with(f["scenario"].as_str().unwrap()));
        assert_eq!(b["site"], v["site"]);
        assert_eq!(b["exhaustion_days"], v["exhaustion_days"]);
        assert_eq!(b["burn_rate"], v["burn_rate"]);
    }
    assert!(html.contains("Error budgets of"));
    assert!(html.contains("id=\"plot-plan\""));
}

#[test]
fn multi_leader_report_and_hgrm_match_its_json() {
    let dir = scratch("multi-hgrm");
    let hgrm = dir.join("h");
    let page = dir.join("p.html");
    let base = [
        "drill",
        "region-down",
        "--write-path",
        "escrow",
        "--runs",
        "3",
        "--quiet",
    ];
    let mut args = base.to_vec();
    args.extend(["--hgrm", hgrm.to_str().unwrap()]);
    let (r, fig, html) = run_json_with(&args, &page);
    // The same run without --hgrm and --report prints the same document.
    let mut plain = base.to_vec();
    plain.extend(["--format", "json"]);
    assert_eq!(r, serde_json::from_str::<Value>(&ok(&plain)).unwrap());
    let sites = r["during_faults"]["by_client"].as_array().unwrap();
    for (when, key) in [("during", "during_faults"), ("outside", "outside_faults")] {
        for (index, s) in r[key]["by_client"].as_array().unwrap().iter().enumerate() {
            let site = s["client"].as_str().unwrap();
            for (series, figure) in [
                ("charge", "write_ms"),
                ("read", "read_ms"),
                ("data-age", "data_age_ms"),
                ("reported-staleness", "reported_staleness_ms"),
            ] {
                let path = hgrm.join(format!(
                    "drill-region-down-escrow-{index}-{site}-bounded-{when}-{series}.hgrm"
                ));
                let h = metrics::hgrm::parse(&std::fs::read_to_string(&path).expect("written"))
                    .expect("parses");
                assert_eq!(Some(h.total_count), s[figure]["count"].as_u64(), "{path:?}");
                assert_eq!(Some(h.max_ms), s[figure]["max"].as_f64(), "{path:?}");
            }
        }
    }
    assert_eq!(
        std::fs::read_dir(&hgrm).unwrap().count(),
        2 * sites.len() * 4
    );
    // The page: one configuration, the first run's windows from the same
    // monitor, its alerts the JSON's, RTO per site over every run, no RPO.
    let c = &fig["figures"]["configs"][0];
    assert_eq!(c["label"], "escrow / bounded");
    let t = &c["timeline"];
    assert_eq!(t["seed"], r["seed"]);
    assert_eq!(t["windows"].as_array().unwrap().len(), 30);
    assert!(t["windows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["charge_success"].as_f64().is_some_and(|s| s < 0.9)));
    let alerts = t["alerts"].as_array().unwrap();
    let json_alerts = r["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty());
    assert_eq!(alerts.len(), json_alerts.len());
    for (a, b) in alerts.iter().zip(json_alerts) {
        for k in ["name", "fired_at_ms", "resolved_at_ms"] {
            assert_eq!(a[k], b[k], "{k}");
        }
    }
    let fault = &t["faults"][0];
    let onset = r["onset_ms"].as_f64().unwrap();
    assert_eq!(fault["label"], "SG down");
    assert!(fault["from_ms"].as_f64().unwrap() >= onset);
    for s in c["rto"].as_array().unwrap() {
        assert_eq!(s["runs_ms"].as_array().unwrap().len(), 3);
    }
    assert!(c["rpo_spread"].is_null());
    assert!(!html.contains("plot-rpo"), "no RPO plot for a merge");
    let budgets = c["budgets"].as_array().unwrap();
    let verdicts = r["verdicts"].as_array().unwrap();
    assert_eq!(budgets.len(), verdicts.len());
    for (b, v) in budgets.iter().zip(verdicts) {
        for (k, j) in [
            ("site", "site"),
            ("slo", "slo"),
            ("pass", "pass"),
            ("good_share", "share"),
        ] {
            assert_eq!(b[k], v[j], "{k}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
