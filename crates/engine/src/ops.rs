//! Operating the service: monitoring signals per time window, alerts on them,
//! the runbook's feature flags, and what users saw when things degraded.
//!
//! A [`Monitor`] is fed every response as it happens and closed at the end of
//! each window; it turns the window into [`Signals`], evaluates the
//! [`AlertRule`]s and records each [`Firing`]. It never looks at the faults:
//! an alert is only as good as the signal behind it, which is the point of
//! measuring when it fires relative to the fault it should detect.

use std::fmt;
use std::str::FromStr;

use metrics::LatencyHistogram;
use topology::{ms, to_ms, Micros};

use crate::EngineError;

pub mod prometheus;

use prometheus::{CHARGE_BUCKETS_US, STALENESS_BUCKETS_US};

/// A runbook toggle. Serialized as its [`name`](Flag::name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Flag {
    /// Every balance read goes to the leader: no staleness, leader latency.
    ForceLeaderRead,
    /// Every charge is refused at once: nothing can be lost or double-spent.
    WriteReadonlyMode,
    /// Discount-eligibility reads are not served (shed load and cross-region traffic).
    DisableRecs,
}

impl Flag {
    /// Every flag.
    pub const ALL: [Flag; 3] = [
        Flag::ForceLeaderRead,
        Flag::WriteReadonlyMode,
        Flag::DisableRecs,
    ];

    /// The flag's name as the runbook spells it.
    pub fn name(self) -> &'static str {
        match self {
            Flag::ForceLeaderRead => "FORCE_LEADER_READ",
            Flag::WriteReadonlyMode => "WRITE_READONLY_MODE",
            Flag::DisableRecs => "DISABLE_RECS",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flag {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Flag, EngineError> {
        Flag::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| EngineError::UnknownName {
                what: "flag",
                name: s.to_string(),
                known: Flag::ALL.map(|f| f.name()).join(", "),
            })
    }
}

/// A flag as a drill switched it: on, and off again unless it still was
/// at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct FlagSwitch {
    /// Which flag.
    #[serde(rename = "name")]
    #[schemars(with = "String")]
    pub flag: Flag,
    /// When it went on.
    #[serde(rename = "on_at_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub on: Micros,
    /// When it went off (`None`: still on at the end).
    #[serde(rename = "off_at_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub off: Option<Micros>,
}

/// The runbook flags of one run: which are on, and every switch as it
/// happened (both event cores keep theirs here).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    on: [bool; 3],
    log: Vec<FlagSwitch>,
}

impl Flags {
    /// Whether `f` is on.
    pub fn is_on(&self, f: Flag) -> bool {
        self.on[f as usize]
    }

    /// Switches `f` at `now`; `false` when it already was so (nothing
    /// logged).
    pub fn set(&mut self, f: Flag, on: bool, now: Micros) -> bool {
        if self.on[f as usize] == on {
            return false;
        }
        self.on[f as usize] = on;
        if on {
            self.log.push(FlagSwitch {
                flag: f,
                on: now,
                off: None,
            });
        } else if let Some(span) = self
            .log
            .iter_mut()
            .rev()
            .find(|x| x.flag == f && x.off.is_none())
        {
            span.off = Some(now);
        }
        true
    }

    /// The switches, taken out.
    pub fn take_log(&mut self) -> Vec<FlagSwitch> {
        std::mem::take(&mut self.log)
    }
}

/// A flag switched on at `on` and off at `off` (both true times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagSpan {
    /// Which flag.
    pub flag: Flag,
    /// When it goes on.
    pub on: Micros,
    /// When it goes off.
    pub off: Micros,
}

