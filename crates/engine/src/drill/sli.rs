//! Service-level indicators per client site and per phase: good events over
//! valid events (the SRE workbook's definition), and the verdicts a user acts
//! on.
//!
//! Every request is a valid event of every objective on its operation at its
//! site: a read of the read-latency, staleness and read-availability
//! objectives, a charge of the charge-latency and charge-availability ones.
//! It is good when it was answered within the objective's target (for
//! staleness: its age, of the measure the objective names, was under the
//! target; for availability: it was answered). A read that failed and a
//! charge refused or never answered within its deadline are therefore bad
//! events of every latency and availability objective, never missing ones;
//! a staleness objective counts only reads answered (a failed read returned
//! no data to be old). A charge counts at the second it was first sent, and
//! is good when its first answer (accepted or declined) reached the client;
//! an acknowledged charge lost later is a money figure, not an SLI one.
//!
//! The phases, per site and run: each fault's *impact window*, from its start
//! to the later of its end and the site's recovery from it (the rule of the
//! site's RTO, measured from that fault's start; the drill's end if it never
//! recovered), and *steady state*, every second in no impact window.
//!
//! Steady state is judged on the objective itself. Inside an impact window a
//! single-leader design cannot hold 99.9 % through a lost region and should
//! not pretend to, so the window is judged on the **error budget the fault
//! consumed**: its bad events over the budget of a [`Budget::period`] at the
//! objective's target and the site's request rate, against a per-incident
//! allowance. Both figures are reported; the budget decides.

use metrics::{Series, Slo, Spread, StalenessMeasure};
use serde::{Deserialize, Serialize};
use topology::{Micros, Topology};

use super::{DrillConfig, Fault};

/// How a fault's impact is judged: a share of one budget period's error
/// budget each incident may spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// The period an SLO's error budget covers (30 days).
    pub period: Micros,
    /// The share of one period's budget a single fault may consume (0.10).
    pub incident_allowance: f64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            period: 30 * 86_400 * 1_000_000,
            incident_allowance: 0.10,
        }
    }
}

/// Good and valid events of one objective.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Tally {
    /// Valid events that were good.
    pub good: u64,
    /// Valid events.
    pub valid: u64,
}

impl Tally {
    /// Valid events that were not good.
    pub fn bad(&self) -> u64 {
        self.valid.saturating_sub(self.good)
    }

    /// `good / valid`; `None` with no valid event ("no data").
    pub fn share(&self) -> Option<f64> {
        (self.valid > 0).then(|| self.good as f64 / self.valid as f64)
    }

    /// Adds another tally of the same objective.
    pub fn add(&mut self, o: &Tally) {
        self.good += o.good;
        self.valid += o.valid;
    }
}

/// One fault's impact window at one site in one run, with its tallies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultSli {
    /// The window's first second (the fault's start, whole seconds).
    pub from_s: u64,
    /// The second after its last (the later of the fault's end and the
    /// site's recovery from it).
    pub to_s: u64,
    /// Per objective of the configuration, in its order.
    pub tallies: Vec<Tally>,
}

/// One run's indicators at one client site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteSli {
    /// Per objective (the configuration's order; zero for one that does not
    /// cover the site): every second in no impact window.
    pub steady: Vec<Tally>,
    /// Per fault (the configuration's order).
    pub faults: Vec<FaultSli>,
    /// Per objective: valid events over the whole run, the site's rate.
    pub valid_total: Vec<u64>,
    /// Seconds the run sent requests for.
    pub seconds: u64,
    /// Per objective (the configuration's order; empty for one that does
    /// not cover the site): the burn-rate alerts' firings, evaluated every
    /// [`DrillConfig::burn_step_s`] on the policy's windows after a warm-up
    /// at the site's steady state (see [`BurnInput`]).
    #[serde(default)]
    pub burn: Vec<Vec<slo::Firing>>,
}

/// What the burn-rate alerts of one objective at one site are evaluated
/// on: its good and valid events in each second of the run, and the
/// warm-up before it (the site's rate over the run, bad at the share of its
/// steady-state seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct BurnInput {
    /// Good events per second.
    pub good: Vec<u64>,
    /// Valid events per second.
    pub valid: Vec<u64>,
    /// The steady state assumed before (and after) the run.
    pub warmup: slo::Warmup,
}

