//! kata86's HTML report: plain figures in, one self-contained page out.
//!
//! # Brief overview
//! * [`Report`] — what a page shows: the command line and seed that
//!   reproduce it, and one [`Figures`] value per command:
//!   [`SimFigures`] (`kata86 sim`), [`DrillFigures`] (`kata86 drill`, one
//!   [`DrillConfigFigures`] per configuration of `--matrix`),
//!   [`CompareFigures`] (`kata86 compare`) and [`PbsFigures`] (`kata86 pbs`).
//! * [`render_html`] — the page: inline CSS, inline SVG plots (drawn with
//!   `plotters`' SVG backend into a `String`), colour-coded SLO tables, no
//!   script and nothing fetched. The figures behind the plots are embedded as
//!   JSON in a hidden `<pre id="kata86-figures">`, so a test (or a reader)
//!   can check them against the command's own `--format json`.
//!
//! # Key decision: the plot data is a plain struct
//! The CLI builds every figure from the same values its JSON prints (already
//! rounded as the JSON rounds them); this crate only lays them out. That
//! makes "the plot shows what the JSON says" a comparison of two plain values
//! rather than an inspection of pixels, and keeps this crate free of the
//! engine's types. Rendering is a pure function: no clock, no file, no
//! `HashMap` — the same figures give the same bytes.
//!
//! Text in the SVGs is emitted as `<text>` elements that the browser lays out
//! with its own `sans-serif` font: `plotters` is built without its `ttf` or
//! `ab_glyph` features, so no font file is read or embedded (its layout
//! estimates are only used to place axis labels).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod html;
mod plot;

use serde::Serialize;

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `plotters` refused to draw a plot.
    #[error("cannot draw the plot `{plot}`: {message}")]
    Plot {
        /// The plot's title.
        plot: String,
        /// What plotters said.
        message: String,
    },
    /// The embedded figures could not be serialised.
    #[error("cannot serialise the report's figures: {0}")]
    Json(#[from] serde_json::Error),
}

/// One report page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The exact command line that reproduces the run.
    pub command: String,
    /// Its master seed.
    pub seed: u64,
    /// What the page shows.
    pub figures: Figures,
}

/// The figures of one command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figures {
    /// `kata86 sim`.
    Sim(SimFigures),
    /// `kata86 drill`.
    Drill(DrillFigures),
    /// `kata86 compare`.
    Compare(CompareFigures),
    /// `kata86 pbs`.
    Pbs(PbsFigures),
    /// `kata86 plan`.
    Plan(PlanFigures),
}

/// One SLO verdict, as the JSON gives it, with the scope it was judged in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Row label: a cell (`VN / local`) or a drill window (`during faults`).
    pub scope: String,
    /// The objective's name, e.g. `read_p95`.
    pub name: String,
    /// Its target, ms.
    pub target_ms: f64,
    /// The observed quantile, ms (`None`: no data).
    pub observed_ms: Option<f64>,
    /// Whether it passed.
    pub pass: bool,
}

/// One point of a cumulative distribution: a share `quantile` of the values
/// is at most `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CdfPoint {
    /// Value, ms.
    pub ms: f64,
    /// Share of values at or below it.
    pub quantile: f64,
}

/// `kata86 sim`'s figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimFigures {
    /// The JSON name of the staleness series shown (`lag_ms` or
    /// `reported_staleness_ms`).
    pub staleness_series: String,
    /// The bounded-staleness contract, ms (2000 by default).
    pub bound_ms: f64,
    /// The read-latency p95 target, ms, if an SLO sets one.
    pub read_p95_target_ms: Option<f64>,
    /// The sites the read target applies to (empty: every site).
    pub read_p95_sites: Vec<String>,
    /// The staleness p99 target, ms, if an SLO sets one.
    pub staleness_p99_target_ms: Option<f64>,
    /// One per site × strategy, in the JSON's order.
    pub cells: Vec<SimCell>,
}