impl FlagSpan {
    /// `NAME@ON-OFF`, each end a duration (`90`, `1.5m`; bare numbers in
    /// seconds) from 0 to `longest_s`, ON before OFF.
    pub fn parse(text: &str, longest_s: f64) -> Result<FlagSpan, EngineError> {
        let bad = || {
            EngineError::BadFlag(format!(
                "`{text}`: write NAME@ON-OFF, each end a duration from 0 to {longest_s} s (bare \
                 numbers in seconds), e.g. FORCE_LEADER_READ@60-180 or FORCE_LEADER_READ@1m-3m"
            ))
        };
        let (name, window) = text.split_once('@').ok_or_else(bad)?;
        let (on, off) = window.split_once('-').ok_or_else(bad)?;
        let secs = |v: &str| {
            topology::units::parse_duration(v, topology::units::Unit::S)
                .ok()
                .filter(|v| (0.0..=longest_s).contains(v))
                .map(|v| (v * 1e6).round() as Micros)
        };
        let span = FlagSpan {
            flag: name.parse()?,
            on: secs(on).ok_or_else(bad)?,
            off: secs(off).ok_or_else(bad)?,
        };
        if span.off <= span.on {
            return Err(EngineError::BadFlag(format!(
                "{text}: goes off at {} s, not after it goes on at {} s; write NAME@ON-OFF \
                 with ON before OFF",
                topology::to_ms(span.off) / 1000.0,
                topology::to_ms(span.on) / 1000.0
            )));
        }
        Ok(span)
    }
}

/// A monitoring signal, computed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// p95 of the staleness replicas reported on the reads they served (ms).
    LagP95,
    /// p99 of the same (ms).
    LagP99,
    /// p95 of charge-attempt latency (ms): acknowledged attempts at their
    /// latency, timed-out ones at their deadline.
    ChargeP95,
    /// p99 of the same (ms).
    ChargeP99,
    /// Reads that got no answer, per read.
    ReadErrorRate,
    /// Charge attempts refused or timed out, per attempt.
    ChargeErrorRate,
    /// Reads answered with staleness over 2 s, per read.
    StaleReadShare,
    /// Charges refused because the leader was unavailable, per charge attempt.
    RejectedShare,
}

/// An alert rule's identity: its position in the monitor's rule list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertId(pub usize);

/// What happened to an alert at the end of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It went over its threshold.
    Fired,
    /// It came back under.
    Resolved,
}

/// Why a charge attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeFailure {
    /// Refused at once: the leader was known to be unavailable, or writes
    /// were switched off.
    Rejected,
    /// No answer by the deadline.
    NoAnswer,
}

/// A flag's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Switched on.
    On,
    /// Switched off.
    Off,
}

/// Fires when `signal` has exceeded `threshold` at the end of every window
/// for at least `hold` (Prometheus's `for:`): pending from the first window
/// over it, firing once it has stayed over for `hold`, resolved at the first
/// window back under.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// The alert's name.
    pub name: String,
    /// What it watches.
    pub signal: Signal,
    /// Above this it fires (ms for latencies, a fraction for rates).
    pub threshold: f64,
    /// How long the signal must stay over before the alert fires (0: at the
    /// first window over).
    pub hold: Micros,
}

/// The alerts of DESIGN.md, thresholds taken from the SLOs, each with a
/// `for:` hold chosen against the design's own episodic lag model (DESIGN.md
/// §7 gives the measurement and the command that repeats it):
///
/// * replica lag p95 over the 2 s staleness objective for 60 s: ordinary lag
///   episodes (2–8 s stalls) put single windows over 2 s hundreds of times a
///   simulated day; a 30 s hold still fired 3 times a day, 60 s none;
/// * charge-attempt latency p95 (a timed-out attempt counted at its deadline)
///   over the 500 ms objective for 30 s: the slow path pushes single windows
///   over about 500 times a day; 20 s held fired once a day, 30 s none;
/// * more than 1 % of reads failing, more than 10 % of charge attempts
///   failing (the slow path alone fails about 1.2 % of attempts, and a window
///   holds only about 80 of them), more than 5 % of reads served over 2 s
///   stale, more than 1 % of charges refused for an unavailable leader: none
///   of these fires without a fault, so they fire at once.
pub fn default_alerts() -> Vec<AlertRule> {
    let r = |name: &str, signal, threshold, hold_s: f64| AlertRule {
        name: name.to_string(),
        signal,
        threshold,
        hold: ms(hold_s * 1000.0),
    };
    vec![
        r("replication_lag_p95", Signal::LagP95, 2000.0, 60.0),
        r("charge_latency_p95", Signal::ChargeP95, 500.0, 30.0),
        r("read_errors", Signal::ReadErrorRate, 0.01, 0.0),
        r("charge_errors", Signal::ChargeErrorRate, 0.10, 0.0),
        r("stale_reads_served", Signal::StaleReadShare, 0.05, 0.0),
        r(
            "writes_rejected_leader_unavailable",
            Signal::RejectedShare,
            0.01,
            0.0,
        ),
    ]
}