impl BurnInput {
    /// The counts the evaluation reads.
    pub fn counts(&self) -> slo::Counts {
        slo::Counts::new(&self.good, &self.valid, self.warmup)
    }
}

/// Per-second counts while a run plays, one flat array each, indexed
/// `(site × seconds + second) × objectives + objective` (one allocation, not
/// one per second).
pub(crate) struct SliCounter {
    slos: Vec<Slo>,
    covers: Vec<Vec<bool>>,
    good: Vec<u32>,
    valid: Vec<u32>,
    seconds: usize,
}

impl SliCounter {
    /// Counts for `cfg`'s objectives over `seconds` seconds.
    pub(crate) fn new(cfg: &DrillConfig, seconds: usize) -> SliCounter {
        let t = &cfg.topology;
        let sites: Vec<&str> = t.site_ids().map(|s| t.site_name(s)).collect();
        let covers = sites
            .iter()
            .map(|s| cfg.slos.iter().map(|o| o.applies_to(s)).collect())
            .collect();
        let n = cfg.slos.len();
        SliCounter {
            slos: cfg.slos.clone(),
            covers,
            good: vec![0; sites.len() * seconds * n],
            valid: vec![0; sites.len() * seconds * n],
            seconds,
        }
    }

    fn at(&self, site: usize, sec: usize, j: usize) -> usize {
        (site * self.seconds + sec) * self.slos.len() + j
    }

    fn count(&mut self, site: usize, at: Micros, good: impl Fn(&Slo) -> Option<bool>) {
        let sec = (at / 1_000_000) as usize;
        let (Some(cov), true) = (self.covers.get(site), sec < self.seconds) else {
            return;
        };
        for (j, slo) in self.slos.iter().enumerate() {
            if !cov[j] {
                continue;
            }
            if let Some(g) = good(slo) {
                let i = self.at(site, sec, j);
                self.valid[i] += 1;
                self.good[i] += g as u32;
            }
        }
    }

    /// A read from `site` sent at `at`, answered after `latency`, with the
    /// ages of its data.
    pub(crate) fn read(
        &mut self,
        site: usize,
        at: Micros,
        latency: Micros,
        reported: Micros,
        data_age: Micros,
    ) {
        self.count(site, at, |s| match s.series {
            Series::Read | Series::ReadAvailability => Some(s.good(latency)),
            Series::Staleness => Some(s.good(match s.measure {
                StalenessMeasure::DataAge => data_age,
                StalenessMeasure::Reported => reported,
            })),
            Series::Write | Series::ChargeAvailability => None,
        });
    }

    /// A read from `site` sent at `at` that got no answer.
    pub(crate) fn read_failed(&mut self, site: usize, at: Micros) {
        self.count(site, at, |s| {
            matches!(s.series, Series::Read | Series::ReadAvailability).then_some(false)
        });
    }

    /// A charge first sent by `site` at `at`: valid, bad until answered.
    pub(crate) fn charge_sent(&mut self, site: usize, at: Micros) {
        self.count(site, at, |s| {
            matches!(s.series, Series::Write | Series::ChargeAvailability).then_some(false)
        });
    }

    /// The first answer to a charge first sent by `site` at `at`, `latency`
    /// after it: good where it is in time.
    pub(crate) fn charge_answered(&mut self, site: usize, at: Micros, latency: Micros) {
        let sec = (at / 1_000_000) as usize;
        let (Some(cov), true) = (self.covers.get(site), sec < self.seconds) else {
            return;
        };
        for (j, slo) in self.slos.iter().enumerate() {
            if cov[j]
                && matches!(slo.series, Series::Write | Series::ChargeAvailability)
                && slo.good(latency)
            {
                let i = self.at(site, sec, j);
                self.good[i] += 1;
            }
        }
    }

    /// Objective `j`'s per-second counts at `site` over the run's first
    /// `seconds`, and the warm-up its burn-rate evaluation assumes; `None`
    /// where it does not cover the site.
    fn burn_input(
        &self,
        site: usize,
        j: usize,
        seconds: u64,
        steady: &[Tally],
        valid_total: &[u64],
    ) -> Option<BurnInput> {
        if !*self.covers.get(site)?.get(j)? {
            return None;
        }
        let per_second = |v: &[u32]| -> Vec<u64> {
            (0..(seconds as usize).min(self.seconds))
                .map(|sec| v[self.at(site, sec, j)] as u64)
                .collect()
        };
        Some(BurnInput {
            good: per_second(&self.good),
            valid: per_second(&self.valid),
            warmup: slo::Warmup {
                valid_per_s: valid_total[j] as f64 / seconds.max(1) as f64,
                error_ratio: 1.0 - steady[j].share().unwrap_or(1.0),
            },
        })
    }

