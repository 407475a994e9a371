//! Service-level objectives and their verdicts.

use serde::Serialize;

use crate::histogram::{us_to_ms, LatencyHistogram};

/// Which measured series an SLO constrains.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    /// Latency of read requests.
    Read,
    /// Latency of write requests (charges).
    Write,
    /// How far behind the primary a replica's data is when it is read
    /// (which measure: [`Slo::measure`]).
    Staleness,
    /// Reads answered, of reads sent: an availability objective, whose
    /// `quantile` is the share that must be answered and whose `target_ms`
    /// is unused (0).
    ReadAvailability,
    /// Charges answered (accepted or declined), of charges sent: as
    /// [`Series::ReadAvailability`], for charges.
    ChargeAvailability,
}

impl Series {
    /// Whether this series counts answers rather than times.
    pub fn is_availability(self) -> bool {
        matches!(self, Series::ReadAvailability | Series::ChargeAvailability)
    }

    /// Whether this series is about reads (latency, freshness or answers).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Series::Read | Series::Staleness | Series::ReadAvailability
        )
    }
}

/// Which age a staleness objective judges.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StalenessMeasure {
    /// `data_age`: how old the returned balance really was (the oldest write
    /// to the account the serving replica lacked): what users experience.
    /// The default.
    #[default]
    DataAge,
    /// `reported`: the watermark age the serving replica published, the only
    /// one production monitoring can see.
    Reported,
}

impl StalenessMeasure {
    /// The measure's name in tables, keys and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            StalenessMeasure::DataAge => "data_age",
            StalenessMeasure::Reported => "reported",
        }
    }
}

/// An objective on one series, optionally only for requests from one client
/// site, read as the SRE workbook's SLI: a share of *valid* events that must
/// be *good*. For latency and staleness, "the `quantile` of `series` is below
/// `target_ms`" is the same as "at least `quantile` of the events are good",
/// good meaning under `target_ms`; for availability, good means answered.
/// Which events are valid is the measuring side's business (a drill counts a
/// failed or timed-out request as a bad latency event).
///
/// Built with [`Slo::new`], which checks the numbers; the fields are public
/// for reading and reporting.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Slo {
    /// Short identifier used in reports, e.g. `read_p95`.
    pub name: String,
    /// The series this objective constrains.
    pub series: Series,
    /// The quantile judged, in `(0, 1]`; 0.95 means p95.
    pub quantile: f64,
    /// The observed quantile must be strictly below this, in milliseconds.
    pub target_ms: f64,
    /// The client site this objective is limited to; `None` means all sites.
    pub site: Option<String>,
    /// For a staleness objective, which age it judges; ignored otherwise.
    pub measure: StalenessMeasure,
}

impl Slo {
    /// An objective on `series` for all sites.
    ///
    /// Fails if `quantile` is not in `(0, 1]` or `target_ms` is not a finite,
    /// non-negative number.
    pub fn new(
        name: &str,
        series: Series,
        quantile: f64,
        target_ms: f64,
    ) -> Result<Slo, MetricsError> {
        // Written so that NaN fails both checks.
        if !(quantile > 0.0 && quantile <= 1.0) {
            return Err(MetricsError::BadQuantile {
                slo: name.to_owned(),
                quantile,
            });
        }
        if !(target_ms.is_finite() && target_ms >= 0.0) {
            return Err(MetricsError::BadTarget {
                slo: name.to_owned(),
                target_ms,
            });
        }
        Ok(Slo {
            name: name.to_owned(),
            series,
            quantile,
            target_ms,
            site: None,
            measure: StalenessMeasure::DataAge,
        })
    }

    /// An availability objective on `series` (one of the `*Availability`
    /// series): at least `objective` of the requests answered.
    pub fn availability(name: &str, series: Series, objective: f64) -> Result<Slo, MetricsError> {
        Slo::new(name, series, objective, 0.0)
    }

    /// The same objective judging `measure` (staleness objectives).
    pub fn with_measure(self, measure: StalenessMeasure) -> Slo {
        Slo { measure, ..self }
    }

    /// Whether an answered request with value `value_us` (latency or age,
    /// in microseconds) is a good event: strictly under the target. An
    /// answer is always good for an availability objective.
    pub fn good(&self, value_us: u64) -> bool {
        self.series.is_availability() || (value_us as f64) < self.target_ms * 1000.0
    }