/// The signals of one closed window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Signals {
    /// Window end.
    pub at: Micros,
    /// Replica lag p95 (ms).
    pub lag_p95: f64,
    /// Replica lag p99 (ms).
    pub lag_p99: f64,
    /// Charge p95 (ms).
    pub charge_p95: f64,
    /// Charge p99 (ms).
    pub charge_p99: f64,
    /// Read error rate.
    pub read_error_rate: f64,
    /// Charge error rate.
    pub charge_error_rate: f64,
    /// Stale read share.
    pub stale_read_share: f64,
    /// Rejected share.
    pub rejected_share: f64,
    /// p95 of the staleness reported with the answered reads (0 for a
    /// leader's answer), ms: what users were told (no alert watches it).
    /// `None` unless the monitor keeps the report series
    /// ([`Monitor::with_report_series`]).
    pub served_staleness_p95: Option<f64>,
    /// p95 of how old the answered reads' data really was, ms (no alert
    /// watches it); `None` unless the report series are kept.
    pub data_age_p95: Option<f64>,
    /// What the window counted, which the signals above were computed from.
    pub counts: WindowCounts,
}

/// What one window counted: the inputs of its [`Signals`], as the counters
/// and histograms of docs/metrics.md would see them over that window (their
/// increase, not their running total). Histogram buckets count whole
/// buckets of the monitor's HDR histograms, so an `le` count includes values
/// up to 0.1 % over its bound, the monitor's own precision (see
/// [`metrics::LatencyHistogram::counts_at_most`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowCounts {
    /// Reads made, answered or not.
    pub reads: u64,
    /// Reads that got no answer.
    pub read_errors: u64,
    /// Reads answered with a staleness over 2 s.
    pub stale_reads: u64,
    /// Answered reads whose local replica reported a staleness of at most
    /// each bound of [`STALENESS_BUCKETS_US`].
    pub staleness_le: [u64; STALENESS_BUCKETS_US.len()],
    /// Answered reads (the staleness histogram's `+Inf` bucket).
    pub staleness_count: u64,
    /// Charge attempts.
    pub attempts: u64,
    /// Charge attempts refused at once.
    pub rejected: u64,
    /// Charge attempts without an answer by their deadline.
    pub timed_out: u64,
    /// Charge attempts observed (acknowledged, or timed out at their
    /// deadline) at most each bound of [`CHARGE_BUCKETS_US`].
    pub charge_le: [u64; CHARGE_BUCKETS_US.len()],
    /// Charge attempts observed (the charge histogram's `+Inf` bucket).
    pub charge_count: u64,
}

impl Signals {
    /// The value of signal `s` in this window.
    pub fn value(&self, s: Signal) -> f64 {
        match s {
            Signal::LagP95 => self.lag_p95,
            Signal::LagP99 => self.lag_p99,
            Signal::ChargeP95 => self.charge_p95,
            Signal::ChargeP99 => self.charge_p99,
            Signal::ReadErrorRate => self.read_error_rate,
            Signal::ChargeErrorRate => self.charge_error_rate,
            Signal::StaleReadShare => self.stale_read_share,
            Signal::RejectedShare => self.rejected_share,
        }
    }
}

/// From a fault's start to the first of `alerts` that fired at or after it
/// (`None`: none did).
pub fn time_to_detect(alerts: &[Firing]) -> Option<Micros> {
    alerts
        .iter()
        .filter_map(|a| a.fault_at.map(|f| a.fired_at - f))
        .min()
}

