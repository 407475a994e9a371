//! Every number a file (or the command line) can give, with its unit,
//! default and bounds: the one table validation reads and the README's
//! reference is checked against.

use std::ops::Range;

use crate::error::{Locator, ScenarioError};

/// The largest file read, in bytes: a scenario is a page of text.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The most requests one run may simulate unless the user asks for a long
/// run (`--allow-long`): about 8 minutes at the measured 2 M requests/s.
pub const MAX_REQUESTS: f64 = 1e9;

/// The most memory a run may be estimated to need, long run or not.
pub const MAX_MEMORY_BYTES: f64 = 8e9;

/// Measured drill speed (docs/performance.md), for the estimates in messages.
pub const REQUESTS_PER_SECOND: f64 = 2e6;

/// One number's contract.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The key as a file writes it (`fault.end_s`), or the flag (`--rate`).
    pub key: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// Smallest value allowed.
    pub min: f64,
    /// Largest value allowed.
    pub max: f64,
    /// The default when the key is left out (`-` where there is none).
    pub default: &'static str,
    /// What it sets, in a few words (and any bound that depends on others).
    pub meaning: &'static str,
}

/// Every number a scenario or topology file can hold.
pub const BOUNDS: &[Bound] = &[
    Bound {
        key: "duration_s",
        unit: "s",
        min: 1.0,
        max: 86_400.0,
        default: "300",
        meaning: "simulated length of the drill",
    },
    Bound {
        key: "rate",
        unit: "requests/s per site",
        min: 0.01,
        max: 1e6,
        default: "50",
        meaning: "Poisson arrival rate of each client site; rate x duration x sites is bounded too",
    },
    Bound {
        key: "accounts",
        unit: "accounts",
        min: 1.0,
        max: 1e6,
        default: "2000",
        meaning: "wallet accounts",
    },
    Bound {
        key: "signal_window_s",
        unit: "s",
        min: 0.1,
        max: 3_600.0,
        default: "10",
        meaning: "monitoring window; at most duration_s",
    },
    Bound {
        key: "slo_budget_days",
        unit: "days",
        min: 1.0,
        max: 366.0,
        default: "30",
        meaning: "the period an objective's error budget covers",
    },
    Bound {
        key: "slo_incident_allowance",
        unit: "fraction",
        min: 0.0001,
        max: 1.0,
        default: "0.1",
        meaning: "the share of one period's error budget a single fault may consume",
    },
    Bound {
        key: "recovery_share",
        unit: "fraction",
        min: 0.01,
        max: 1.0,
        default: "0.95",
        meaning:
            "a site has recovered when its charges are answered at this share of its pre-fault rate",
    },
    Bound {
        key: "recovery_hold_s",
        unit: "s",
        min: 1.0,
        max: 3_600.0,
        default: "30",
        meaning: "for this long without a break; at most duration_s",
    },
    Bound {
        key: "onset_window_s",
        unit: "s",
        min: 0.0,
        max: 3_600.0,
        default: "0",
        meaning: "with --runs N, each run's timeline is shifted by a time drawn uniformly from [0, this); the shifted timeline must end within duration_s",
    },
    Bound {
        key: "topology.links.rtt_ms",
        unit: "ms",
        min: 0.0,
        max: 10_000.0,
        default: "-",
        meaning: "round trip between two regions",
    },
    Bound {
        key: "topology.sites.rtt_ms",
        unit: "ms",
        min: 0.0,
        max: 10_000.0,
        default: "-",
        meaning: "round trip from a site to a region",
    },
    Bound {
        key: "slo.quantile",
        unit: "fraction",
        min: 0.0001,
        max: 1.0,
        default: "-",
        meaning: "the quantile an objective judges",
    },
    Bound {
        key: "slo.target_ms",
        unit: "ms",
        min: 0.0,
        max: 3_600_000.0,
        default: "-",
        meaning: "the objective's target",
    },
    Bound {
        key: "fault.start_s",
        unit: "s",
        min: 0.0,
        max: 86_400.0,
        default: "-",
        meaning: "when a fault starts; within the drill",
    },
    Bound {
        key: "fault.end_s",
        unit: "s",
        min: 0.0,
        max: 86_400.0,
        default: "-",
        meaning: "when it ends; after start_s, within the drill",
    },
    Bound {
        key: "fault.extra_ms",
        unit: "ms",
        min: 0.0,
        max: 600_000.0,
        default: "-",
        meaning: "a lag spike's added apply delay",
    },
    Bound {
        key: "fault.delay_ms",
        unit: "ms",
        min: 0.0,
        max: 2_000.0,
        default: "-",
        meaning: "a link delay's added one-way delay; below the 3 s heartbeat timeout",
    },
    Bound {
        key: "fault.stall_ms",
        unit: "ms",
        min: 0.0,
        max: 60_000.0,
        default: "-",
        meaning: "a disk stall's added time per fsync",
    },
    Bound {
        key: "flag.on_s",
        unit: "s",
        min: 0.0,
        max: 86_400.0,
        default: "-",
        meaning: "when a runbook flag goes on; within the drill",
    },
    Bound {
        key: "flag.off_s",
        unit: "s",
        min: 0.0,
        max: 86_400.0,
        default: "-",
        meaning: "when it goes off; after on_s, within the drill",
    },
    Bound {
        key: "clock.offset_ms",
        unit: "ms",
        min: -3_600_000.0,
        max: 3_600_000.0,
        default: "0",
        meaning: "a clock's offset from true time",
    },
    Bound {
        key: "clock.ppm",
        unit: "ppm",
        min: -100_000.0,
        max: 100_000.0,
        default: "-",
        meaning: "a drifting clock's rate error",
    },
    Bound {
        key: "clock.at_s",
        unit: "s",
        min: 0.0,
        max: 86_400.0,
        default: "-",
        meaning: "when a clock steps; within the drill",
    },
    Bound {
        key: "clock.before_ms",
        unit: "ms",
        min: -3_600_000.0,
        max: 3_600_000.0,
        default: "-",
        meaning: "a stepping clock's offset before the step",
    },
    Bound {
        key: "clock.after_ms",
        unit: "ms",
        min: -3_600_000.0,
        max: 3_600_000.0,
        default: "-",
        meaning: "its offset after the step",
    },
    Bound {
        key: "clock.amplitude_ms",
        unit: "ms",
        min: 0.0,
        max: 3_600_000.0,
        default: "-",
        meaning: "a periodic clock's wander",
    },
    Bound {
        key: "clock.period_s",
        unit: "s",
        min: 0.001,
        max: 86_400.0,
        default: "-",
        meaning: "its period",
    },
    Bound {
        key: "clock.noise_ms",
        unit: "ms",
        min: 0.0,
        max: 3_600_000.0,
        default: "0",
        meaning: "its noise",
    },
    Bound {
        key: "alert.threshold",
        unit: "ms or fraction",
        min: 0.0,
        max: 1e9,
        default: "-",
        meaning: "above this the alert fires",
    },
    Bound {
        key: "alert.for_s",
        unit: "s",
        min: 0.0,
        max: 3_600.0,
        default: "0",
        meaning: "how long the signal must stay over before the alert fires (Prometheus for:)",
    },
];