/// One `kata86 sim` cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimCell {
    /// Client site.
    pub client: String,
    /// Read strategy.
    pub strategy: String,
    /// Read latency p95, ms.
    pub read_p95_ms: f64,
    /// Staleness p95, ms.
    pub staleness_p95_ms: f64,
    /// Staleness p99, ms.
    pub staleness_p99_ms: f64,
    /// The staleness distribution: the `.hgrm` rows' values, each with the
    /// exact share of reads at or below it (`TotalCount / count`).
    pub staleness_cdf: Vec<CdfPoint>,
    /// The cell's SLO verdicts.
    pub slo: Vec<Verdict>,
}

/// p50/p95/p99/max of a figure over runs, ms (`None`: it never happened in
/// the run that quantile lands on).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpreadMs {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

/// `kata86 drill`'s figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillFigures {
    /// The drill's name.
    pub drill: String,
    /// Runs per configuration.
    pub runs: u32,
    /// One per configuration played (several with `--matrix`).
    pub configs: Vec<DrillConfigFigures>,
}

/// One drill configuration, over its runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillConfigFigures {
    /// `policy / replication` (and the watermark clock).
    pub label: String,
    /// The first run's timeline.
    pub timeline: Timeline,
    /// RTO of each client site, every run.
    pub rto: Vec<SiteRuns>,
    /// RPO of every run, ms (empty where the write path has none).
    pub rpo_ms: Vec<f64>,
    /// The RPO's spread, as the JSON's `rpo_ms`; `None` for a multi-leader
    /// write path, which loses updates to merges (counted under money), not
    /// a span of history to a failover.
    pub rpo_spread: Option<SpreadMs>,
    /// The SLO verdicts inside and outside the fault windows.
    pub slo: Vec<Verdict>,
    /// Every objective at every site in every phase: the error budget it
    /// spent and how long a whole budget lasts at its burn rate.
    pub budgets: Vec<Budget>,
}

/// One objective at one site in one phase, as the JSON's per-site verdict
/// gives it: the budget it spent and how long a whole budget lasts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// Where it was judged: `steady`, `fault 1 region-down`, or with a
    /// plan's scenario in front.
    pub phase: String,
    /// The client site.
    pub site: String,
    /// The objective's name.
    pub slo: String,
    /// Good events over valid ones, in [0, 1] (`None`: no data).
    pub good_share: Option<f64>,
    /// Burn rate: the bad share over the budget's share (`None`: no data).
    pub burn_rate: Option<f64>,
    /// Share of the period's budget consumed, p95 over the runs (faults
    /// only; `None` in steady state).
    pub budget_consumed_p95: Option<f64>,
    /// How long a whole budget lasts at the burn rate, in days (`None`:
    /// nothing burns, or no data).
    pub exhaustion_days: Option<f64>,
    /// The same as the tables print it (`2.8 h`, `69.0 d`, `never`, `no data`).
    pub lasts: String,
    /// The verdict.
    pub pass: bool,
}

/// One site's RTO over the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteRuns {
    /// Client site.
    pub site: String,
    /// Every run's RTO, ms (`None`: did not recover within the drill).
    pub runs_ms: Vec<Option<f64>>,
    /// Their spread, as the JSON's `rto_ms`.
    pub spread: SpreadMs,
}

/// What happened in one run, window by window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// The run's seed.
    pub seed: u64,
    /// Simulated length, ms.
    pub duration_ms: f64,
    /// Monitoring window, ms.
    pub window_ms: f64,
    /// Every closed window.
    pub windows: Vec<WindowPoint>,
    /// Fault spans.
    pub faults: Vec<Span>,
    /// Runbook flags switched on (and off).
    pub flags: Vec<Span>,
    /// Alerts fired and resolved.
    pub alerts: Vec<AlertMark>,
    /// Leader promotions.
    pub promotions: Vec<Mark>,
}