/// One alert firing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Firing {
    /// The rule.
    #[serde(skip)]
    pub alert: AlertId,
    /// The rule's name.
    pub name: String,
    /// When it fired (end of the first window over the threshold).
    #[serde(rename = "fired_at_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub fired_at: Micros,
    /// Start of the latest fault that began at or before the firing, if any.
    #[serde(rename = "fault_at_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub fault_at: Option<Micros>,
    /// When it resolved (end of the first window back under), if it did.
    #[serde(rename = "resolved_at_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub resolved_at: Option<Micros>,
}

/// How a response was degraded, as the user saw it. Serialized as its
/// [`name`](Degradation::name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Degradation {
    /// A read answered with staleness over 2 s (and said so).
    ServedStale,
    /// A charge refused or left without an answer.
    WritesUnavailable,
    /// A feature switched off by a flag.
    FeatureDisabled,
    /// A read that got no answer.
    ReadFailed,
}

impl Degradation {
    /// Every kind, in report order.
    pub const ALL: [Degradation; 4] = [
        Degradation::ServedStale,
        Degradation::WritesUnavailable,
        Degradation::FeatureDisabled,
        Degradation::ReadFailed,
    ];

    /// The kind's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Degradation::ServedStale => "served_stale",
            Degradation::WritesUnavailable => "writes_unavailable",
            Degradation::FeatureDisabled => "feature_disabled",
            Degradation::ReadFailed => "read_failed",
        }
    }
}

/// What users saw of one kind of degradation over a whole drill, as a
/// result reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct UserImpact {
    /// The kind of degradation.
    #[schemars(with = "String")]
    pub kind: Degradation,
    /// Responses degraded this way.
    pub responses: u64,
    /// The monitoring windows in which at least one was, end to end.
    #[serde(rename = "affected_s", serialize_with = "topology::report::secs")]
    #[schemars(with = "f64")]
    pub affected: Micros,
    /// First time one was seen.
    #[serde(rename = "first_at_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub first: Option<Micros>,
    /// Last time one was seen.
    #[serde(rename = "last_at_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub last: Option<Micros>,
}

impl UserImpact {
    /// What `impact` counted of `kind`, its windows `window` long.
    pub fn of(kind: Degradation, impact: Impact, window: Micros) -> UserImpact {
        UserImpact {
            kind,
            responses: impact.responses,
            affected: impact.windows * window,
            first: impact.first,
            last: impact.last,
        }
    }
}

/// What users saw of one kind of degradation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Impact {
    /// Responses degraded this way.
    pub responses: u64,
    /// Monitoring windows in which at least one was.
    pub windows: u64,
    /// First and last time one was seen.
    pub first: Option<Micros>,
    /// Last time one was seen.
    pub last: Option<Micros>,
}

#[derive(Debug, Clone, Default)]
struct Current {
    lag: LatencyHistogram,
    charge: LatencyHistogram,
    /// Report series, kept only when asked for (see `Monitor::with_report_series`).
    served: Option<LatencyHistogram>,
    data_age: Option<LatencyHistogram>,
    reads: u64,
    read_errors: u64,
    stale_reads: u64,
    attempts: u64,
    attempt_errors: u64,
    rejected: u64,
    timed_out: u64,
    seen: [bool; 4],
}

/// Watches one run: signals per window, alerts, user-visible impact.
#[derive(Debug, Clone)]
pub struct Monitor {
    window: Micros,
    rules: Vec<AlertRule>,
    cur: Current,
    /// Whether windows keep the report series.
    series: bool,
    active: Vec<Option<usize>>,
    /// Per rule: the end of the first window of the current run over the
    /// threshold (pending or firing).
    over_since: Vec<Option<Micros>>,
    /// Every firing, in order.
    pub firings: Vec<Firing>,
    /// Signals of every closed window.
    pub history: Vec<Signals>,
    /// Per [`Degradation`] kind (in [`Degradation::ALL`] order).
    pub impact: [Impact; 4],
}

impl Monitor {
    /// A monitor closing a window every `window` with these rules.
    pub fn new(window: Micros, rules: Vec<AlertRule>) -> Monitor {
        Monitor {
            window: window.max(1),
            active: vec![None; rules.len()],
            over_since: vec![None; rules.len()],
            rules,
            cur: Current::default(),
            series: false,
            firings: Vec::new(),
            history: Vec::new(),
            impact: [Impact::default(); 4],
        }
    }