    /// The same objective, limited to requests from client site `site`.
    pub fn for_site(self, site: &str) -> Slo {
        Slo {
            site: Some(site.to_owned()),
            ..self
        }
    }

    /// Whether this objective covers requests from client site `site`.
    pub fn applies_to(&self, site: &str) -> bool {
        self.site.as_deref().is_none_or(|own| own == site)
    }

    /// Judges `h` against this objective. An empty `h` gives a verdict of
    /// "no data" (`observed_ms: None`), which never passes: an objective
    /// nobody measured is not met.
    ///
    /// The observed value is the histogram's quantile, which never rounds
    /// below the exact one, so a pass is never an artefact of precision.
    /// An availability objective has no histogram to judge: "no data".
    pub fn judge(&self, h: &LatencyHistogram) -> SloVerdict {
        let observed_ms = (h.count() > 0 && !self.series.is_availability())
            .then(|| us_to_ms(h.value_at_quantile(self.quantile) as f64));
        SloVerdict {
            name: self.name.clone(),
            target_ms: self.target_ms,
            observed_ms,
            pass: observed_ms.is_some_and(|o| o < self.target_ms),
        }
    }
}

/// The kata's objectives:
///
/// | name            | objective                          |
/// |-----------------|------------------------------------|
/// | `read_p95`      | read p95 < 150 ms, site `VN` only  |
/// | `charge_p95`    | write (charge) p95 < 500 ms        |
/// | `staleness_p95` | staleness p95 < 2 s                |
/// | `staleness_p99` | staleness p99 < 10 s               |
///
/// Staleness objectives judge `data_age`. Drills add
/// [`availability_slos`].
pub fn kata_slos() -> Vec<Slo> {
    let slo = |name, series, quantile, target_ms| {
        Slo::new(name, series, quantile, target_ms).expect("the kata's SLO constants are valid")
    };
    vec![
        slo("read_p95", Series::Read, 0.95, 150.0).for_site("VN"),
        slo("charge_p95", Series::Write, 0.95, 500.0),
        slo("staleness_p95", Series::Staleness, 0.95, 2_000.0),
        slo("staleness_p99", Series::Staleness, 0.99, 10_000.0),
    ]
}

/// The availability objectives a drill adds to the kata's (which has none):
/// 99.9 % of reads answered (`read_availability`) and 99.9 % of charges
/// answered (`charge_availability`), at every site.
pub fn availability_slos() -> Vec<Slo> {
    [
        ("read_availability", Series::ReadAvailability),
        ("charge_availability", Series::ChargeAvailability),
    ]
    .into_iter()
    .map(|(name, series)| {
        Slo::availability(name, series, 0.999).expect("the default availability is valid")
    })
    .collect()
}

/// The objectives a drill judges when a scenario names none: the kata's
/// four and the two availability objectives.
pub fn default_slos() -> Vec<Slo> {
    let mut v = kata_slos();
    v.extend(availability_slos());
    v
}

/// The outcome of judging one histogram against one [`Slo`].
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SloVerdict {
    /// The objective's name.
    pub name: String,
    /// The objective's target, in milliseconds.
    pub target_ms: f64,
    /// The observed quantile, in milliseconds; `None` when nothing was
    /// measured ("no data").
    pub observed_ms: Option<f64>,
    /// Whether `observed_ms < target_ms` (strictly); never with no data.
    pub pass: bool,
}

/// Why an [`Slo`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// Bytes that are not a histogram this crate wrote (hdrhistogram's V2
    /// deflate encoding, 3 significant digits, values 0 µs to 1 hour).
    #[error("not a kata86 latency histogram: {0}")]
    BadEncoding(String),
    /// The quantile was outside `(0, 1]` or NaN.
    #[error("SLO `{slo}`: quantile must be greater than 0 and at most 1 (e.g. 0.95 for p95), got {quantile}")]
    BadQuantile {
        /// The objective's name.
        slo: String,
        /// The rejected quantile.
        quantile: f64,
    },
    /// The target was negative, infinite or NaN.
    #[error(
        "SLO `{slo}`: target must be a finite number of milliseconds, 0 or more, got {target_ms}"
    )]
    BadTarget {
        /// The objective's name.
        slo: String,
        /// The rejected target, in milliseconds.
        target_ms: f64,
    },
}
