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
//!
//! A file may name the world it was fitted on with a `# regions: A,B,C` and a
//! `# leader: A` line (both or neither; [`FittedWorld`]): `kata86 sim
//! --lag-from` then refuses a world with other regions or another leader.
//! Every other comment line is ignored, the `# sim-command:` and
//! `# sim-expect:` lines `calibrate` writes included (they are read by the
//! check that `sim` reproduces calibrate's figures, not by `sim`).

use crate::lag::{EmpiricalLag, MAX_EMPIRICAL};
use topology::Micros;

/// The line that states what the file holds.
pub const HOLDS: &str = "# holds: apply-lag";

/// The column header.
pub const HEADER: &str = "apply_lag_ms";

/// The most samples a file may hold.
pub const MAX_SAMPLES: usize = 1_000_000;

/// The most regions a `# regions:` line may name.
pub const MAX_REGIONS: usize = 64;

/// The longest region name a `# regions:` line may hold, in characters.
pub const MAX_NAME: usize = 32;

/// The world a lag file was fitted on: its `# regions:` and `# leader:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FittedWorld {
    /// Region names, as the file lists them.
    pub regions: Vec<String>,
    /// The leader's region, one of `regions`.
    pub leader: String,
}

impl FittedWorld {
    /// Whether a world with these regions (in any order) and this leader is
    /// the one the file was fitted on.
    pub fn matches<'a>(&self, regions: impl IntoIterator<Item = &'a str>, leader: &str) -> bool {
        let mut theirs: Vec<&str> = regions.into_iter().collect();
        let mut ours: Vec<&str> = self.regions.iter().map(String::as_str).collect();
        theirs.sort_unstable();
        ours.sort_unstable();
        theirs == ours && leader == self.leader
    }
}

/// A parsed lag file: the law, and the world it names, if it names one.
#[derive(Debug, Clone, PartialEq)]
pub struct LagFile {
    /// The apply-lag distribution of its samples.
    pub law: EmpiricalLag,
    /// The world it was fitted on (`# regions:` and `# leader:`), if given.
    pub world: Option<FittedWorld>,
}

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
    /// A `# regions:` or `# leader:` line that cannot be the world's.
    #[error("line {line}: {reason}")]
    BadWorld {
        /// Line number.
        line: usize,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// Parses a `# regions:` list.
fn regions(list: &str, line: usize) -> Result<Vec<String>, LagFileError> {
    let bad = |reason: String| LagFileError::BadWorld { line, reason };
    let names: Vec<&str> = list.split(',').map(str::trim).collect();
    if names.len() > MAX_REGIONS {
        return Err(bad(format!(
            "`# regions:` names {} regions; give 1 to {MAX_REGIONS}",
            names.len()
        )));
    }
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
            return Err(bad(format!(
                "`# regions:` entry {} is not a region name of 1 to {MAX_NAME} characters \
                 (give names separated by commas, e.g. `# regions: SG,US,JP`)",
                i + 1
            )));
        }
        if names[..i].contains(n) {
            let shown: String = n.chars().take(MAX_NAME).collect();
            return Err(bad(format!("`# regions:` names `{shown}` twice")));
        }
    }
    Ok(names.into_iter().map(str::to_string).collect())
}

/// Parses a lag file into the distribution of its samples, ignoring the world
/// it may name (see [`read`]).
pub fn parse(text: &str) -> Result<EmpiricalLag, LagFileError> {
    read(text).map(|f| f.law)
}

/// Parses a lag file: the distribution of its samples and the world its
/// `# regions:` and `# leader:` lines name.
pub fn read(text: &str) -> Result<LagFile, LagFileError> {
    let mut holds = false;
    let mut world_regions: Option<(usize, Vec<String>)> = None;
    let mut world_leader: Option<(usize, String)> = None;
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
            } else if let Some(list) = comment.trim().strip_prefix("regions:") {
                if world_regions.is_some() {
                    return Err(LagFileError::BadWorld {
                        line: n,
                        reason: "a second `# regions:` line; give one".into(),
                    });
                }
                world_regions = Some((n, regions(list, n)?));
            } else if let Some(name) = comment.trim().strip_prefix("leader:") {
                if world_leader.is_some() {
                    return Err(LagFileError::BadWorld {
                        line: n,
                        reason: "a second `# leader:` line; give one".into(),
                    });
                }
                world_leader = Some((n, name.trim().to_string()));
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
    let world = match (world_regions, world_leader) {
        (None, None) => None,
        (Some((line, _)), None) => {
            return Err(LagFileError::BadWorld {
                line,
                reason: "`# regions:` without a `# leader:` line; name the leader's region \
                         (e.g. `# leader: SG`) or drop both lines"
                    .into(),
            })
        }
        (None, Some((line, _))) => {
            return Err(LagFileError::BadWorld {
                line,
                reason: "`# leader:` without a `# regions:` line; list the world's regions \
                         (e.g. `# regions: SG,US,JP`) or drop both lines"
                    .into(),
            })
        }
        (Some((_, regions)), Some((line, leader))) => {
            if !regions.contains(&leader) {
                let shown: String = leader.chars().take(MAX_NAME).collect();
                return Err(LagFileError::BadWorld {
                    line,
                    reason: format!(
                        "`# leader: {shown}` is not one of the `# regions:` ({})",
                        regions.join(",")
                    ),
                });
            }
            Some(FittedWorld { regions, leader })
        }
    };
    let law = EmpiricalLag::from_samples(&samples).ok_or(LagFileError::Count(0))?;
    Ok(LagFile { law, world })
}