/// The bound of `key`.
///
/// # Panics
/// If the table has no such key: a programming error, caught by the tests.
pub fn bound(key: &str) -> &'static Bound {
    BOUNDS
        .iter()
        .find(|b| b.key == key)
        .unwrap_or_else(|| panic!("no bound for `{key}`"))
}

impl Bound {
    /// Checks `value` (written at `span`, reported as `field`) against the
    /// bound.
    pub(crate) fn check(
        &self,
        loc: &Locator<'_>,
        field: &str,
        value: f64,
        span: &Range<usize>,
    ) -> Result<f64, ScenarioError> {
        if value.is_finite() && (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(loc.error(
                Some(span),
                field,
                Some(loc.written(span)),
                format!(
                    "allowed: {} to {} {} ({})",
                    show(self.min),
                    show(self.max),
                    self.unit,
                    self.meaning
                ),
            ))
        }
    }
}

/// A number as a person would write it back.
pub fn show(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && v != 0.0 && (v.abs() >= 1e15 || v.abs() < 1e-4) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// The one cost model every command bounds its work with (`sim`, `drill`,
/// `compare`, `plan`, `pbs`): simulated requests, weighted by what one costs
/// on the topology, times runs, scenarios and designs; the estimated time
/// (at [`REQUESTS_PER_SECOND`] drill requests a second on one core) and peak
/// memory.
///
/// Measured (docs/performance.md): a drill request costs about
/// `1 + regions / 8` times one on the kata's few regions (every write
/// ships to each region); a run holds about 5 MB, 350 bytes per request/s
/// of total rate, and [`BYTES_PER_SITE`] per client site (its windows'
/// histograms); [`RUNS_IN_MEMORY`] runs are held at once. A `sim` request
/// of the kata loop costs [`REQUESTS_PER_SECOND`] / 5·10^7 of a drill's, a
/// wallet request [`REQUESTS_PER_SECOND`] / 3.8·10^6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Work {
    /// Requests simulated.
    pub requests: f64,
    /// Estimated seconds of computing, on one core.
    pub seconds: f64,
    /// Estimated peak memory, bytes.
    pub bytes: f64,
}

