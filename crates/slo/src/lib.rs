//! SLOs as code: multi-window multi-burn-rate alerts generated from the
//! objectives (`metrics::Slo`), and the same alerts evaluated in simulated
//! time.
//!
//! # Overview
//! * [`BurnPolicy`] — the budget period and the [`BurnWindow`] pairs that
//!   page or open a ticket ([`Severity`]), the SRE workbook's by default
//!   ([`BurnPolicy::workbook`]); a factor that could never fire is refused
//!   ([`BurnPolicy::check_target`]).
//! * [`indicator`] — the per-site metrics that carry the SLIs
//!   (`kata86_requests_total` by outcome, latency and reported-staleness
//!   histograms) and each objective's SLI as good and total selectors.
//! * [`rules`] — the Prometheus rule [`Group`]s: per objective and site, the
//!   error ratio recorded over every window, and one alert per severity.
//! * [`replay`] — a run's counts as the series a promtool test replays.
//! * [`openslo`] — the objectives as OpenSLO v1 documents, written and
//!   read back (located errors, bounded sizes).
//! * [`eval`] — the same alerts evaluated every step of a run from
//!   per-second good and valid counts ([`Counts`]), after a [`Warmup`].
//!
//! # Key decision: one threshold formula for Prometheus and the simulator
//! An alert fires while the error ratio over a window is **strictly** over
//! `factor × (1 − target)`: the rules write that product as PromQL
//! (`(14.4 * (1 - 0.999))`) and the evaluator computes it with the same
//! floating-point operations ([`rules::threshold`]), so the two can only
//! disagree at an exact tie of the ratio itself. Strictness also makes the
//! refusal exact: a factor at or above `1 / (1 − target)` needs a ratio over
//! 1 and can never fire.
//!
//! This crate does no I/O.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod eval;
pub mod indicator;
pub mod openslo;
mod policy;
pub mod replay;
pub mod rules;

pub use eval::{Counts, Firing, Warmup};
pub use indicator::Indicator;
pub use policy::{parse_duration, BurnPolicy, BurnWindow, Severity, DAY_S};
pub use rules::{Group, Rule, RuleKind};

/// Why rules could not be generated or a policy is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SloError {
    /// The policy is inconsistent on its own.
    #[error("burn-rate policy: {0}")]
    BadPolicy(String),
    /// A factor the objective's budget cannot reach.
    #[error(
        "SLO `{slo}`: the {severity} burn rate {factor} over {long_s} s can never fire: at a \
         target of {target} an error ratio over {factor} × (1 − {target}) would be over 1; \
         factors must be under 1 / (1 − target) = {limit}"
    )]
    NeverFires {
        /// The objective.
        slo: String,
        /// The pair's severity.
        severity: &'static str,
        /// The pair's long window, in seconds.
        long_s: u64,
        /// The refused factor.
        factor: f64,
        /// The objective's target.
        target: f64,
        /// `1 / (1 − target)`.
        limit: f64,
    },
    /// A name Prometheus cannot carry.
    #[error(
        "`{0}` cannot name a Prometheus alert or label value: use letters, digits and `_` \
         (not starting with a digit)"
    )]
    BadName(String),
}
