//! [`Micros`] as reports print them: serde serializers for result fields
//! held in microseconds and written in milliseconds or seconds, so a result
//! type names its unit in its key (`#[serde(rename = "rpo_ms", serialize_with
//! = "topology::report::ms")]`) and no report keeps a copy of it in another
//! unit. Pair each with `#[schemars(with = "f64")]` (or `Option<f64>`) so
//! the published schema says number.
//!
//! The arithmetic is [`to_ms`]'s, so a figure prints exactly as a
//! hand-converted one did.

use serde::Serializer;

use crate::{to_ms, Micros};

/// Microseconds written as milliseconds.
pub fn ms<S: Serializer>(us: &Micros, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(to_ms(*us))
}

/// Microseconds, if any, written as milliseconds (`null` for none).
pub fn ms_opt<S: Serializer>(us: &Option<Micros>, s: S) -> Result<S::Ok, S::Error> {
    match us {
        Some(us) => s.serialize_some(&to_ms(*us)),
        None => s.serialize_none(),
    }
}

/// Microseconds written as seconds (milliseconds over 1000).
pub fn secs<S: Serializer>(us: &Micros, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(to_ms(*us) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct T {
        #[serde(serialize_with = "ms")]
        a: Micros,
        #[serde(serialize_with = "ms_opt")]
        b: Option<Micros>,
        #[serde(serialize_with = "ms_opt")]
        c: Option<Micros>,
        #[serde(serialize_with = "secs")]
        d: Micros,
    }

    #[test]
    fn units_print_as_to_ms_does() {
        let t = T {
            a: 1_500,
            b: Some(2),
            c: None,
            d: 2_500_000,
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"a":1.5,"b":0.002,"c":null,"d":2.5}"#
        );
    }
}