    /// Every objective's [`BurnInput`] at every site (`[site][objective]`),
    /// for the indicators `finish` returned.
    pub(crate) fn burn_inputs(&self, slis: &[SiteSli]) -> Vec<Vec<Option<BurnInput>>> {
        slis.iter()
            .enumerate()
            .map(|(site, sli)| {
                (0..self.slos.len())
                    .map(|j| self.burn_input(site, j, sli.seconds, &sli.steady, &sli.valid_total))
                    .collect()
            })
            .collect()
    }

    /// The run's indicators per site, its faults' impact windows ending at
    /// `recovered(site, fault)` (from the fault's start; `None`: never),
    /// and the burn-rate alerts of `policy` evaluated every `step_s`.
    ///
    /// The warm-up before the run (as long as the longest window, so none
    /// starts empty) is the site's steady state extrapolated: valid events
    /// at the site's rate over the run (`valid_total / seconds`, the rate
    /// the budget accounting uses), bad at the share measured in its
    /// steady-state seconds (`slo::eval::Warmup`).
    pub(crate) fn finish(
        &self,
        faults: &[Fault],
        sent_seconds: u64,
        policy: &slo::BurnPolicy,
        step_s: u64,
        recovered: impl Fn(usize, &Fault) -> Option<Micros>,
    ) -> Vec<SiteSli> {
        let n = self.slos.len();
        let seconds = (sent_seconds as usize).min(self.seconds);
        (0..self.covers.len())
            .map(|site| {
                let windows: Vec<(usize, usize)> = faults
                    .iter()
                    .map(|f| {
                        let from = (f.start / 1_000_000) as usize;
                        let to = match recovered(site, f) {
                            Some(r) => f.end.max(f.start + r).div_ceil(1_000_000) as usize,
                            None => self.seconds,
                        };
                        (from.min(self.seconds), to.clamp(from, self.seconds))
                    })
                    .collect();
                let tally = |sec: usize, j: usize| Tally {
                    good: self.good[self.at(site, sec, j)] as u64,
                    valid: self.valid[self.at(site, sec, j)] as u64,
                };
                let mut steady = vec![Tally::default(); n];
                let mut valid_total = vec![0; n];
                for sec in 0..self.seconds {
                    let quiet = windows.iter().all(|&(a, b)| sec < a || sec >= b);
                    for j in 0..n {
                        let t = tally(sec, j);
                        valid_total[j] += t.valid;
                        if quiet {
                            steady[j].add(&t);
                        }
                    }
                }
                let faults = windows
                    .iter()
                    .map(|&(a, b)| {
                        let mut tallies = vec![Tally::default(); n];
                        for sec in a..b {
                            for (j, t) in tallies.iter_mut().enumerate() {
                                t.add(&tally(sec, j));
                            }
                        }
                        FaultSli {
                            from_s: a as u64,
                            to_s: b as u64,
                            tallies,
                        }
                    })
                    .collect();
                let seconds = seconds.max(1) as u64;
                let burn = (0..n)
                    .map(
                        |j| match self.burn_input(site, j, seconds, &steady, &valid_total) {
                            Some(b) => slo::eval::evaluate(
                                &b.counts(),
                                policy,
                                self.slos[j].quantile,
                                step_s,
                            ),
                            None => Vec::new(),
                        },
                    )
                    .collect();
                SiteSli {
                    steady,
                    faults,
                    valid_total,
                    seconds,
                    burn,
                }
            })
            .collect()
    }
}

/// The phase a verdict judges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum Phase {
    /// Every second outside the site's impact windows.
    Steady,
    /// One fault's impact window at the site.
    Fault {
        /// The fault's index in the configuration.
        index: usize,
        /// Its kind, as scenario files name it.
        kind: String,
    },
}

impl Phase {
    /// The phase as tables print it: `steady`, `fault 1 region-down`.
    pub fn label(&self) -> String {
        match self {
            Phase::Steady => "steady".into(),
            Phase::Fault { index, kind } => format!("fault {} {kind}", index + 1),
        }
    }
}

