//! The page: every plot present with its title, axes and legend; nothing
//! fetched; the same figures give the same bytes.

use report::*;

fn verdict(scope: &str, name: &str, observed: Option<f64>, pass: bool) -> Verdict {
    Verdict {
        scope: scope.into(),
        name: name.into(),
        target_ms: 150.0,
        observed_ms: observed,
        pass,
    }
}

fn sim() -> Report {
    let cell = |client: &str, strategy: &str, p99: f64| SimCell {
        client: client.into(),
        strategy: strategy.into(),
        read_p95_ms: 40.0,
        staleness_p95_ms: p99 / 2.0,
        staleness_p99_ms: p99,
        staleness_cdf: vec![
            CdfPoint {
                ms: 0.0,
                quantile: 0.0,
            },
            CdfPoint {
                ms: p99 / 2.0,
                quantile: 0.95,
            },
            CdfPoint {
                ms: p99,
                quantile: 1.0,
            },
        ],
        slo: vec![
            verdict(
                &format!("{client} / {strategy}"),
                "read_p95",
                Some(40.0),
                true,
            ),
            verdict(
                &format!("{client} / {strategy}"),
                "staleness_p99",
                Some(p99),
                p99 < 150.0,
            ),
        ],
    };
    Report {
        command: "kata86 sim --seed 7 --iterations 10".into(),
        seed: 7,
        figures: Figures::Sim(SimFigures {
            staleness_series: "lag_ms".into(),
            bound_ms: 2000.0,
            read_p95_target_ms: Some(150.0),
            read_p95_sites: vec!["VN".into()],
            staleness_p99_target_ms: Some(10000.0),
            cells: vec![
                cell("VN", "local", 0.0),
                cell("US", "local", 6250.0),
                cell("US", "leader", 0.0),
            ],
        }),
    }
}

fn spread(x: f64) -> SpreadMs {
    SpreadMs {
        p50: Some(x),
        p95: Some(x),
        p99: Some(x),
        max: None,
    }
}

fn drill() -> Report {
    let windows = (1..=30)
        .map(|i| WindowPoint {
            end_ms: i as f64 * 10_000.0,
            charge_success: if i == 3 {
                None
            } else {
                Some(if (8..14).contains(&i) { 0.2 } else { 1.0 })
            },
            charge_p95_ms: 200.0 + i as f64,
            staleness_p95_ms: 300.0,
            data_age_p95_ms: 250.0,
        })
        .collect();
    let config = DrillConfigFigures {
        label: "promote-auto / async".into(),
        timeline: Timeline {
            seed: 86,
            duration_ms: 300_000.0,
            window_ms: 10_000.0,
            windows,
            faults: vec![Span {
                label: "region-down SG".into(),
                from_ms: 75_000.0,
                to_ms: Some(195_000.0),
            }],
            flags: vec![Span {
                label: "FORCE_LEADER_READ".into(),
                from_ms: 90_000.0,
                to_ms: None,
            }],
            alerts: vec![AlertMark {
                name: "charge_error_rate".into(),
                fired_at_ms: 80_000.0,
                resolved_at_ms: Some(200_000.0),
            }],
            promotions: vec![Mark {
                label: "US".into(),
                at_ms: 100_000.0,
            }],
        },
        rto: vec![SiteRuns {
            site: "VN".into(),
            runs_ms: vec![Some(32_000.0), None],
            spread: spread(32_000.0),
        }],
        rpo_ms: vec![0.0, 120.0],
        rpo_spread: Some(spread(120.0)),
        slo: vec![verdict("during faults", "charge_p95", None, false)],
        budgets: vec![Budget {
            phase: "fault 1 region-down".into(),
            site: "VN".into(),
            slo: "charge_availability".into(),
            good_share: Some(0.74),
            burn_rate: Some(260.0),
            budget_consumed_p95: Some(0.0129),
            exhaustion_days: Some(30.0 / 260.0),
            lasts: "2.8 h".into(),
            pass: true,
        }],
    };
    Report {
        command: "kata86 drill region-down --runs 2 --seed 86".into(),
        seed: 86,
        figures: Figures::Drill(DrillFigures {
            drill: "region-down".into(),
            runs: 2,
            configs: vec![config],
        }),
    }
}

