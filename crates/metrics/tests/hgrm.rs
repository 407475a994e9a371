//! `.hgrm` text: HdrHistogram's layout, and a round trip through `parse`.

use metrics::hgrm::{self, HEADER};
use metrics::LatencyHistogram;

fn sample() -> LatencyHistogram {
    let mut h = LatencyHistogram::new();
    // A skewed mix: most values near 40 ms, a tail out to 8 s.
    for i in 0..10_000u64 {
        h.record(40_000 + (i * 7919) % 3_000);
    }
    for i in 0..200u64 {
        h.record(4_000_000 + i * 20_000);
    }
    h.record(0);
    h
}

#[test]
fn layout_is_hdrhistograms() {
    let text = hgrm::write(&sample());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines[1], "");
    // First row: the lowest value at quantile 0, count 1, 1/(1-0) = 1.
    assert_eq!(
        lines[2],
        "       0.000 0.000000000000          1           1.00"
    );
    let n = lines.len();
    assert!(lines[n - 3].starts_with("#[Mean    = "), "{}", lines[n - 3]);
    assert!(lines[n - 2].starts_with("#[Max     = "));
    assert!(lines[n - 2].ends_with("Total count    =        10201]"));
    assert_eq!(
        lines[n - 1],
        "#[Buckets =           22, SubBuckets     =         2048]"
    );
    // The last row is at quantile 1 and has no 1/(1-p) column.
    let last: Vec<&str> = lines[n - 4].split_whitespace().collect();
    assert_eq!(last.len(), 3, "{}", lines[n - 4]);
    assert_eq!(last[1], "1.000000000000");
}

#[test]
fn round_trip_gives_the_runs_percentiles() {
    let h = sample();
    let parsed = hgrm::parse(&hgrm::write(&h)).expect("parses");
    assert_eq!(parsed.rows, h.percentiles());
    assert!(parsed.rows.len() > 20);
    let s = h.summary();
    assert_eq!(parsed.total_count, s.count);
    assert_eq!(parsed.max_ms, s.max);
    assert_eq!(parsed.mean_ms, s.mean);
    for r in &parsed.rows {
        assert_eq!(
            r.value_ms,
            h.value_at_quantile(r.quantile) as f64 / 1000.0,
            "row at {}",
            r.quantile
        );
    }
    // p50 is a row of its own; the summary's p50 equals it.
    let p50 = parsed
        .rows
        .iter()
        .find(|r| r.quantile == 0.5)
        .expect("a 0.5 row");
    assert_eq!(p50.value_ms, s.p50);
    // Counts only grow, and end at the total.
    assert!(parsed
        .rows
        .windows(2)
        .all(|w| w[0].total_count <= w[1].total_count));
    assert_eq!(parsed.rows.last().map(|r| r.total_count), Some(s.count));
}

#[test]
fn empty_histogram_has_a_footer_and_no_rows() {
    let parsed = hgrm::parse(&hgrm::write(&LatencyHistogram::new())).expect("parses");
    assert!(parsed.rows.is_empty());
    assert_eq!(parsed.total_count, 0);
}

#[test]
fn garbage_is_refused_with_its_line() {
    let err = hgrm::parse("       Value     Percentile\n\n 1.0 zero 3\n").unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
    assert!(hgrm::parse("  1.000 0.5 3 2.00\n").is_err());
}