/// The error budget one fault consumed at one site, over the runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BudgetUse {
    /// Share of one period's budget consumed, in parts per million, over the
    /// runs (`None`: a budget of zero, as with a 100 % objective, overspent).
    pub consumed_ppm: Spread,
    /// The per-incident allowance, in parts per million.
    pub allowance_ppm: u64,
    /// The budget period, in days.
    pub period_days: f64,
}

/// What the burn-rate alerts of one objective at one site did in one
/// phase, over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BurnAlerts {
    /// Steady state: page firings that started before the run's first fault
    /// (the whole run without one), every run. Inside a fault: the runs
    /// whose page fired for it.
    pub pages: u64,
    /// The same for tickets.
    pub tickets: u64,
    /// Steady state: the seconds those firings were counted over, every run
    /// (`pages / days` is pages per day of baseline). Inside a fault: the
    /// runs.
    pub over: u64,
    /// Inside a fault: from its start to the first evaluation its page fired
    /// at, in seconds, over the runs ("never" ranked last); 0 when already
    /// firing. Empty in steady state.
    pub page_detect_s: Spread,
    /// Inside a fault: the page's detection time in each run, in run order
    /// (`None`: it did not page). Empty in steady state.
    pub page_detect_by_run_s: Vec<Option<u64>>,
    /// The same for the ticket.
    pub ticket_detect_s: Spread,
    /// Inside a fault: from the end of its impact window to the evaluation
    /// the page had reset at, in seconds (0 if before; "never": still firing
    /// at the run's end).
    pub page_reset_s: Spread,
}

impl Default for BurnAlerts {
    fn default() -> BurnAlerts {
        BurnAlerts {
            pages: 0,
            tickets: 0,
            over: 0,
            page_detect_s: Spread::of([]),
            page_detect_by_run_s: Vec::new(),
            ticket_detect_s: Spread::of([]),
            page_reset_s: Spread::of([]),
        }
    }
}

impl BurnAlerts {
    /// Steady state: pages per day of baseline (`None`: no baseline time).
    pub fn pages_per_day(&self) -> Option<f64> {
        (self.over > 0).then(|| self.pages as f64 * 86_400.0 / self.over as f64)
    }

    /// Steady state: tickets per day of baseline.
    pub fn tickets_per_day(&self) -> Option<f64> {
        (self.over > 0).then(|| self.tickets as f64 * 86_400.0 / self.over as f64)
    }
}

/// The burn-rate alerts of objective `j` in `phase`, from the runs' sites.
fn burn_alerts(j: usize, phase: &Phase, sites: &[&SiteSli]) -> BurnAlerts {
    use slo::Severity;
    let mut a = BurnAlerts::default();
    let (mut page_d, mut ticket_d, mut page_r) = (Vec::new(), Vec::new(), Vec::new());
    for sli in sites {
        let firings: &[slo::Firing] = sli.burn.get(j).map_or(&[], |v| v.as_slice());
        let first_fault = sli.faults.iter().map(|f| f.from_s).min();
        match phase {
            Phase::Steady => {
                let quiet = first_fault.unwrap_or(sli.seconds);
                a.over += quiet;
                for f in firings.iter().filter(|f| f.fired_at_s < quiet) {
                    match f.severity {
                        Severity::Page => a.pages += 1,
                        Severity::Ticket => a.tickets += 1,
                    }
                }
            }
            Phase::Fault { index, .. } => {
                let Some(w) = sli.faults.get(*index) else {
                    continue;
                };
                a.over += 1;
                // Up to the next fault's start (or the run's end).
                let until = sli
                    .faults
                    .iter()
                    .map(|f| f.from_s)
                    .filter(|&s| s > w.from_s)
                    .min()
                    .unwrap_or(u64::MAX);
                let first = |sev: Severity| {
                    firings.iter().find(|f| {
                        f.severity == sev
                            && f.fired_at_s < until
                            && f.resolved_at_s.is_none_or(|r| r > w.from_s)
                    })
                };
                let page = first(Severity::Page);
                let ticket = first(Severity::Ticket);
                a.pages += page.is_some() as u64;
                a.tickets += ticket.is_some() as u64;
                page_d.push(page.map(|f| f.fired_at_s.saturating_sub(w.from_s)));
                ticket_d.push(ticket.map(|f| f.fired_at_s.saturating_sub(w.from_s)));
                if let Some(f) = page {
                    page_r.push(f.resolved_at_s.map(|r| r.saturating_sub(w.to_s)));
                }
            }
        }
    }
    a.page_detect_s = Spread::of(page_d.iter().copied());
    a.page_detect_by_run_s = page_d;
    a.ticket_detect_s = Spread::of(ticket_d);
    a.page_reset_s = Spread::of(page_r);
    a
}