/// Memory one drill run holds per client site, bytes (measured: 64 sites
/// take about 380 MB).
pub const BYTES_PER_SITE: f64 = 6e6;

/// Runs held in memory at once: two being played and the share they are
/// added to.
pub const RUNS_IN_MEMORY: f64 = 3.0;

/// The most memory a normal run may be estimated to need; over it, only
/// with `--allow-long` (and never over [`MAX_MEMORY_BYTES`]).
pub const MAX_SHORT_MEMORY_BYTES: f64 = 2e9;

/// The longest a normal run may be estimated to compute: [`MAX_REQUESTS`]
/// drill requests.
pub const MAX_SECONDS: f64 = MAX_REQUESTS / REQUESTS_PER_SECOND;

impl Work {
    /// Nothing.
    pub const NONE: Work = Work {
        requests: 0.0,
        seconds: 0.0,
        bytes: 0.0,
    };

    /// One drill run on the kata's three regions: `rate` per site for
    /// `duration_s` with `sites` sites.
    pub fn drill(rate: f64, duration_s: f64, sites: usize) -> Work {
        Work::drill_on(rate, duration_s, sites, 3)
    }

    /// One drill run on a topology of `regions` regions.
    pub fn drill_on(rate: f64, duration_s: f64, sites: usize, regions: usize) -> Work {
        let total_rate = rate * sites as f64;
        let requests = total_rate * duration_s;
        Work {
            requests,
            seconds: requests * (1.0 + regions as f64 / 8.0) / REQUESTS_PER_SECOND,
            bytes: 5e6 + 350.0 * total_rate + BYTES_PER_SITE * sites as f64,
        }
    }

    /// `requests` of a `sim` run that simulates `per_second` of them a
    /// second on one core (its memory stays flat: a few MB a thread).
    pub fn sim(requests: f64, per_second: f64) -> Work {
        Work {
            requests,
            seconds: requests / per_second,
            bytes: 2e7,
        }
    }

    /// `n` of this work (runs, scenarios, designs): time adds up, at most
    /// [`RUNS_IN_MEMORY`] are held at once.
    pub fn times(self, n: f64) -> Work {
        Work {
            requests: self.requests * n,
            seconds: self.seconds * n,
            bytes: self.bytes * n.clamp(0.0, RUNS_IN_MEMORY),
        }
    }

    /// This and `other`, one after the other.
    pub fn then(self, other: Work) -> Work {
        Work {
            requests: self.requests + other.requests,
            seconds: self.seconds + other.seconds,
            bytes: self.bytes.max(other.bytes),
        }
    }

    /// Why this work is refused, if it is: more memory than any run may use,
    /// or (unless `long` runs are allowed) more time or memory than a normal
    /// run. The message gives the estimate.
    pub fn refusal(&self, long: Length) -> Option<String> {
        let describe = format!(
            "{} requests: about {:.0} s on one core and {:.0} MB",
            show(self.requests.round()),
            self.seconds,
            self.bytes / 1e6
        );
        if !(self.seconds.is_finite() && self.bytes.is_finite()) || self.bytes > MAX_MEMORY_BYTES {
            Some(format!(
                "{describe}, over the {:.0} MB any run may use; lower the rate, or use fewer \
                 sites or runs",
                MAX_MEMORY_BYTES / 1e6
            ))
        } else if long == Length::Short && self.seconds > MAX_SECONDS {
            Some(format!(
                "{describe}, over the {:.0} s ({} drill requests) of a normal run; make it \
                 smaller, or pass --allow-long to go ahead",
                MAX_SECONDS,
                show(MAX_REQUESTS)
            ))
        } else if long == Length::Short && self.bytes > MAX_SHORT_MEMORY_BYTES {
            Some(format!(
                "{describe}, over the {:.0} MB of a normal run; make it smaller, or pass \
                 --allow-long to go ahead",
                MAX_SHORT_MEMORY_BYTES / 1e6
            ))
        } else {
            None
        }
    }
}

/// Whether a run may be long (`--allow-long`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// At most [`MAX_REQUESTS`] requests.
    Short,
    /// Any number of requests within [`MAX_MEMORY_BYTES`].
    Long,
}
