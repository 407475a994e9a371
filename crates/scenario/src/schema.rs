//! The files as written: every field kept with its span, so that an error
//! can point at it. Nothing here is checked; `build.rs` does that.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    pub name: Option<Spanned<String>>,
    pub duration_s: Option<Spanned<f64>>,
    pub leader: Option<Spanned<String>>,
    pub witnesses: Option<Vec<Spanned<String>>>,
    pub policy: Option<Spanned<String>>,
    pub replication: Option<Spanned<String>>,
    pub strategy: Option<Spanned<String>>,
    pub fencing: Option<bool>,
    pub offset_check: Option<bool>,
    pub model: Option<Spanned<String>>,
    pub rate: Option<Spanned<f64>>,
    pub accounts: Option<Spanned<f64>>,
    pub topology: Option<TopologyFile>,
    #[serde(default)]
    pub slo: Vec<Spanned<SloSpec>>,
    #[serde(default)]
    pub fault: Vec<Spanned<FaultSpec>>,
    pub watermark: Option<Spanned<String>>,
    #[serde(default)]
    pub flag: Vec<Spanned<FlagSpec>>,
    #[serde(default)]
    pub clock: Vec<Spanned<ClockSpec>>,
    #[serde(default)]
    pub alert: Vec<Spanned<AlertSpec>>,
    pub signal_window_s: Option<Spanned<f64>>,
    pub recovery_share: Option<Spanned<f64>>,
    pub slo_budget_days: Option<Spanned<f64>>,
    pub slo_incident_allowance: Option<Spanned<f64>>,
    pub recovery_hold_s: Option<Spanned<f64>>,
    pub onset_window_s: Option<Spanned<f64>>,
    /// An OpenSLO file whose objectives replace `[[slo]]` (read by the CLI).
    pub slo_file: Option<Spanned<String>>,
}

/// Regions, links and client sites (a topology file, or `[topology]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopologyFile {
    pub regions: Vec<Spanned<String>>,
    pub links: Vec<Spanned<LinkSpec>>,
    pub sites: Vec<Spanned<SiteSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkSpec {
    pub a: Spanned<String>,
    pub b: Spanned<String>,
    pub rtt_ms: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteSpec {
    pub name: Spanned<String>,
    pub home: Spanned<String>,
    pub rtt_ms: BTreeMap<String, Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SloSpec {
    pub name: Spanned<String>,
    pub series: Spanned<String>,
    pub quantile: Spanned<f64>,
    pub target_ms: Option<Spanned<f64>>,
    pub site: Option<Spanned<String>>,
    pub measure: Option<Spanned<String>>,
}

/// A fault: `kind` says which of the optional fields it needs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    pub kind: Spanned<String>,
    pub region: Option<Spanned<String>>,
    pub a: Option<Spanned<String>>,
    pub b: Option<Spanned<String>>,
    pub both_ways: Option<Spanned<bool>>,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
    pub extra_ms: Option<Spanned<f64>>,
    pub direction: Option<Spanned<String>>,
    pub delay_ms: Option<Spanned<f64>>,
    pub stall_ms: Option<Spanned<f64>>,
    pub start_s: Spanned<f64>,
    pub end_s: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagSpec {
    pub name: Spanned<String>,
    pub on_s: Spanned<f64>,
    pub off_s: Spanned<f64>,
}

/// A region's clock: `kind` says which of the optional fields it needs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClockSpec {
    pub kind: Spanned<String>,
    pub region: Spanned<String>,
    pub offset_ms: Option<Spanned<f64>>,
    pub ppm: Option<Spanned<f64>>,
    pub at_s: Option<Spanned<f64>>,
    pub before_ms: Option<Spanned<f64>>,
    pub after_ms: Option<Spanned<f64>>,
    pub amplitude_ms: Option<Spanned<f64>>,
    pub period_s: Option<Spanned<f64>>,
    pub noise_ms: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertSpec {
    pub name: Spanned<String>,
    pub signal: Spanned<String>,
    pub threshold: Spanned<f64>,
    pub for_s: Option<Spanned<f64>>,
}