/// One objective judged at one site in one phase, every run pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// The client site.
    pub site: String,
    /// The phase judged.
    #[serde(flatten)]
    pub phase: Phase,
    /// The objective's name.
    pub slo: String,
    /// Its series.
    pub series: Series,
    /// For staleness objectives, the measure judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<StalenessMeasure>,
    /// The share of valid events that must be good.
    pub objective: f64,
    /// A good event's bound, in milliseconds (`None` for availability).
    pub target_ms: Option<f64>,
    /// Good events, every run.
    pub good: u64,
    /// Valid events, every run.
    pub valid: u64,
    /// `good / valid`; `None`: no data.
    pub share: Option<f64>,
    /// Whether `share` meets the objective (never with no data).
    pub share_met: bool,
    /// Inside a fault: the budget it consumed (`None` in steady state).
    pub budget: Option<BudgetUse>,
    /// The burn rate measured in the phase, every run pooled: the bad
    /// share over `1 − objective` (`None`: no data, or a 100 % objective).
    pub burn_rate: Option<f64>,
    /// How long one period's whole budget lasts at that burn rate, in days
    /// (`None`: nothing burns, or no burn rate).
    pub exhaustion_days: Option<f64>,
    /// The burn-rate alerts in the phase (see [`BurnAlerts`]).
    pub burn_alerts: BurnAlerts,
    /// The verdict: in steady state the share meets the objective; inside a
    /// fault the budget consumed at p95 over the runs is within the
    /// allowance. Never with no data.
    pub pass: bool,
}

impl Verdict {
    /// The verdict re-derived from its own counts: what `pass` must be.
    pub fn rejudged(&self) -> bool {
        match &self.budget {
            None => self.valid > 0 && self.share.is_some_and(|x| x >= self.objective),
            Some(b) => self.valid > 0 && b.consumed_ppm.p95.is_some_and(|p| p <= b.allowance_ppm),
        }
    }

    /// How far over its line a verdict is, in multiples of what it may
    /// spend: in steady state the bad share over `1 − objective`, inside a
    /// fault the budget consumed (p95) over the allowance. Infinite with no
    /// data or a zero budget. Above 1 fails.
    pub fn severity(&self) -> f64 {
        match (&self.budget, self.share) {
            (_, None) => f64::INFINITY,
            (None, Some(share)) => {
                let room = 1.0 - self.objective;
                if room > 0.0 {
                    (1.0 - share) / room
                } else if share < 1.0 {
                    f64::INFINITY
                } else {
                    0.0
                }
            }
            (Some(b), _) => match b.consumed_ppm.p95 {
                None => f64::INFINITY,
                Some(p) if b.allowance_ppm > 0 => p as f64 / b.allowance_ppm as f64,
                Some(p) => {
                    if p > 0 {
                        f64::INFINITY
                    } else {
                        0.0
                    }
                }
            },
        }
    }

    /// A line for a person: what was judged, what was seen, the margin.
    pub fn describe(&self) -> String {
        let what = match self.target_ms {
            Some(t) => format!("{} (< {} ms for {})", self.slo, t, pct(self.objective)),
            None => format!("{} ({} answered)", self.slo, pct(self.objective)),
        };
        let share = self
            .share
            .map_or_else(|| "no data".to_string(), |s| format!("{} good", pct(s)));
        let sev = self.severity();
        let margin = if sev.is_finite() {
            format!(", {:.1}x what it may spend", sev)
        } else {
            String::new()
        };
        let line = match &self.budget {
            None => format!(
                "{what} at {} in {}: {share} of {} valid",
                self.site,
                self.phase.label(),
                self.valid
            ),
            Some(b) => format!(
                "{what} at {} in {}: {share}, budget consumed p95 {} of a {}-day budget (allowance {})",
                self.site,
                self.phase.label(),
                b.consumed_ppm
                    .p95
                    .map_or_else(|| "all".to_string(), |p| pct(p as f64 / 1e6)),
                b.period_days,
                pct(b.allowance_ppm as f64 / 1e6)
            ),
        };
        format!("{line}{margin}")
    }
}