/// One monitoring window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowPoint {
    /// Window end, ms.
    pub end_ms: f64,
    /// Share of charge attempts answered (`None`: no attempt).
    pub charge_success: Option<f64>,
    /// Charge latency p95, ms.
    pub charge_p95_ms: f64,
    /// Reported staleness p95 of the answered reads, ms.
    pub staleness_p95_ms: f64,
    /// Data age p95 of the answered reads, ms.
    pub data_age_p95_ms: f64,
}

/// A span of simulated time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// What it is.
    pub label: String,
    /// Start, ms.
    pub from_ms: f64,
    /// End, ms (`None`: still on at the end).
    pub to_ms: Option<f64>,
}

/// One alert firing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertMark {
    /// The rule.
    pub name: String,
    /// When it fired, ms.
    pub fired_at_ms: f64,
    /// When it resolved, ms.
    pub resolved_at_ms: Option<f64>,
}

/// An instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    /// What happened.
    pub label: String,
    /// When, ms.
    pub at_ms: f64,
}

/// `kata86 compare`'s figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareFigures {
    /// Runs per row.
    pub runs: u32,
    /// One per drill × write path, in the JSON's order.
    pub rows: Vec<CompareBar>,
}

/// The money figures of one drill × write path (p95 and max over the runs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareBar {
    /// Drill.
    pub drill: String,
    /// Write path.
    pub write_path: String,
    /// Overspend incidents.
    pub overspend_incidents: SpreadMs,
    /// Lost updates.
    pub lost_updates: SpreadMs,
    /// Duplicate effects.
    pub duplicate_effects: SpreadMs,
    /// Spurious declines.
    pub spurious_declines: SpreadMs,
    /// Whether the charge-p95 SLO held; `None`: not judged (a site has no
    /// charge objective and none failed).
    pub slo_ok: Option<bool>,
}

/// `kata86 plan`'s figures: every design, as its JSON gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanFigures {
    /// The charge p95 objective, ms, if the world has one.
    pub charge_p95_target_ms: Option<f64>,
    /// The read p95 objective, ms, if the world has one.
    pub read_p95_target_ms: Option<f64>,
    /// Every design, ranked ones first in rank order, then the rejected.
    pub designs: Vec<PlanPoint>,
    /// The best-ranked design's budgets, every fault at every site.
    pub budgets: Vec<Budget>,
}

/// One design of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanPoint {
    /// Its name, e.g. `majority / promote-auto / bounded`.
    pub design: String,
    /// Its rank among the accepted (1 = best); `None` when rejected.
    pub rank: Option<usize>,
    /// On the Pareto frontier.
    pub pareto: bool,
    /// Worst site's charge p95, ms.
    pub charge_p95_ms: Option<f64>,
    /// Worst site's read p95, ms.
    pub read_p95_ms: Option<f64>,
    /// Staleness p99, ms.
    pub staleness_p99_ms: Option<f64>,
    /// Worst-site RTO p95 (`never`, seconds, or `None` without a fault).
    pub rto: Option<String>,
    /// The first thing it broke.
    pub rejected: Option<String>,
}

/// `kata86 pbs`'s figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PbsFigures {
    /// The latency model.
    pub model: String,
    /// Replicas.
    pub n: usize,
    /// Read replies waited for.
    pub r: usize,
    /// Write acks waited for.
    pub w: usize,
    /// The t-visibility curve: P(consistent) a time after the commit.
    pub curve: Vec<CdfPoint>,
    /// t at P = 0.99, 0.999, 0.9999, ms.
    pub t_visibility_ms: Vec<(String, f64)>,
}

/// The page, as HTML.
pub fn render_html(report: &Report) -> Result<String, ReportError> {
    html::page(report, &mut |_, _| {})
}

/// [`render_html`], calling `progress(done, total)` before each plot and
/// once at the end (`done == total`).
pub fn render_html_with(
    report: &Report,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<String, ReportError> {
    html::page(report, progress)
}

/// Every plot's id in the page `report` renders, in order (what a browser
/// check expects to find as non-empty `<svg>` elements).
pub fn plot_ids(report: &Report) -> Vec<String> {
    html::plot_ids(report)
}
