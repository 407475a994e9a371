//! The lag file: an apply-lag distribution as text, written by
//! `kata86 calibrate postgres --lag-out FILE` and read by
//! `kata86 sim --lag-from FILE`.
//!
//! It holds **apply lag only** — from a follower's receipt of an entry to its
//! visibility — never the network: the simulator adds each link's one-way
//! delay itself, so a measured replay lag (which already holds the round
//! trip) given here would count the network twice. The file says which it
//! holds on a required `# holds: apply-lag` line, and any other value is
//! refused. Format: `#` comment lines, the header `apply_lag_ms`, then one
//! sample per line in milliseconds (1 to [`MAX_SAMPLES`], each from 0 to one
//! hour). Pure text in, text out: no I/O here.

use crate::lag::{EmpiricalLag, MAX_EMPIRICAL};
use topology::Micros;

/// The line that states what the file holds.
pub const HOLDS: &str = "# holds: apply-lag";

/// The column header.
pub const HEADER: &str = "apply_lag_ms";

/// The most samples a file may hold.
pub const MAX_SAMPLES: usize = 1_000_000;

/// What is wrong with a lag file, with its line (1-based) where there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LagFileError {
    /// No `# holds:` line.
    #[error(
        "no `{HOLDS}` line: a lag file must say it holds apply lag only (receipt to \
         visibility), since kata86 adds each link's one-way delay itself"
    )]
    NoHolds,
    /// A `# holds:` line naming something else.
    #[error(
        "line {line}: holds `{what}`; --lag-from takes apply lag only (receipt to visibility). \
         A replay or end-to-end lag already holds the network delay, which kata86 adds itself: \
         subtract the link's one-way delay and write `{HOLDS}`"
    )]
    WrongHolds {
        /// Line number.
        line: usize,
        /// What it said it holds.
        what: String,
    },
    /// The first data line is not the header.
    #[error("line {line}: expected the header `{HEADER}`, found `{found}`")]
    NoHeader {
        /// Line number.
        line: usize,
        /// What was there.
        found: String,
    },
    /// A sample is not a number from 0 to one hour.
    #[error("line {line}: `{found}` is not an apply lag in ms from 0 to 3600000")]
    BadSample {
        /// Line number.
        line: usize,
        /// What was there.
        found: String,
    },
    /// No samples, or too many.
    #[error("{0} samples; give 1 to 1000000")]
    Count(usize),
}

/// Parses a lag file into the distribution of its samples.
pub fn parse(text: &str) -> Result<EmpiricalLag, LagFileError> {
    let mut holds = false;
    let mut header = false;
    let mut samples: Vec<Micros> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(what) = comment.trim().strip_prefix("holds:") {
                let what = what.trim();
                if what != "apply-lag" {
                    return Err(LagFileError::WrongHolds {
                        line: n,
                        what: what.to_string(),
                    });
                }
                holds = true;
            }
            continue;
        }
        if !header {
            if line != HEADER {
                return Err(LagFileError::NoHeader {
                    line: n,
                    found: line.chars().take(40).collect(),
                });
            }
            header = true;
            continue;
        }
        let bad = || LagFileError::BadSample {
            line: n,
            found: line.chars().take(40).collect(),
        };
        let ms: f64 = line.parse().map_err(|_| bad())?;
        if !(ms.is_finite() && ms >= 0.0 && topology::ms(ms) <= MAX_EMPIRICAL) {
            return Err(bad());
        }
        if samples.len() == MAX_SAMPLES {
            return Err(LagFileError::Count(MAX_SAMPLES + 1));
        }
        samples.push(topology::ms(ms));
    }
    if !holds {
        return Err(LagFileError::NoHolds);
    }
    EmpiricalLag::from_samples(&samples).ok_or(LagFileError::Count(0))
}

/// Writes `samples` (ms) as a lag file, `about` as its description comment.
pub fn write(about: &str, samples_ms: &[f64]) -> String {
    let mut out = String::from("# kata86 lag file\n");
    out.push_str(HOLDS);
    out.push('\n');
    out.push_str(
        "# Apply lag only: from a follower's receipt of an entry to its visibility.\n\
         # The network's one-way delay is not in it: kata86 adds each link's own.\n",
    );
    for line in about.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(HEADER);
    out.push('\n');
    for s in samples_ms {
        out.push_str(&format!("{s:.3}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let samples: Vec<f64> = (0..=100).map(|i| 1.0 + i as f64 * 0.5).collect();
        let text = write("fitted on three / async", &samples);
        let e = parse(&text).unwrap();
        assert_eq!(e.quantiles[0], 1_000);
        assert_eq!(e.quantiles[50], 26_000);
        assert_eq!(e.quantiles[100], 51_000);
    }

    #[test]
    fn refuses_what_is_not_apply_lag() {
        let replay = "# holds: replay-lag\napply_lag_ms\n91.0\n";
        assert!(matches!(
            parse(replay),
            Err(LagFileError::WrongHolds { line: 1, .. })
        ));
        assert_eq!(parse("apply_lag_ms\n1.0\n"), Err(LagFileError::NoHolds));
        let bad = "# holds: apply-lag\napply_lag_ms\n-1\n";
        assert!(matches!(
            parse(bad),
            Err(LagFileError::BadSample { line: 3, .. })
        ));
        assert_eq!(
            parse("# holds: apply-lag\napply_lag_ms\n"),
            Err(LagFileError::Count(0))
        );
        let nohdr = "# holds: apply-lag\n1.0\n";
        assert!(matches!(
            parse(nohdr),
            Err(LagFileError::NoHeader { line: 2, .. })
        ));
    }

    #[test]
    fn draws_stay_between_the_extremes_and_follow_the_percentiles() {
        use crate::{rng::substream, LagModel, LagProcess};
        let samples: Vec<f64> = (0..1000).map(|i| i as f64 / 10.0).collect();
        let e = parse(&write("", &samples)).unwrap();
        let mut p = LagProcess::new(LagModel::Empirical(e), substream(1, "lag", 0));
        let mut draws: Vec<Micros> = (0..100_000).map(|t| p.lag_at(t)).collect();
        draws.sort_unstable();
        assert!(draws[0] >= e.quantiles[0] && draws[99_999] <= e.quantiles[100]);
        let median = draws[50_000] as f64 / 1000.0;
        assert!((median - 50.0).abs() < 1.0, "{median}");
    }
}