/// A share as a percentage with up to three decimals: `99.9 %`.
pub fn pct(x: f64) -> String {
    let v = (x * 100_000.0).round() / 1000.0;
    format!("{v} %")
}

/// An objective that names a site the world does not have: reported, never
/// silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotApplied {
    /// The objective's name.
    pub slo: String,
    /// The site it names.
    pub site: String,
}

/// The objectives of `cfg` that name a site its world lacks.
pub fn not_applied(cfg: &DrillConfig) -> Vec<NotApplied> {
    cfg.slos
        .iter()
        .filter_map(|s| {
            let site = s.site.as_deref()?;
            cfg.topology.site(site).is_err().then(|| NotApplied {
                slo: s.name.clone(),
                site: site.to_owned(),
            })
        })
        .collect()
}

/// The budget one fault's window consumed in one run, in parts per million
/// of one period's: its bad events over `(1 − objective) × rate × period`,
/// the rate being the site's valid events per second over the run.
fn consumed_ppm(
    slo: &Slo,
    budget: &Budget,
    bad: u64,
    valid_total: u64,
    seconds: u64,
) -> Option<u64> {
    let rate = valid_total as f64 / seconds.max(1) as f64;
    let allowed = (1.0 - slo.quantile) * rate * (budget.period as f64 / 1e6);
    if bad == 0 {
        Some(0)
    } else if allowed > 0.0 {
        Some((bad as f64 / allowed * 1e6).round() as u64)
    } else {
        None
    }
}

