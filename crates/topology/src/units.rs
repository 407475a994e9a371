//! Durations as people write them: `150ms`, `2s`, `1.5s`, `2m`, `1h`, or a
//! bare number in the unit the reader documents.

/// A duration that is not one: the forms it may take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("give a duration: {DURATION_FORMS}, or a bare number of {unit}")]
pub struct DurationError {
    /// The bare number's unit, plural.
    pub unit: &'static str,
}

/// The forms every duration flag accepts, for help and errors.
pub const DURATION_FORMS: &str = "a number with a unit (150ms, 2s, 1.5s, 2m, 1h; also us and min)";

/// Parses a duration written with a unit (`us`/`µs`, `ms`, `s`, `m`/`min`,
/// `h`) or as a bare number in `bare` (ms or s, whichever the flag
/// documents), and returns it in `bare`'s unit. Negative and huge numbers
/// parse: the flag's own check refuses them with its bounds.
pub fn parse_duration(text: &str, bare: Unit) -> Result<f64, DurationError> {
    let t = text.trim();
    if let Ok(v) = t.parse::<f64>() {
        // A bare number, as written (`inf` and `1e308` included): the
        // flag's own check gives its bounds.
        return Ok(v);
    }
    let split = t
        .char_indices()
        .find(|&(i, c)| c.is_alphabetic() && !(i > 0 && (c == 'e' || c == 'E') && exponent(t, i)))
        .map_or(t.len(), |(i, _)| i);
    let (number, unit) = t.split_at(split);
    let seconds_per = match unit.trim() {
        "" => bare.seconds(),
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(DurationError {
                unit: bare.plural(),
            })
        }
    };
    let v = number.trim().parse::<f64>().map_err(|_| DurationError {
        unit: bare.plural(),
    })?;
    if unit.trim().is_empty() {
        return Ok(v);
    }
    // In the flag's unit, rounded to a millionth of it so that `0.3s` is
    // 300 ms; out-of-range values stay so for the flag's check.
    let x = v * (seconds_per / bare.seconds());
    Ok(if x.abs() < 1e9 {
        (x * 1e6).round() / 1e6
    } else {
        x
    })
}

/// An `e` at `i` of `t` is an exponent (`1e3`) when a digit follows it.
fn exponent(t: &str, i: usize) -> bool {
    let rest = &t[i + 1..];
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    rest.starts_with(|c: char| c.is_ascii_digit())
}

/// The unit a duration flag's bare numbers are in.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

impl Unit {
    /// Seconds in one of this unit.
    pub fn seconds(self) -> f64 {
        match self {
            Unit::Ms => 1e-3,
            Unit::S => 1.0,
        }
    }
    /// The unit's plural name.
    pub fn plural(self) -> &'static str {
        match self {
            Unit::Ms => "milliseconds",
            Unit::S => "seconds",
        }
    }
}
