//! Latency and staleness measurement for the simulator: percentile histograms,
//! report-ready summaries, and verdicts against service-level objectives.
//!
//! # Brief overview
//! * [`LatencyHistogram`] — where the simulator records every simulated
//!   duration, in whole microseconds. Recording is the hot path; reading
//!   (quantiles, [`Summary`]) happens once per report.
//! * [`Summary`] — p50/p95/p99/p99.9, max and mean of one histogram, in
//!   milliseconds rounded to whole microseconds so JSON output is short and
//!   stable; [`histogram_as`] serialises a histogram field as one, and
//!   [`Tail`] is its p50/p95/p99/max.
//! * [`Slo`] and [`SloVerdict`] — an objective ("the p95 of reads from VN is
//!   under 150 ms") and its pass/fail outcome for one histogram;
//!   [`kata_slos`] lists the kata's four objectives.
//! * [`hgrm`] — HdrHistogram's percentile-distribution text (`.hgrm`),
//!   written from and parsed back to a histogram's percentile rows.
//! * [`Spread`] — p50/p95/p99/max of a per-run figure over the runs of a
//!   drill, exact (nearest rank), with "never happened" ranked last;
//!   [`spread_as`] serialises one in its report unit ([`SpreadFigures`]).
//!
//! # Key decision: histograms, not sample vectors
//! A run records tens of millions of durations. Keeping them all to sort at the
//! end would make memory grow with run length; instead each series is an
//! [HdrHistogram](hdrhistogram) with 3 significant digits over 0 µs..=1 hour,
//! a fixed size (under 200 KB) however long the simulation runs. The price is
//! precision: a reported quantile is the top of the bucket holding the exact
//! nearest-rank sample, so it is never below the exact answer and at most 0.1 %
//! above it. Because the error only ever rounds up, an SLO never passes by
//! rounding. The integration tests check both properties against an exact
//! sorted-vector oracle.
//!
//! This crate depends on no other crate of the workspace and does no I/O.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod hgrm;
mod histogram;
mod slo;
mod spread;

pub use histogram::{LatencyHistogram, Summary, Tail};
pub use slo::{
    availability_slos, default_slos, kata_slos, MetricsError, Series, Slo, SloVerdict,
    StalenessMeasure,
};
pub use spread::{nearest_rank, Spread, SpreadFigures};

/// Serialising a [`Spread`] field in its report unit.
pub mod spread_as {
    pub use crate::spread::{as_counts as counts, as_ms as ms};
}

/// Serialising a [`LatencyHistogram`] field as its [`Summary`] in ms
/// (`#[serde(serialize_with = "metrics::histogram_as::summary")]`, with
/// `#[schemars(with = "metrics::Summary")]`).
pub mod histogram_as {
    pub use crate::histogram::as_summary as summary;
}