/// Every objective at every site it covers, in steady state and in each
/// fault's impact window, from the runs' indicators (`runs[run][site]`).
pub fn verdicts(cfg: &DrillConfig, budget: &Budget, runs: &[&[SiteSli]]) -> Vec<Verdict> {
    let t: &Topology = &cfg.topology;
    let allowance_ppm = (budget.incident_allowance * 1e6).round() as u64;
    let mut out = Vec::new();
    for site in t.site_ids() {
        let (s, name) = (site.idx(), t.site_name(site));
        let mut phases = vec![Phase::Steady];
        phases.extend(
            cfg.faults
                .iter()
                .enumerate()
                .map(|(index, f)| Phase::Fault {
                    index,
                    kind: f.kind.name().into(),
                }),
        );
        for (j, slo) in cfg.slos.iter().enumerate() {
            if !slo.applies_to(name) {
                continue;
            }
            for phase in &phases {
                let mut all = Tally::default();
                let mut used = Vec::new();
                for run in runs {
                    let Some(sli) = run.get(s) else { continue };
                    match phase {
                        Phase::Steady => all.add(&sli.steady[j]),
                        Phase::Fault { index, .. } => {
                            let w = &sli.faults[*index].tallies[j];
                            all.add(w);
                            used.push(consumed_ppm(
                                slo,
                                budget,
                                w.bad(),
                                sli.valid_total[j],
                                sli.seconds,
                            ));
                        }
                    }
                }
                let share = all.share();
                let share_met = share.is_some_and(|x| x >= slo.quantile);
                let budget_use = matches!(phase, Phase::Fault { .. }).then(|| BudgetUse {
                    consumed_ppm: Spread::of(used),
                    allowance_ppm,
                    period_days: budget.period as f64 / 86_400e6,
                });
                let burn_rate = share.and_then(|x| {
                    let room = 1.0 - slo.quantile;
                    (room > 0.0).then(|| (1.0 - x) / room)
                });
                let exhaustion_days = burn_rate
                    .and_then(|b| slo::eval::time_to_exhaustion_s(budget.period / 1_000_000, b))
                    .map(|s| s / 86_400.0);
                let sites: Vec<&SiteSli> = runs.iter().filter_map(|r| r.get(s)).collect();
                let burn_alerts = burn_alerts(j, phase, &sites);
                let pass = match &budget_use {
                    None => share_met,
                    Some(b) => {
                        all.valid > 0 && b.consumed_ppm.p95.is_some_and(|p| p <= allowance_ppm)
                    }
                };
                out.push(Verdict {
                    site: name.to_owned(),
                    phase: phase.clone(),
                    slo: slo.name.clone(),
                    series: slo.series,
                    measure: (slo.series == Series::Staleness).then_some(slo.measure),
                    objective: slo.quantile,
                    target_ms: (!slo.series.is_availability()).then_some(slo.target_ms),
                    good: all.good,
                    valid: all.valid,
                    share,
                    share_met,
                    budget: budget_use,
                    burn_rate,
                    exhaustion_days,
                    burn_alerts,
                    pass,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::{Builtin, FaultKind, JpRole};

    fn counter() -> (DrillConfig, SliCounter) {
        let cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Replica);
        let c = SliCounter::new(&cfg, 10);
        (cfg, c)
    }

    fn cfg_region() -> topology::RegionId {
        counter().0.leader
    }

    fn fault(start_s: u64, end_s: u64) -> Fault {
        Fault {
            kind: FaultKind::RegionDown {
                region: cfg_region(),
            },
            start: start_s * 1_000_000,
            end: end_s * 1_000_000,
        }
    }

    #[test]
    fn a_second_belongs_to_a_window_until_the_later_of_end_and_recovery() {
        let (cfg, mut c) = counter();
        let avail = cfg
            .slos
            .iter()
            .position(|s| s.series == Series::ReadAvailability)
            .unwrap();
        // One read a second at site 0, the ones in seconds 3 and 4 failed.
        for sec in 0..10u64 {
            if sec == 3 || sec == 4 {
                c.read_failed(0, sec * 1_000_000 + 5);
            } else {
                c.read(0, sec * 1_000_000 + 5, 1_000, 0, 0);
            }
        }
        // Fault [3, 5), the site recovered 4 s after its start: window [3, 7).
        let out = c.finish(
            &[fault(3, 5)],
            10,
            &slo::BurnPolicy::workbook(),
            10,
            |_, _| Some(4_000_000),
        );
        let s = &out[0];
        assert_eq!((s.faults[0].from_s, s.faults[0].to_s), (3, 7));
        assert_eq!(s.faults[0].tallies[avail], Tally { good: 2, valid: 4 });
        assert_eq!(s.steady[avail], Tally { good: 6, valid: 6 });
        assert_eq!(s.valid_total[avail], 10);
        // Never recovered: the window runs to the end.
        let out = c.finish(
            &[fault(3, 5)],
            10,
            &slo::BurnPolicy::workbook(),
            10,
            |_, _| None,
        );
        assert_eq!(out[0].faults[0].to_s, 10);
        assert_eq!(out[0].steady[avail], Tally { good: 3, valid: 3 });
        // Recovered before the fault ended: the window is the fault.
        let out = c.finish(
            &[fault(3, 5)],
            10,
            &slo::BurnPolicy::workbook(),
            10,
            |_, _| Some(0),
        );
        assert_eq!((out[0].faults[0].from_s, out[0].faults[0].to_s), (3, 5));
    }

    #[test]
    fn a_charge_is_bad_until_answered_in_time() {
        let (cfg, mut c) = counter();
        let j = |name: &str| cfg.slos.iter().position(|s| s.name == name).unwrap();
        c.charge_sent(1, 0);
        c.charge_sent(1, 10);
        c.charge_sent(1, 20);
        c.charge_answered(1, 0, 100_000); // in time
        c.charge_answered(1, 10, 600_000); // answered, slow
        let out = c.finish(&[], 10, &slo::BurnPolicy::workbook(), 10, |_, _| None);
        assert_eq!(out[1].steady[j("charge_p95")], Tally { good: 1, valid: 3 });
        assert_eq!(
            out[1].steady[j("charge_availability")],
            Tally { good: 2, valid: 3 }
        );
        // Reads are not charges.
        assert_eq!(out[1].steady[j("read_availability")], Tally::default());
    }

    #[test]
    fn budget_consumed_is_bad_events_over_the_periods_allowance() {
        let slo = metrics::availability_slos().remove(1);
        let b = Budget::default();
        // 1 request a second for 100 s: a 30-day 99.9 % budget is 2,592 bad
        // events; 259.2 of them are 10 %.
        assert_eq!(consumed_ppm(&slo, &b, 2592, 100, 100), Some(1_000_000));
        assert_eq!(consumed_ppm(&slo, &b, 0, 100, 100), Some(0));
        let all = Slo::availability("x", Series::ChargeAvailability, 1.0).unwrap();
        assert_eq!(consumed_ppm(&all, &b, 1, 100, 100), None);
    }
}
