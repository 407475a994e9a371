//! kata86's outputs: what a command prints, in every `--format`, from the
//! result types of the library crates.
//!
//! # Overview
//! * [`json`] — every `--format json` document: `"schema_version"` first
//!   ([`SCHEMA_VERSION`]), then the result's own keys, pretty-printed.
//! * [`schema`] — the published JSON Schema of each command's JSON
//!   ([`schema::of`], checked in under `docs/schema/`) and a small validator
//!   for the subset of JSON Schema it emits ([`schema::validate`]).
//! * [`pbs`] — `kata86 pbs` as a table, JSON or CSV, straight from
//!   [`quorum::Config`] and [`quorum::Report`].
//!
//! # Key decision: the result types serialise themselves
//! A figure's JSON key, unit and rounding are written once, as serde
//! attributes on the library type that holds it; this crate wraps the
//! result in a versioned envelope and never copies it field by field into a
//! struct of its own. The schema is derived (schemars) from those same
//! types, so adding a figure to a result type adds it to the JSON and to the
//! schema at once, and only the table renderer is left to edit by hand.
//!
//! No I/O except through the writer the caller passes in.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alerts;
pub mod calibrate;
pub mod drill;
pub mod hgrm;
pub mod html;
pub mod multi;
pub mod pbs;
pub mod plan;
pub mod schema;
pub mod sim;
pub mod tidy;

use std::io::Write;

/// The version of the shape of every `--format json` document, carried as
/// its first key `schema_version`: raised when a key is renamed, removed or
/// changes meaning (adding one does not).
pub const SCHEMA_VERSION: u32 = 1;

/// Which world a document played, as every JSON document names it (the
/// table's `world:` header line): `world` is the preset's `--world` name
/// (`default`, `kata`) or `own` for a file's topology, `topology` its
/// regions, sites and RTTs.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WorldKeys {
    world: &'static str,
    topology: String,
}

impl WorldKeys {
    /// The keys for a run on `t`.
    pub fn of(t: &topology::Topology) -> WorldKeys {
        WorldKeys {
            world: topology::World::of(t).map_or("own", topology::World::name),
            topology: t.to_string(),
        }
    }
}

/// A JSON document with `schema_version` first, then the document's keys.
#[derive(serde::Serialize)]
struct Versioned<'a, T: serde::Serialize + ?Sized> {
    schema_version: u32,
    #[serde(flatten)]
    doc: &'a T,
}

/// Writes `doc` (an object) as pretty JSON with `"schema_version"` first and
/// a final newline: every command's `--format json` goes through here.
pub fn json<T: serde::Serialize + ?Sized>(out: &mut dyn Write, doc: &T) -> std::io::Result<()> {
    let v = Versioned {
        schema_version: SCHEMA_VERSION,
        doc,
    };
    serde_json::to_writer_pretty(&mut *out, &v).map_err(std::io::Error::from)?;
    writeln!(out)
}

/// How long a whole budget lasts at a verdict's burn rate: `36.2 h`,
/// `12.5 d`, `never` (nothing burns), `no data`.
pub fn lasts(v: &engine::drill::sli::Verdict) -> String {
    match (v.exhaustion_days, v.burn_rate) {
        (Some(d), _) if d < 1.0 => format!("{:.1} h", d * 24.0),
        (Some(d), _) => format!("{d:.1} d"),
        (None, Some(_)) => "never".into(),
        (None, None) => "no data".into(),
    }
}

/// A `.hgrm` file name: `parts` joined with `-`, each made portable
/// (`[A-Za-z0-9._]` kept, anything else `-`), with the client site's index
/// in the topology (from 0) as its own part before the site's name:
/// `sim-0-VN-local-read.hgrm`. Two sites whose names sanitise alike
/// (non-ASCII names, names differing in `/` or a space) still get two
/// files: the index tells them apart, and every other part comes from a
/// fixed list of names.
pub fn hgrm_name(prefix: &[&str], site: usize, site_name: &str, suffix: &[&str]) -> String {
    let index = site.to_string();
    let parts: Vec<&str> = prefix
        .iter()
        .copied()
        .chain([index.as_str(), site_name])
        .chain(suffix.iter().copied())
        .collect();
    let joined = parts.join("-");
    let mut name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.push_str(".hgrm");
    name
}
