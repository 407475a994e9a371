//! Scenario and topology files: text in, a validated configuration out.
//!
//! # Brief overview
//! * [`parse_topology`] — a topology file (regions, links, client sites and
//!   their RTTs) → a [`topology::Topology`].
//! * [`parse_drill`] — a scenario file (settings, topology, SLOs, faults,
//!   flags, clocks, alerts) → an [`engine::drill::DrillConfig`].
//! * [`slo_include`] — the OpenSLO file a scenario includes (`slo_file`),
//!   which the CLI reads: this crate does no I/O.
//! * [`ScenarioError`] — where (line and column), which field, the value as
//!   written and what is allowed.
//! * [`BOUNDS`] — every number a file can hold: unit, default and bounds. It
//!   is the table the checks read and the one the README's reference is
//!   tested against; [`Work`] bounds what a run costs (rate × duration).
//!
//! # Key decision: every field keeps its place
//! The schema keeps each value with its span (`toml::Spanned`), and every
//! check runs where the value stands, so an error points at the offending
//! field — not at its table's header, not at the file — and speaks the
//! file's units (`end_s = 400`, not 400,000,000 µs). Fault and clock kinds
//! are flat tables checked by hand rather than tagged enums, because serde's
//! tagged enums would lose the spans.
//!
//! This crate does no I/O: the CLI reads the file, within
//! [`MAX_FILE_BYTES`], and prints the error.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bounds;
mod build;
mod error;
mod schema;

pub use bounds::{
    bound, show, Bound, Length, Work, BOUNDS, BYTES_PER_SITE, MAX_FILE_BYTES, MAX_MEMORY_BYTES,
    MAX_REQUESTS, MAX_SECONDS, MAX_SHORT_MEMORY_BYTES, REQUESTS_PER_SECOND, RUNS_IN_MEMORY,
};
pub use build::{parse_drill, parse_topology, slo_include, SloInclude, SIGNALS};
pub use error::ScenarioError;

/// The README's "Scenario files" reference table, generated from
/// [`BOUNDS`]; a test keeps the README equal to it.
pub fn reference_table() -> String {
    let mut out =
        String::from("| key | unit | default | allowed | what it sets |\n|---|---|---|---|---|\n");
    for b in BOUNDS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} to {} | {} |\n",
            b.key,
            b.unit,
            b.default,
            show(b.min),
            show(b.max),
            b.meaning
        ));
    }
    out
}