/// Writes `samples` (ms) as a lag file, `about` as its description comment,
/// naming the world it was fitted on when there is one.
pub fn write(about: &str, world: Option<&FittedWorld>, samples_ms: &[f64]) -> String {
    let mut out = String::from("# kata86 lag file\n");
    out.push_str(HOLDS);
    out.push('\n');
    if let Some(w) = world {
        out.push_str(&format!(
            "# regions: {}\n# leader: {}\n",
            w.regions.join(","),
            w.leader
        ));
    }
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
        let text = write("fitted on three / async", None, &samples);
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
    fn the_fitted_world_reads_back_and_bad_world_lines_are_located() {
        let w = FittedWorld {
            regions: vec!["SG".into(), "US".into(), "JP".into()],
            leader: "SG".into(),
        };
        let text = write(
            "sim-command: kata86 sim\nsim-expect: US local",
            Some(&w),
            &[1.0],
        );
        let f = read(&text).unwrap();
        assert_eq!(f.world.as_ref(), Some(&w));
        assert!(w.matches(["JP", "SG", "US"], "SG"));
        assert!(!w.matches(["SG", "US"], "SG"));
        assert!(!w.matches(["SG", "US", "JP"], "US"));
        assert_eq!(
            read("# holds: apply-lag\napply_lag_ms\n1\n").unwrap().world,
            None
        );
        let line = |t: &str| match read(t) {
            Err(LagFileError::BadWorld { line, .. }) => line,
            other => panic!("{other:?}"),
        };
        let h = "# holds: apply-lag\n";
        assert_eq!(line(&format!("{h}# regions: SG,US\napply_lag_ms\n1\n")), 2);
        assert_eq!(line(&format!("{h}# leader: SG\napply_lag_ms\n1\n")), 2);
        assert_eq!(
            line(&format!(
                "{h}# regions: SG,US\n# leader: JP\napply_lag_ms\n1\n"
            )),
            3
        );
        assert_eq!(
            line(&format!(
                "{h}# regions: SG,,US\n# leader: SG\napply_lag_ms\n1\n"
            )),
            2
        );
        assert_eq!(
            line(&format!(
                "{h}# regions: SG,SG\n# leader: SG\napply_lag_ms\n1\n"
            )),
            2
        );
        assert_eq!(
            line(&format!(
                "{h}# regions: SG\n# regions: SG\n# leader: SG\napply_lag_ms\n1\n"
            )),
            3
        );
        let long = "X".repeat(MAX_NAME + 1);
        assert_eq!(
            line(&format!(
                "{h}# regions: {long}\n# leader: SG\napply_lag_ms\n1\n"
            )),
            2
        );
        let many: Vec<String> = (0..=MAX_REGIONS).map(|i| format!("R{i}")).collect();
        let many = many.join(",");
        assert_eq!(
            line(&format!(
                "{h}# regions: {many}\n# leader: R0\napply_lag_ms\n1\n"
            )),
            2
        );
    }

    #[test]
    fn draws_stay_between_the_extremes_and_follow_the_percentiles() {
        use crate::{rng::substream, LagModel, LagProcess};
        let samples: Vec<f64> = (0..1000).map(|i| i as f64 / 10.0).collect();
        let e = parse(&write("", None, &samples)).unwrap();
        let mut p = LagProcess::new(LagModel::Empirical(e), substream(1, "lag", 0));
        let mut draws: Vec<Micros> = (0..100_000).map(|t| p.lag_at(t)).collect();
        draws.sort_unstable();
        assert!(draws[0] >= e.quantiles[0] && draws[99_999] <= e.quantiles[100]);
        let median = draws[50_000] as f64 / 1000.0;
        assert!((median - 50.0).abs() < 1.0, "{median}");
    }
}
