//! `LatencyHistogram` against exact answers: a sorted-vector oracle on random
//! data, and the closed-form quantiles of a uniform distribution.
//!
//! # The precision bound
//! With 3 significant digits hdrhistogram keeps 2048 sub-buckets per bucket
//! (the next power of two above 2 * 10^3). Values below 2048 get buckets of
//! width 1, i.e. are exact. Above that, a value `v` lies in a bucket whose
//! width `w` (`Histogram::equivalent_range`) satisfies `v >= 1024 * w`, so
//! `w <= v / 1024`. A quantile is read by walking the counts up to the bucket
//! holding the exact nearest-rank sample and returning that bucket's highest
//! value (its lowest for `q = 0`). Hence
//!
//! `0 <= hdr - exact <= w - 1 < exact / 1000` (for `q > 0`),
//!
//! which the tests check as `|hdr - exact| <= exact * 1e-3 + 1` plus the
//! one-sided `hdr >= exact`. `bucket_width_is_within_a_thousandth` checks the
//! bucket-width step of that argument on the library itself.

use hdrhistogram::Histogram;
use metrics::LatencyHistogram;
use proptest::prelude::*;

const MAX: u64 = LatencyHistogram::MAX_TRACKABLE_US;

/// Nearest-rank quantile of a sorted, non-empty slice: the sample of rank
/// `ceil(q * n)`, i.e. index `ceil(q * n) - 1` clamped to `[0, n - 1]`.
fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The bound derived in the module docs.
fn within_precision(hdr: u64, exact: u64) -> bool {
    hdr.abs_diff(exact) as f64 <= exact as f64 * 1e-3 + 1.0
}

fn recorded(values: &[u64]) -> LatencyHistogram {
    let mut h = LatencyHistogram::new();
    values.iter().for_each(|&v| h.record(v));
    h
}

/// Small values (exact buckets), large ones up to 10^9, a Pareto tail
/// (alpha 1.2 from 1 ms, capped at 10^9 µs), and powers of two scaled by a
/// mantissa, which land on bucket edges.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..1_000,
        0u64..=1_000_000_000,
        (0.0f64..1.0).prop_map(|u| (1_000.0 / (1.0 - u).powf(1.0 / 1.2)).min(1e9) as u64),
        (1u64..4096, 0u32..18).prop_map(|(mantissa, shift)| mantissa << shift),
    ]
}

/// Runs of equal values are common in the simulator and take a different path
/// through `record`, so half the vectors repeat each draw a few times.
fn values() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec((value(), prop_oneof![Just(1usize), 1usize..50]), 1..400).prop_map(
        |draws| {
            draws
                .into_iter()
                .flat_map(|(v, times)| std::iter::repeat_n(v, times))
                .collect()
        },
    )
}