    /// The window length.
    pub fn window(&self) -> Micros {
        self.window
    }

    /// The alerts firing now, in rule order.
    pub fn firing(&self) -> Vec<AlertId> {
        (0..self.rules.len())
            .filter(|&i| self.active[i].is_some())
            .map(AlertId)
            .collect()
    }

    /// Whether `alert` is firing now.
    pub fn is_firing(&self, alert: AlertId) -> bool {
        self.active.get(alert.0).is_some_and(Option::is_some)
    }

    /// The rule behind `alert`.
    pub fn rule(&self, alert: AlertId) -> &AlertRule {
        &self.rules[alert.0]
    }

    /// A degraded response at `t`.
    pub fn degraded(&mut self, kind: Degradation, t: Micros) {
        let i = Degradation::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("listed");
        let imp = &mut self.impact[i];
        imp.responses += 1;
        imp.first.get_or_insert(t);
        imp.last = Some(t);
        self.cur.seen[i] = true;
    }

    /// A read answered with staleness `served` (0 from the leader) while the
    /// client's local replica reported `replica_lag` (what the lag signal
    /// watches, whoever answered).
    pub fn read(&mut self, t: Micros, served: Micros, replica_lag: Micros) {
        self.cur.reads += 1;
        self.cur.lag.record(replica_lag);
        if served > ms(2000.0) {
            self.cur.stale_reads += 1;
            self.degraded(Degradation::ServedStale, t);
        }
    }

    /// What an answered read carried: the staleness its replica reported
    /// and the true age of its data (for the per-window report series).
    pub fn answered(&mut self, reported: Micros, data_age: Micros) {
        if let Some(h) = &mut self.cur.served {
            h.record(reported);
        }
        if let Some(h) = &mut self.cur.data_age {
            h.record(data_age);
        }
    }

    /// Keeps (or not) the per-window report series of
    /// [`answered`](Self::answered): two more histograms per window, so off
    /// by default.
    pub fn with_report_series(mut self, on: bool) -> Monitor {
        self.series = on;
        self.cur = self.fresh();
        self
    }

    /// An empty window.
    fn fresh(&self) -> Current {
        Current {
            served: self.series.then(LatencyHistogram::new),
            data_age: self.series.then(LatencyHistogram::new),
            ..Current::default()
        }
    }

    /// A read that got no answer.
    pub fn read_failed(&mut self, t: Micros) {
        self.cur.reads += 1;
        self.cur.read_errors += 1;
        self.degraded(Degradation::ReadFailed, t);
    }

    /// A charge attempt acknowledged after `latency`.
    pub fn charge_ok(&mut self, latency: Micros) {
        self.cur.attempts += 1;
        self.cur.charge.record(latency);
    }

    /// A charge attempt that got no answer by its deadline: a failure, and a
    /// latency of the whole deadline (the client waited that long), so a
    /// latency alert sees an outage instead of only the lucky answers.
    pub fn charge_timed_out(&mut self, t: Micros, deadline: Micros) {
        self.cur.charge.record(deadline);
        self.charge_failed(t, ChargeFailure::NoAnswer);
    }

    /// A charge attempt that failed, and why.
    pub fn charge_failed(&mut self, t: Micros, why: ChargeFailure) {
        self.cur.attempts += 1;
        self.cur.attempt_errors += 1;
        self.cur.rejected += (why == ChargeFailure::Rejected) as u64;
        self.cur.timed_out += (why == ChargeFailure::NoAnswer) as u64;
        self.degraded(Degradation::WritesUnavailable, t);
    }

