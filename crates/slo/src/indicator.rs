//! The per-site metrics that carry the SLIs (docs/metrics.md, "Metrics for
//! the SLOs"), and each objective's SLI as good and total PromQL selectors
//! over them.

use metrics::{Series, Slo, StalenessMeasure};

/// Requests by client site, operation and outcome: labels `site`,
/// `operation` ([`READ`] or [`CHARGE`]) and `outcome` ([`GOOD`], [`SLOW`],
/// [`FAILED`]).
pub const REQUESTS: &str = "kata86_requests_total";
/// Read latency per site, answered reads only (seconds).
pub const READ_DURATION: &str = "kata86_read_duration_seconds";
/// Charge latency per site: from the first send to the first answer,
/// answered charges only (seconds).
pub const CHARGE_DURATION: &str = "kata86_charge_duration_seconds";
/// The staleness the answering replica reported, per site, on every
/// answered read (seconds): the stand-in for data age, which production
/// cannot observe.
pub const READ_STALENESS: &str = "kata86_read_reported_staleness_seconds";

/// `operation` of a balance or eligibility read.
pub const READ: &str = "read";
/// `operation` of a charge.
pub const CHARGE: &str = "charge";
/// `outcome`: answered within the operation's latency objective.
pub const GOOD: &str = "good";
/// `outcome`: answered, later than the operation's latency objective.
pub const SLOW: &str = "slow";
/// `outcome`: no answer (a failed read; a charge refused or unanswered by
/// its deadline).
pub const FAILED: &str = "failed";

/// The latency histograms' bucket bounds (seconds) before the objectives'
/// targets are added: the client libraries' defaults.
pub const LATENCY_BOUNDS_S: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The staleness histogram's bucket bounds (seconds) before the targets.
pub const STALENESS_BOUNDS_S: [f64; 8] = [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

/// The histogram a latency or staleness objective reads.
pub fn histogram(series: Series) -> Option<&'static str> {
    match series {
        Series::Read => Some(READ_DURATION),
        Series::Write => Some(CHARGE_DURATION),
        Series::Staleness => Some(READ_STALENESS),
        Series::ReadAvailability | Series::ChargeAvailability => None,
    }
}

/// A histogram's bucket bounds (seconds): its defaults and the target of
/// every objective that reads it, sorted, each once. A client is configured
/// with its objectives' targets as bounds, so that "under the target" is a
/// bucket count and never an interpolation.
pub fn bounds(histogram_name: &str, slos: &[Slo]) -> Vec<f64> {
    let mut b: Vec<f64> = match histogram_name {
        READ_STALENESS => STALENESS_BOUNDS_S.to_vec(),
        _ => LATENCY_BOUNDS_S.to_vec(),
    };
    for s in slos {
        if histogram(s.series) == Some(histogram_name) {
            b.push(s.target_ms / 1e3);
        }
    }
    b.sort_by(f64::total_cmp);
    b.dedup();
    b
}

/// An SLI as two counter selectors: good events and valid events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// Good events (a selector: name and labels).
    pub good: String,
    /// Valid events.
    pub total: String,
    /// When the SLI is a stand-in for what the objective judges, why.
    pub stand_in: Option<&'static str>,
}

/// Why a staleness objective on data age is measured on reported staleness.
pub const DATA_AGE_STAND_IN: &str = "data age (how old the returned balance really was) cannot \
     be observed in production; the reported staleness of the answering replica stands in for it \
     and never under-reports it while the watermark clock is sound";

/// `slo`'s SLI at `site`, over the metrics of this module.
pub fn indicator(slo: &Slo, site: &str) -> Indicator {
    selectors(slo, Some(site))
}

/// `slo`'s SLI at `site`, or over every site (no `site` label) with
/// `None`: what an OpenSLO document of an objective for all sites carries.
pub fn selectors(slo: &Slo, site: Option<&str>) -> Indicator {
    let op = if slo.series.is_read() { READ } else { CHARGE };
    let at = site.map_or_else(String::new, |s| format!("site=\"{s}\","));
    let requests = |outcome: &str| format!("{REQUESTS}{{{at}operation=\"{op}\"{outcome}}}");
    let bucket = |h: &str| {
        format!(
            "{h}_bucket{{{at}le=\"{}\"}}",
            seconds_label(slo.target_ms / 1e3)
        )
    };
    match slo.series {
        Series::ReadAvailability | Series::ChargeAvailability => Indicator {
            good: requests(&format!(",outcome!=\"{FAILED}\"")),
            total: requests(""),
            stand_in: None,
        },
        Series::Read => Indicator {
            good: bucket(READ_DURATION),
            total: requests(""),
            stand_in: None,
        },
        Series::Write => Indicator {
            good: bucket(CHARGE_DURATION),
            total: requests(""),
            stand_in: None,
        },
        Series::Staleness => Indicator {
            good: bucket(READ_STALENESS),
            total: requests(&format!(",outcome!=\"{FAILED}\"")),
            stand_in: (slo.measure == StalenessMeasure::DataAge).then_some(DATA_AGE_STAND_IN),
        },
    }
}

/// Seconds as an `le` label: `0.15`, `2`.
pub fn seconds_label(s: f64) -> String {
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sli_counts_failures_as_bad_and_reads_a_bucket_at_its_target() {
        let slos = metrics::default_slos();
        let by = |n: &str| slos.iter().find(|s| s.name == n).unwrap();
        let a = indicator(by("charge_availability"), "SG");
        assert_eq!(
            a.good,
            "kata86_requests_total{site=\"SG\",operation=\"charge\",outcome!=\"failed\"}"
        );
        assert_eq!(
            a.total,
            "kata86_requests_total{site=\"SG\",operation=\"charge\"}"
        );
        let r = indicator(by("read_p95"), "VN");
        assert_eq!(
            r.good,
            "kata86_read_duration_seconds_bucket{site=\"VN\",le=\"0.15\"}"
        );
        assert_eq!(
            r.total,
            "kata86_requests_total{site=\"VN\",operation=\"read\"}"
        );
        let s = indicator(by("staleness_p95"), "VN");
        assert!(s.good.contains("le=\"2\""), "{s:?}");
        assert!(s.stand_in.is_some());
    }

    #[test]
    fn every_target_is_a_bound_of_its_histogram() {
        let slos = metrics::default_slos();
        let read = bounds(READ_DURATION, &slos);
        assert!(read.contains(&0.15) && read.contains(&0.005));
        assert!(read.windows(2).all(|w| w[0] < w[1]));
        let charge = bounds(CHARGE_DURATION, &slos);
        assert_eq!(
            charge, LATENCY_BOUNDS_S,
            "500 ms is already a default bound"
        );
        let st = bounds(READ_STALENESS, &slos);
        assert_eq!(st, STALENESS_BOUNDS_S);
    }
}