proptest! {
    #[test]
    fn quantiles_match_the_exact_oracle(mut values in values(), random_q in 0.0f64..=1.0) {
        let h = recorded(&values);
        values.sort_unstable();
        prop_assert_eq!(h.count(), values.len() as u64);
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0, random_q] {
            let exact = exact_quantile(&values, q);
            let hdr = h.value_at_quantile(q);
            prop_assert!(within_precision(hdr, exact), "q = {q}: hdr {hdr}, exact {exact}");
            if q > 0.0 {
                prop_assert!(hdr >= exact, "q = {q}: hdr {hdr} under-reports exact {exact}");
            }
        }
    }

    #[test]
    fn summary_matches_the_exact_oracle(mut values in values()) {
        let s = recorded(&values).summary();
        values.sort_unstable();
        let ms_to_us = |ms: f64| (ms * 1000.0).round() as u64;

        prop_assert_eq!(s.count, values.len() as u64);
        for (field, q) in [(s.p50, 0.5), (s.p95, 0.95), (s.p99, 0.99), (s.p999, 0.999)] {
            let exact = exact_quantile(&values, q);
            prop_assert!(within_precision(ms_to_us(field), exact), "q = {q}: {field} ms vs exact {exact} µs");
        }
        let exact_max = values[values.len() - 1];
        prop_assert!(within_precision(ms_to_us(s.max), exact_max));
        prop_assert!(ms_to_us(s.max) >= exact_max);

        // hdrhistogram averages bucket midpoints (error <= w / 2 per value)
        // and the summary rounds to whole µs (error <= 0.5).
        let exact_mean = values.iter().map(|&v| u128::from(v)).sum::<u128>() as f64 / values.len() as f64;
        let mean_us = s.mean * 1000.0;
        prop_assert!(
            (mean_us - exact_mean).abs() <= exact_mean * 1e-3 + 0.5 + 1e-6,
            "mean {mean_us} µs vs exact {exact_mean} µs"
        );
    }

    #[test]
    fn quantile_below_brackets_the_exact_fraction(mut values in values(), probe in value()) {
        let h = recorded(&values);
        values.sort_unstable();
        let fraction_at_or_below = |limit: u64| {
            values.partition_point(|&v| v <= limit) as f64 / values.len() as f64
        };
        // Values sharing the probe's bucket count as below, so the answer lies
        // between the exact fraction at the probe and at the bucket's top.
        let got = h.quantile_below(probe);
        let bucket_top = probe + probe / 1000;
        prop_assert!(got >= fraction_at_or_below(probe), "{got} at {probe}");
        prop_assert!(got <= fraction_at_or_below(bucket_top), "{got} at {probe}");
    }

    /// What makes an alert rule over exported `le` buckets fire exactly when
    /// the simulator's monitor does (docs/metrics.md): the quantile's bucket
    /// floor is over a bound exactly when fewer than `q * n` values are at
    /// most that bound, which is Prometheus's `histogram_quantile` rule with
    /// the bound as a bucket edge.
    #[test]
    fn quantile_floor_is_over_a_bound_iff_the_le_count_is_under_the_rank(
        values in values(),
        bounds in prop::array::uniform3(value()),
        q in prop_oneof![Just(0.5), Just(0.95), Just(0.99), 0.01f64..=1.0],
    ) {
        let h = recorded(&values);
        let rank = q * h.count() as f64;
        for (bound, le) in bounds.into_iter().zip(h.counts_at_most(bounds)) {
            prop_assert_eq!(le, h.count_at_most(bound));
            prop_assert_eq!(
                h.quantile_floor(q) > bound,
                (le as f64) < rank,
                "q {} bound {}: le count {} of {}", q, bound, le, h.count()
            );
        }
    }

    #[test]
    fn bucket_width_is_within_a_thousandth(v in 0..=MAX) {
        let hist = Histogram::<u64>::new_with_bounds(1, MAX, 3).unwrap();
        let width = hist.equivalent_range(v);
        prop_assert!(width == 1 || width <= v / 1024, "value {v}: width {width}");
    }
}

/// SplitMix64 with a fixed seed: a self-contained uniform generator, so the
/// expected quantiles below are known in closed form.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[test]
fn uniform_quantiles_match_closed_form() {
    const N: u64 = 200_000;
    const RANGE: u64 = 2_000_000; // uniform on [0, 2 s)
    let mut rng = SplitMix64(0x6b61_7461_3836);
    let mut h = LatencyHistogram::new();
    for _ in 0..N {
        // The modulo bias is RANGE / 2^64: negligible.
        h.record(rng.next() % RANGE);
    }

    for q in [0.5, 0.95, 0.99] {
        let expected = q * RANGE as f64;
        // An empirical q-quantile of N uniform samples has standard error
        // sqrt(q (1 - q) / N) * RANGE; allow four of those, plus one bucket.
        let sampling = 4.0 * (q * (1.0 - q) / N as f64).sqrt() * RANGE as f64;
        let tolerance = sampling + expected * 1e-3 + 1.0;
        let got = h.value_at_quantile(q) as f64;
        assert!(
            (got - expected).abs() <= tolerance,
            "q = {q}: got {got}, expected {expected} ± {tolerance}"
        );
    }
}