    /// Closes the window ending at `t`; returns the alerts that fired or
    /// resolved at it.
    pub fn close(&mut self, t: Micros, last_fault: Option<Micros>) -> Vec<(AlertId, Change)> {
        let next = self.fresh();
        let c = std::mem::replace(&mut self.cur, next);
        let share = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        // The bucket's floor: a value at the threshold never reads as over it.
        let q = |h: &LatencyHistogram, p: f64| to_ms(h.quantile_floor(p));
        let sig = Signals {
            at: t,
            lag_p95: q(&c.lag, 0.95),
            lag_p99: q(&c.lag, 0.99),
            charge_p95: q(&c.charge, 0.95),
            charge_p99: q(&c.charge, 0.99),
            read_error_rate: share(c.read_errors, c.reads),
            charge_error_rate: share(c.attempt_errors, c.attempts),
            stale_read_share: share(c.stale_reads, c.reads),
            rejected_share: share(c.rejected, c.attempts),
            served_staleness_p95: c.served.as_ref().map(|h| to_ms(h.value_at_quantile(0.95))),
            data_age_p95: c
                .data_age
                .as_ref()
                .map(|h| to_ms(h.value_at_quantile(0.95))),
            counts: WindowCounts {
                reads: c.reads,
                read_errors: c.read_errors,
                stale_reads: c.stale_reads,
                staleness_le: c.lag.counts_at_most(STALENESS_BUCKETS_US),
                staleness_count: c.lag.count(),
                attempts: c.attempts,
                rejected: c.rejected,
                timed_out: c.timed_out,
                charge_le: c.charge.counts_at_most(CHARGE_BUCKETS_US),
                charge_count: c.charge.count(),
            },
        };
        for (i, seen) in c.seen.iter().enumerate() {
            self.impact[i].windows += *seen as u64;
        }
        self.history.push(sig);
        let mut changes = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let over = sig.value(rule.signal) > rule.threshold;
            let since = if over {
                *self.over_since[i].get_or_insert(t)
            } else {
                self.over_since[i] = None;
                t
            };
            match (over, self.active[i]) {
                (true, None) if t - since >= rule.hold => {
                    self.active[i] = Some(self.firings.len());
                    self.firings.push(Firing {
                        alert: AlertId(i),
                        name: rule.name.clone(),
                        fired_at: t,
                        resolved_at: None,
                        fault_at: last_fault,
                    });
                    changes.push((AlertId(i), Change::Fired));
                }
                (false, Some(f)) => {
                    self.firings[f].resolved_at = Some(t);
                    self.active[i] = None;
                    changes.push((AlertId(i), Change::Resolved));
                }
                _ => {}
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_fires_on_the_first_window_over_and_resolves_on_the_first_under() {
        let mut rules = default_alerts();
        for r in &mut rules {
            r.hold = 0;
        }
        let mut m = Monitor::new(ms(10_000.0), rules);
        for _ in 0..100 {
            m.read(1, ms(300.0), ms(300.0));
        }
        assert!(m.close(ms(10_000.0), None).is_empty());
        for _ in 0..100 {
            m.read(ms(15_000.0), ms(5000.0), ms(5000.0));
        }
        let changes = m.close(ms(20_000.0), Some(ms(12_000.0)));
        let id = |name: &str| AlertId(m.rules.iter().position(|r| r.name == name).unwrap());
        assert!(changes.contains(&(id("replication_lag_p95"), Change::Fired)));
        assert!(changes.contains(&(id("stale_reads_served"), Change::Fired)));
        m.read(ms(25_000.0), 0, 0);
        let changes = m.close(ms(30_000.0), Some(ms(12_000.0)));
        let id = |name: &str| AlertId(m.rules.iter().position(|r| r.name == name).unwrap());
        assert!(changes.contains(&(id("replication_lag_p95"), Change::Resolved)));
        let f = &m.firings[0];
        assert_eq!(
            (f.fired_at, f.resolved_at, f.fault_at),
            (ms(20_000.0), Some(ms(30_000.0)), Some(ms(12_000.0)))
        );
        let stale = m.impact[0];
        assert_eq!((stale.responses, stale.windows), (100, 1));
    }

    #[test]
    fn flags_parse_by_their_runbook_names() {
        for f in Flag::ALL {
            assert_eq!(f.name().parse::<Flag>().unwrap(), f);
        }
        assert!("FORCE"
            .parse::<Flag>()
            .unwrap_err()
            .to_string()
            .contains("DISABLE_RECS"));
    }
}
