//! SLO construction, scoping and judging.

use metrics::{kata_slos, LatencyHistogram, MetricsError, Series, Slo};

/// 100 samples: `fast` of them at `fast_ms`, the rest at ten times the target.
fn with_tail(fast: u64, fast_ms: f64, target_ms: f64) -> LatencyHistogram {
    let mut h = LatencyHistogram::new();
    h.record_n(ms(fast_ms), fast);
    h.record_n(ms(target_ms * 10.0), 100 - fast);
    h
}

fn ms(ms: f64) -> u64 {
    (ms * 1000.0).round() as u64
}

fn p95(target_ms: f64) -> Slo {
    Slo::new("p95", Series::Read, 0.95, target_ms).unwrap()
}

#[test]
fn p95_rank_decides_the_verdict() {
    let slo = p95(150.0);
    // The 95th of 100 samples is the last fast one: pass.
    let verdict = slo.judge(&with_tail(95, 100.0, 150.0));
    assert!(verdict.pass, "{verdict:?}");
    assert!(
        (verdict.observed_ms.unwrap() - 100.0).abs() <= 0.1,
        "{verdict:?}"
    );
    // One more slow sample pushes the 95th into the tail: fail.
    let verdict = slo.judge(&with_tail(94, 100.0, 150.0));
    assert!(!verdict.pass, "{verdict:?}");
    assert!(verdict.observed_ms.unwrap() >= 1_500.0, "{verdict:?}");
}

#[test]
fn p95_just_under_target_passes_and_just_over_fails() {
    for target_ms in [150.0, 500.0, 2_000.0, 10_000.0] {
        let slo = p95(target_ms);
        // 0.5 % either side: well clear of the 0.1 % histogram precision.
        let under = slo.judge(&with_tail(95, target_ms * 0.995, target_ms));
        let over = slo.judge(&with_tail(95, target_ms * 1.005, target_ms));
        assert!(under.pass, "{under:?}");
        assert!(!over.pass, "{over:?}");
        assert!(under.observed_ms.unwrap() < target_ms && target_ms < over.observed_ms.unwrap());
    }
}

#[test]
fn observing_exactly_the_target_fails() {
    // "below target" is strict, and the histogram only ever rounds up.
    for target_ms in [1.5, 150.0, 500.0, 2_000.0, 10_000.0] {
        let verdict = p95(target_ms).judge(&with_tail(100, target_ms, target_ms));
        assert!(!verdict.pass, "{verdict:?}");
    }
}

#[test]
fn pass_is_strictly_below_target() {
    for value_ms in [1.5, 149.9, 2_000.0] {
        let h = with_tail(100, value_ms, value_ms);
        let observed_ms = h.value_at_quantile(0.95) as f64 / 1000.0;
        let at = p95(observed_ms).judge(&h);
        let above = p95(observed_ms + 0.001).judge(&h);
        assert_eq!(at.observed_ms.unwrap(), observed_ms);
        assert!(!at.pass, "{at:?}");
        assert!(above.pass, "{above:?}");
    }
}

#[test]
fn verdict_reports_name_target_and_observed_quantile() {
    let slo = Slo::new("staleness_p99", Series::Staleness, 0.99, 10_000.0).unwrap();
    let mut h = LatencyHistogram::new();
    for us in (1..=1_000u64).map(|i| i * 1_000) {
        h.record(us); // 1 ms ..= 1000 ms
    }
    let verdict = slo.judge(&h);
    assert_eq!(verdict.name, "staleness_p99");
    assert_eq!(verdict.target_ms, 10_000.0);
    assert!(verdict.pass);
    // Exact p99 of 1..=1000 ms is 990 ms.
    assert!(
        (990.0..=990.0 * 1.001).contains(&verdict.observed_ms.unwrap()),
        "{verdict:?}"
    );
}

#[test]
fn empty_histogram_gives_a_no_data_verdict_that_fails() {
    for slo in kata_slos() {
        let v = slo.judge(&LatencyHistogram::new());
        assert_eq!(v.observed_ms, None, "{v:?}");
        assert!(!v.pass, "no data is not a pass: {v:?}");
    }
}

#[test]
fn site_scoping() {
    let everywhere = p95(150.0);
    assert_eq!(everywhere.site, None);
    assert!(everywhere.applies_to("VN") && everywhere.applies_to("US"));

    let vn = everywhere.clone().for_site("VN");
    assert_eq!(vn.site.as_deref(), Some("VN"));
    assert!(vn.applies_to("VN"));
    assert!(!vn.applies_to("US"));
    assert!(!vn.applies_to("vn"));
    assert_eq!(Slo { site: None, ..vn }, everywhere);
}

#[test]
fn kata_objectives() {
    let slos = kata_slos();
    let summary: Vec<_> = slos
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.series,
                s.quantile,
                s.target_ms,
                s.site.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("read_p95", Series::Read, 0.95, 150.0, Some("VN")),
            ("charge_p95", Series::Write, 0.95, 500.0, None),
            ("staleness_p95", Series::Staleness, 0.95, 2_000.0, None),
            ("staleness_p99", Series::Staleness, 0.99, 10_000.0, None),
        ]
    );
    // Each one survives validation.
    for s in &slos {
        let rebuilt = Slo::new(&s.name, s.series, s.quantile, s.target_ms).unwrap();
        assert_eq!(rebuilt.quantile, s.quantile);
    }
}

#[test]
fn bad_quantiles_are_rejected() {
    for q in [0.0, -0.0, -0.5, 1.000_001, 95.0, f64::NAN, f64::INFINITY] {
        let err = Slo::new("read_p95", Series::Read, q, 150.0).unwrap_err();
        assert!(
            matches!(err, MetricsError::BadQuantile { quantile, .. } if quantile.to_bits() == q.to_bits()),
            "{q}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("read_p95"), "{message}");
        assert!(
            message.contains("greater than 0 and at most 1"),
            "{message}"
        );
    }
    assert!(Slo::new("max", Series::Read, 1.0, 150.0).is_ok());
    assert!(Slo::new("tiny", Series::Read, f64::MIN_POSITIVE, 150.0).is_ok());
}

#[test]
fn bad_targets_are_rejected() {
    for target in [-1.0, -f64::MIN_POSITIVE, f64::NAN, f64::INFINITY] {
        let err = Slo::new("charge_p95", Series::Write, 0.95, target).unwrap_err();
        assert!(
            matches!(err, MetricsError::BadTarget { target_ms, .. } if target_ms.to_bits() == target.to_bits()),
            "{target}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("charge_p95"), "{message}");
        assert!(
            message.contains("finite number of milliseconds, 0 or more"),
            "{message}"
        );
    }
    assert!(Slo::new("zero", Series::Write, 0.95, 0.0).is_ok());
}

#[test]
fn serialized_forms_are_short_and_stable() {
    let mut h = LatencyHistogram::new();
    h.record_n(1_234, 3);
    h.record(1); // mean 925.75 µs: rounded to 926
    let json = serde_json::to_value(h.summary()).unwrap();
    assert_eq!(json["p50"], 1.234);
    assert_eq!(json["mean"], 0.926);
    assert_eq!(json["count"], 4);
    let text = serde_json::to_string(&h.summary()).unwrap();
    assert!(!text.contains("0000"), "{text}");

    let slo = serde_json::to_value(&kata_slos()[0]).unwrap();
    assert_eq!(slo["series"], "read");
    assert_eq!(slo["site"], "VN");
    assert_eq!(
        serde_json::to_value(Series::Staleness).unwrap(),
        "staleness"
    );
}