fn compare() -> Report {
    let bar = |path: &str, x: f64| CompareBar {
        drill: "partition".into(),
        write_path: path.into(),
        overspend_incidents: spread(x),
        lost_updates: spread(0.0),
        duplicate_effects: spread(0.0),
        spurious_declines: spread(1.0),
        slo_ok: Some(x == 0.0),
    };
    Report {
        command: "kata86 compare --runs 2 --seed 86".into(),
        seed: 86,
        figures: Figures::Compare(CompareFigures {
            runs: 2,
            rows: vec![bar("single-leader", 0.0), bar("lww", 4.0)],
        }),
    }
}

fn pbs() -> Report {
    Report {
        command: "kata86 pbs --preset lnkd-ssd".into(),
        seed: 86,
        figures: Figures::Pbs(PbsFigures {
            model: "lnkd-ssd".into(),
            n: 3,
            r: 1,
            w: 1,
            curve: (0..10)
                .map(|i| CdfPoint {
                    ms: i as f64 * 0.5,
                    quantile: 0.97 + i as f64 * 0.003,
                })
                .collect(),
            t_visibility_ms: vec![
                ("0.99".into(), 1.0),
                ("0.999".into(), 1.961),
                ("0.9999".into(), 3.422),
            ],
        }),
    }
}

/// The text of the `<figure id=ID>` element.
fn figure<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<figure id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no figure {id}"));
    let end = html[start..].find("</figure>").expect("closed") + start;
    &html[start..end]
}

#[test]
fn every_plot_has_title_axes_and_legend() {
    for (rep, words) in [
        (
            sim(),
            vec![
                "Staleness CDF, site VN",
                "ms, log scale",
                "share of reads",
                "2000 ms bound",
                "local",
                "p95 mark",
            ],
        ),
        (
            drill(),
            vec![
                "charge success rate",
                "simulated time (s)",
                "fault",
                "alert fired",
                "alert resolved",
                "promotion",
                "flag on",
                "data_age p95",
            ],
        ),
        (
            compare(),
            vec![
                "Money figures",
                "count (max over runs)",
                "overspend incidents",
                "partition lww",
            ],
        ),
        (
            pbs(),
            vec![
                "t-visibility",
                "t after the write commits (ms)",
                "P(read is consistent)",
                "N=3 R=1 W=1",
            ],
        ),
    ] {
        let html = render_html(&rep).expect("renders");
        let ids = plot_ids(&rep);
        assert!(!ids.is_empty());
        let all: String = ids.iter().map(|id| figure(&html, id)).collect();
        for id in &ids {
            let f = figure(&html, id);
            assert!(f.contains("<svg") && f.contains("</svg>"), "{id}");
            assert!(f.matches("<text").count() >= 5, "{id} has too little text");
        }
        for w in words {
            assert!(all.contains(w), "missing `{w}` in {ids:?}");
        }
        assert!(html.contains(&rep.command), "the command line is shown");
        assert!(!html.contains("<script"), "no script");
        assert!(!html.contains("<link") && !html.contains("@import") && !html.contains("url("));
    }
}

#[test]
fn drill_plots_one_timeline_rto_and_rpo_per_configuration() {
    assert_eq!(
        plot_ids(&drill()),
        [
            "plot-timeline-1-promote-auto-async",
            "plot-rto-1-promote-auto-async",
            "plot-rpo-1-promote-auto-async"
        ]
    );
    let html = render_html(&drill()).expect("renders");
    assert!(html.contains("VN (1 of 2 runs: never)"));
}

#[test]
fn slo_table_is_colour_coded() {
    let html = render_html(&sim()).expect("renders");
    assert!(html.contains("<td class=\"pass\">40 ms pass</td>"));
    assert!(html.contains("<td class=\"fail\">6250 ms FAIL</td>"));
    let d = render_html(&drill()).expect("renders");
    assert!(d.contains("<td class=\"nodata\">no data</td>"));
}

#[test]
fn figures_are_embedded_and_rendering_is_deterministic() {
    let rep = sim();
    let a = render_html(&rep).expect("renders");
    assert_eq!(a, render_html(&rep.clone()).expect("renders"));
    let tag = "<pre id=\"kata86-figures\" hidden>";
    let start = a.find(tag).expect("embedded") + tag.len();
    let end = a[start..].find("</pre>").expect("closed") + start;
    let json = a[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["figures"]["kind"], "sim");
    assert_eq!(v["figures"]["cells"][1]["staleness_p99_ms"], 6250.0);
    // A different figure changes the bytes.
    let mut other = rep.clone();
    if let Figures::Sim(f) = &mut other.figures {
        f.cells[1].staleness_p99_ms = 6000.0;
    }
    assert_ne!(a, render_html(&other).expect("renders"));
}
