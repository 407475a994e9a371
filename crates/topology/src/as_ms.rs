//! [`Micros`] serialised in the unit a report shows: the helpers a result
//! type names in `#[serde(serialize_with = "...")]`, its key carrying the
//! unit (`#[serde(rename = "charge_p95_ms")]`) and its schema saying
//! `#[schemars(with = "f64")]` (or `Option<f64>`).
//!
//! Every helper converts with [`to_ms`], the one conversion reports use, so
//! a figure reads the same in a table, a CSV and a JSON document.

use serde::Serializer;

use crate::{to_ms, Micros};

/// A duration in milliseconds.
pub fn one<S: Serializer>(v: &Micros, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(to_ms(*v))
}

/// A duration in milliseconds, `null` when there is none.
pub fn opt<S: Serializer>(v: &Option<Micros>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&to_ms(*v)),
        None => s.serialize_none(),
    }
}

/// A duration in seconds (milliseconds / 1000).
pub fn seconds<S: Serializer>(v: &Micros, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(to_ms(*v) / 1000.0)
}

/// A duration in seconds, `null` when there is none.
pub fn opt_seconds<S: Serializer>(v: &Option<Micros>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&(to_ms(*v) / 1000.0)),
        None => s.serialize_none(),
    }
}
