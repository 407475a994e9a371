//! What a drill is: the fault timeline, the policies and modes, the
//! topology with `JP`, the built-in drills, and their validation.

use metrics::Slo;
use replication::clock::ClockModel;
use replication::LagModel;
use routing::{ReadPolicy, ReadStrategy};
use topology::{ms, Micros, RegionId, Topology};

use crate::ops::{default_alerts, AlertRule, FlagSpan};
use crate::wallet::WalletConfig;
use crate::EngineError;

/// What the control plane does when the leader is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Read-only until the leader returns.
    RejectWrites,
    /// An operator promotes the most up-to-date follower after a set delay.
    PromoteManual,
    /// Followers promote one after missing heartbeats (and, with fencing,
    /// after the old leader's lease has surely expired).
    PromoteAuto,
}

/// When the leader acknowledges a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// After its own commit.
    Async,
    /// After the first follower has received the entry durably.
    SemiSync,
    /// After a majority of the voting regions (itself included) hold the
    /// entry durably: ⌊n/2⌋ followers' durable receipts.
    Majority,
}

macro_rules! named {
    ($t:ty, $what:literal, $($v:ident = $n:literal),+) => {
        impl $t {
            /// Every value, in report order.
            pub const ALL: &'static [$t] = &[$(<$t>::$v),+];
            /// The CLI name.
            pub fn name(self) -> &'static str {
                match self { $(<$t>::$v => $n),+ }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl std::str::FromStr for $t {
            type Err = EngineError;
            fn from_str(s: &str) -> Result<Self, EngineError> {
                Self::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| {
                    EngineError::UnknownName {
                        what: $what,
                        name: s.to_string(),
                        known: Self::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", "),
                    }
                })
            }
        }
    };
}
pub(crate) use named;
impl Replication {
    /// How many followers *among the term's voters* must hold an entry
    /// durably before the leader acknowledges it, for a term whose voter set
    /// (the leader included) has `voters` members: none for `async`; one for
    /// `semi-sync` (none when the leader is the only voter left); ⌊voters/2⌋
    /// for `majority`, which with the leader is a majority of the voters.
    ///
    /// The voter set is every region, witnesses included, less a region an
    /// operator removed when promoting by hand (`promote-manual`): the
    /// commit quorum follows the same set as elections and leases. With
    /// nobody removed this is the count over every region, as it always was.
    pub fn acks_needed(self, voters: usize) -> usize {
        match self {
            Replication::Async => 0,
            Replication::SemiSync => voters.saturating_sub(1).min(1),
            // With the leader, ⌊n/2⌋ followers make a majority of n voters.
            Replication::Majority => voters / 2,
        }
    }
}

named!(
    Policy,
    "policy",
    RejectWrites = "reject-writes",
    PromoteManual = "promote-manual",
    PromoteAuto = "promote-auto"
);
named!(
    Replication,
    "replication mode",
    Async = "async",
    SemiSync = "semi-sync",
    Majority = "majority"
);

/// One fault on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The region is unreachable and does nothing.
    RegionDown {
        /// The region.
        region: RegionId,
    },
    /// Nothing crosses from `a` to `b` (and from `b` to `a` when `both_ways`).
    Partition {
        /// One side.
        a: RegionId,
        /// The other side.
        b: RegionId,
        /// Cut in both directions.
        both_ways: bool,
    },
    /// The follower `to` applies what `from` ships to it `extra` later: an
    /// apply backlog. Receipt and durability are untouched, so no commit
    /// (semi-sync or majority) waits for it; only what replicas serve ages.
    LagSpike {
        /// Sending region.
        from: RegionId,
        /// Receiving region.
        to: RegionId,
        /// Added apply delay.
        extra: Micros,
    },
    /// Every message sent from `from` to `to` while the fault lasts (and
    /// from `to` to `from` when `both_ways`) takes `extra` longer one way:
    /// log entries and heartbeats, the followers' acks (so a commit that
    /// counts on them waits), and the charges, top-ups and forwarded reads an
    /// entry region relays to the leader. Nothing is lost. It must stay
    /// below the heartbeat timeout: a longer silence is a partition.
    LinkDelay {
        /// One end (the sender when one-way).
        from: RegionId,
        /// The other end.
        to: RegionId,
        /// Both directions.
        both_ways: bool,
        /// Added one-way delay.
        extra: Micros,
    },
    /// Every fsync that starts at `region` while the fault lasts takes
    /// `extra` longer: a follower's durable receipt (what `semi-sync` and
    /// `majority` wait for), and, at the leader, its own commit.
    DiskStall {
        /// The region whose disk stalls.
        region: RegionId,
        /// Added time per fsync.
        extra: Micros,
    },
}

impl FaultKind {
    /// The kind as scenario files name it (`region-down`, `link-delay`, …).
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::RegionDown { .. } => "region-down",
            FaultKind::Partition { .. } => "partition",
            FaultKind::LagSpike { .. } => "lag-spike",
            FaultKind::LinkDelay { .. } => "link-delay",
            FaultKind::DiskStall { .. } => "disk-stall",
        }
    }

    /// Whether the fault stops traffic (a region down, a cut link), as
    /// opposed to slowing it (a lag spike, a link delay, a disk stall).
    pub fn stops_traffic(&self) -> bool {
        matches!(
            self,
            FaultKind::RegionDown { .. } | FaultKind::Partition { .. }
        )
    }
}

/// A fault active on `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What breaks.
    pub kind: FaultKind,
    /// When it starts.
    pub start: Micros,
    /// When it ends.
    pub end: Micros,
}

impl Fault {
    pub(crate) fn active(&self, t: Micros) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether this fault stops messages from `a` reaching `b` at `t`.
    pub(crate) fn blocks(&self, a: usize, b: usize, t: Micros) -> bool {
        if a == b || !self.active(t) {
            return false;
        }
        match self.kind {
            FaultKind::RegionDown { region } => region.idx() == a || region.idx() == b,
            FaultKind::Partition {
                a: x,
                b: y,
                both_ways,
            } => (x.idx() == a && y.idx() == b) || (both_ways && x.idx() == b && y.idx() == a),
            FaultKind::LagSpike { .. }
            | FaultKind::LinkDelay { .. }
            | FaultKind::DiskStall { .. } => false,
        }
    }

    /// The extra one-way delay this fault puts at `t` on a message from
    /// region `a` to region `b` (0 if none).
    pub(crate) fn delay(&self, a: usize, b: usize, t: Micros) -> Micros {
        match self.kind {
            FaultKind::LinkDelay {
                from,
                to,
                both_ways,
                extra,
            } if self.active(t)
                && ((from.idx(), to.idx()) == (a, b)
                    || both_ways && (from.idx(), to.idx()) == (b, a)) =>
            {
                extra
            }
            _ => 0,
        }
    }

    /// The extra time this fault adds at `t` to an fsync at region `r`.
    pub(crate) fn stall(&self, r: usize, t: Micros) -> Micros {
        match self.kind {
            FaultKind::DiskStall { region, extra } if self.active(t) && region.idx() == r => extra,
            _ => 0,
        }
    }
}

/// Everything a drill depends on apart from the seed.
#[derive(Debug, Clone)]
pub struct DrillConfig {
    /// The drill's name, for reports.
    pub name: String,
    /// The built-in drill this is, if any (a scenario file is none).
    pub builtin: Option<Builtin>,
    /// How balance reads choose their replica (default `bounded`, the
    /// design's choice).
    pub strategy: ReadStrategy,
    /// The read strategies' thresholds (staleness bound 2 s).
    pub read: ReadPolicy,
    /// Regions, sites, RTTs.
    pub topology: Topology,
    /// The leader at the start.
    pub leader: RegionId,
    /// Witness regions: they vote and keep the log durably, but serve no
    /// reads and never lead.
    pub witnesses: Vec<RegionId>,
    /// Follower lag.
    pub lag: LagModel,
    /// Reaction to a lost leader.
    pub policy: Policy,
    /// When charges are acknowledged.
    pub replication: Replication,
    /// Leases and epochs on (the default) or off.
    pub fencing: bool,
    /// The faults, in any order.
    pub faults: Vec<Fault>,
    /// Simulated length of the drill (default 300 s).
    pub duration: Micros,
    /// Requests per second from each site (default 50).
    pub rate: f64,
    /// Accounts, mix, amounts, retries.
    pub workload: WalletConfig,
    /// Heartbeat timeout after which a lost peer is suspected (default 3 s).
    pub detection: Micros,
    /// `promote-manual`: operator reaction time after detection (default 60 s).
    pub operator_delay: Micros,
    /// DNS TTL before clients follow a routing change (default 30 s).
    pub dns_ttl: Micros,
    /// Leader lease length (default 10 s), renewed every `renew_every` (1 s).
    pub lease: Micros,
    /// Lease renewal period.
    pub renew_every: Micros,
    /// The maximum clock offset the system is built for (500 ms): kept as a
    /// margin on both sides of a lease, added as uncertainty by `hlc`
    /// watermarks, and enforced by the offset check.
    pub skew_bound: Micros,
    /// The offset check (on by default), as CockroachDB enforces its
    /// max offset: every region measures its clock against each region it
    /// reaches once per `renew_every`; one beyond `skew_bound` from a majority
    /// of them holds no lease (so, leading, admits nothing) and serves no
    /// reads until it is back within the bound. Off: it goes on regardless.
    pub max_offset_enforced: bool,
    /// Keep the per-window report series (`Signals::served_staleness_p95`,
    /// `Signals::data_age_p95`): two more histograms per monitoring window,
    /// so off unless a report asks for them (`kata86 drill --report`).
    pub report_series: bool,
    /// Charge deadline (1000 ms) and commit time (5 ms).
    pub write: routing::WritePolicy,
    /// SLOs judged per site, in steady state and in each fault's impact
    /// window (see [`super::sli`]).
    pub slos: Vec<Slo>,
    /// How an impact window's error budget is judged.
    pub budget: super::sli::Budget,
    /// The burn-rate alerts' window pairs and factors, evaluated over
    /// `budget.period` (see [`DrillConfig::burn_policy`]); the SRE
    /// workbook's by default.
    pub burn_windows: Vec<slo::BurnWindow>,
    /// Each region's clock (index = region id; missing ones read true time).
    pub clocks: Vec<ClockModel>,
    /// How replicas compute the staleness they report.
    pub watermark: Watermark,
    /// Runbook flags switched on and off on the timeline.
    pub flags: Vec<FlagSpan>,
    /// Alert rules evaluated at the end of every monitoring window.
    pub alerts: Vec<AlertRule>,
    /// Length of a monitoring window (default 10 s).
    pub signal_window: Micros,
    /// Play DESIGN.md's five runbook steps when the first alert fires.
    pub runbook: bool,
    /// A site has recovered when its charges are answered at no less than
    /// this share of its pre-fault rate (default 0.95)...
    pub recovery_share: f64,
    /// ...for this long without a break (default 30 s).
    pub recovery_hold: Micros,
    /// When a drill is played many times, each run's fault timeline is
    /// shifted by a time drawn uniformly from `[0, onset_window)` (default
    /// 60 s for built-in drills with a fault, 0 otherwise).
    pub onset_window: Micros,
}

/// How a replica turns its watermark into the staleness it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    /// Its own wall clock minus the leader's wall-clock stamp: wrong by the
    /// skew between the two clocks, in either direction.
    Wall,
    /// The replica's hybrid logical clock now minus the leader's hybrid stamp
    /// on the watermark, plus the configured maximum offset as uncertainty:
    /// never under-reports while every clock stays within the bound of the
    /// others, over-reports by at most twice it. Beyond the bound a replica cut
    /// off from its leader can under-report (the offset check stops it from
    /// serving).
    Hybrid,
}
named!(Watermark, "watermark clock", Wall = "wall", Hybrid = "hlc");

/// DESIGN.md's chosen single-leader design (§3): what every built-in drill
/// and every scenario file plays unless told otherwise.
///
/// This constant is the one place the defaults come from; a test checks that
/// DESIGN.md §3 names the same design ([`Design::describe`]), so when the
/// design changes the defaults follow it, and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Design {
    /// When charges are acknowledged.
    pub replication: Replication,
    /// What the control plane does when the leader is lost.
    pub policy: Policy,
    /// How balance reads choose their replica.
    pub strategy: ReadStrategy,
    /// How replicas compute the staleness they report.
    pub watermark: Watermark,
    /// What role `JP` plays in the built-in world.
    pub jp: JpRole,
}

/// The design DESIGN.md §3 chooses: majority commits, automatic promotion,
/// bounded-staleness reads with hybrid-logical-clock watermarks, JP a full
/// replica.
pub const DESIGN: Design = Design {
    replication: Replication::Majority,
    policy: Policy::PromoteAuto,
    strategy: ReadStrategy::Bounded,
    watermark: Watermark::Hybrid,
    jp: JpRole::Replica,
};

impl Design {
    /// Whether a drill plays this design (its replication, policy, read
    /// strategy and watermark; the world aside).
    pub fn played_by(&self, cfg: &DrillConfig) -> bool {
        (cfg.replication, cfg.policy, cfg.strategy, cfg.watermark)
            == (self.replication, self.policy, self.strategy, self.watermark)
    }

    /// The design as reports and DESIGN.md name it:
    /// `majority / promote-auto / bounded, hlc watermark`.
    pub fn describe(&self) -> String {
        format!(
            "{} / {} / {}, {} watermark",
            self.replication,
            self.policy,
            self.strategy.name(),
            self.watermark
        )
    }
}

/// The kata's topology plus `JP` (Tokyo): [`Topology::kata_with_jp`].
pub fn topology_with_jp() -> Topology {
    Topology::kata_with_jp()
}

/// What role `JP` plays in a drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpRole {
    /// Not there: the kata's two regions.
    Absent,
    /// A full replica (votes, holds data).
    Replica,
    /// A witness, as in Cloud Spanner's witness replicas: it votes on
    /// leadership and on every commit, keeps the log durably, serves no reads
    /// and never leads.
    Witness,
}
named!(
    JpRole,
    "JP role",
    Absent = "none",
    Replica = "replica",
    Witness = "witness"
);

/// The built-in drills. A scenario file is never one of them, whatever its
/// name: only this enum decides what a built-in drill does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// No fault: the reference every other drill is read against.
    Baseline,
    /// SG down from 60 s to 180 s.
    RegionDown,
    /// SG cut off from every other region from 60 s to 180 s.
    Partition,
    /// SG → US apply 8 s slower from 60 s to 180 s: apply only (receipt
    /// and fsync go on, so no commit waits for it; a slower link or disk is
    /// a `link-delay` or `disk-stall` scenario fault).
    LagSpike,
    /// No fault; SG's clock 250 ms ahead, US's 250 ms behind, JP wandering.
    ClockSkew,
    /// The lag spike, with the runbook played when an alert fires.
    Runbook,
}
named!(
    Builtin,
    "drill",
    Baseline = "baseline",
    RegionDown = "region-down",
    Partition = "partition",
    LagSpike = "lag-spike",
    ClockSkew = "clock-skew",
    Runbook = "runbook"
);

/// The built-in drill's faults and clocks on a world led by `leader`: the
/// leader plays SG's part and the first region that is neither leader nor
/// witness plays US's (see [`DrillConfig::playing`]).
fn timeline(
    drill: Builtin,
    topology: &Topology,
    leader: RegionId,
    witnesses: &[RegionId],
) -> (Vec<Fault>, Vec<ClockModel>) {
    let follower = topology
        .region_ids()
        .find(|&r| r != leader && !witnesses.contains(&r));
    let (start, end) = (ms(60_000.0), ms(180_000.0));
    let mut faults = Vec::new();
    match drill {
        Builtin::RegionDown => faults.push(Fault {
            kind: FaultKind::RegionDown { region: leader },
            start,
            end,
        }),
        Builtin::Partition => {
            for other in topology.region_ids().filter(|&x| x != leader) {
                faults.push(Fault {
                    kind: FaultKind::Partition {
                        a: leader,
                        b: other,
                        both_ways: true,
                    },
                    start,
                    end,
                });
            }
        }
        Builtin::Baseline | Builtin::ClockSkew => {}
        Builtin::LagSpike | Builtin::Runbook => {
            if let Some(to) = follower {
                faults.push(Fault {
                    kind: FaultKind::LagSpike {
                        from: leader,
                        to,
                        extra: ms(8_000.0),
                    },
                    start,
                    end,
                })
            }
        }
    }
    let clocks = if drill == Builtin::ClockSkew {
        // The leader 250 ms ahead, the first follower 250 ms behind, every
        // other region wandering within 100 ms.
        topology
            .region_ids()
            .map(|r| {
                if r == leader {
                    ClockModel::Offset { offset: 250_000 }
                } else if Some(r) == follower {
                    ClockModel::Offset { offset: -250_000 }
                } else {
                    ClockModel::Periodic {
                        amplitude: 100_000,
                        period: ms(60_000.0),
                        noise: 5_000,
                        // Replaced by the run's own sub-stream `clock/<region>`.
                        seed: 0,
                    }
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    (faults, clocks)
}

/// A built-in drill's fault onset window: 60 s when it has a fault, else 0.
fn onset_window(drill: Builtin) -> Micros {
    if drill == Builtin::Baseline || drill == Builtin::ClockSkew {
        0
    } else {
        ms(60_000.0)
    }
}

impl DrillConfig {
    /// A built-in drill (see [`Builtin`]) with JP in the given role: 300 s
    /// of traffic at 50 requests/s per site, leader SG, fencing on, episodic
    /// lag, and [`DESIGN`]'s replication, policy, read strategy and
    /// watermark.
    pub fn builtin(drill: Builtin, jp: JpRole) -> DrillConfig {
        let topology = match jp {
            JpRole::Absent => topology::World::Kata.topology(),
            _ => topology::World::DEFAULT.topology(),
        };
        let r = |n: &str| topology.region(n).expect("built-in region");
        let sg = r("SG");
        let witnesses = match jp {
            JpRole::Witness => vec![r("JP")],
            _ => Vec::new(),
        };
        let (faults, clocks) = timeline(drill, &topology, sg, &witnesses);
        // Every drill, the runbook's included, runs on the design's own lag
        // model: the alerts must tell ordinary lag episodes from the fault.
        let lag = LagModel::Episodic(replication::EpisodicLag::default());
        DrillConfig {
            name: drill.name().to_string(),
            builtin: Some(drill),
            strategy: DESIGN.strategy,
            read: ReadPolicy::default(),
            leader: sg,
            witnesses,
            topology,
            lag,
            policy: DESIGN.policy,
            replication: DESIGN.replication,
            fencing: true,
            faults,
            duration: ms(300_000.0),
            rate: 50.0,
            workload: WalletConfig::default(),
            detection: ms(3_000.0),
            operator_delay: ms(60_000.0),
            dns_ttl: ms(30_000.0),
            lease: ms(10_000.0),
            renew_every: ms(1_000.0),
            skew_bound: ms(500.0),
            max_offset_enforced: true,
            report_series: false,
            write: routing::WritePolicy::default(),
            slos: metrics::default_slos(),
            clocks,
            watermark: DESIGN.watermark,
            flags: Vec::new(),
            alerts: default_alerts(),
            signal_window: ms(10_000.0),
            runbook: drill == Builtin::Runbook,
            recovery_share: 0.95,
            budget: super::sli::Budget::default(),
            burn_windows: slo::BurnPolicy::workbook().windows,
            recovery_hold: ms(30_000.0),
            onset_window: onset_window(drill),
        }
    }

    /// This configuration's world (topology, leader, witnesses, clocks, SLOs,
    /// policies: a scenario file's) playing the built-in drill `drill`: its
    /// faults, flags, runbook and onset window replace the configuration's,
    /// aimed at this world's leader (`clock-skew` also replaces the clocks). The leader plays SG's part; the first
    /// region (in declaration order) that is neither leader nor witness
    /// plays US's (the lag spike's receiver, the clock behind). Refused when
    /// the drill needs a follower the world does not have.
    pub fn playing(mut self, drill: Builtin) -> Result<DrillConfig, EngineError> {
        if self.topology.region_count() < 2 {
            return Err(EngineError::BadDrill(format!(
                "the built-in drill {drill} needs at least two regions; this world has one"
            )));
        }
        let follower = self
            .topology
            .region_ids()
            .find(|&r| r != self.leader && !self.witnesses.contains(&r));
        if follower.is_none()
            && matches!(
                drill,
                Builtin::LagSpike | Builtin::Runbook | Builtin::ClockSkew
            )
        {
            let names: Vec<&str> = self
                .witnesses
                .iter()
                .map(|&w| self.topology.region_name(w))
                .collect();
            return Err(EngineError::BadDrill(format!(
                "the built-in drill {drill} needs a follower that holds data besides the leader {}, and every other region is a witness ({})",
                self.topology.region_name(self.leader),
                names.join(", ")
            )));
        }
        let (faults, clocks) = timeline(drill, &self.topology, self.leader, &self.witnesses);
        self.name = drill.name().to_string();
        self.builtin = Some(drill);
        self.faults = faults;
        if drill == Builtin::ClockSkew {
            self.clocks = clocks;
        }
        self.flags.clear();
        self.runbook = drill == Builtin::Runbook;
        self.onset_window = onset_window(drill);
        Ok(self)
    }

    /// The burn-rate policy: [`DrillConfig::burn_windows`] over the error
    /// budget's period (`budget.period`, whole seconds), the figure the
    /// verdicts' budget accounting uses.
    pub fn burn_policy(&self) -> slo::BurnPolicy {
        slo::BurnPolicy {
            period_s: self.budget.period / 1_000_000,
            windows: self.burn_windows.clone(),
        }
    }

    /// Sets the error budget's period (`budget_days`) and the burn-rate
    /// window pairs (`burn`, as `SEVERITY:LONG/SHORT:FACTOR`) a command line
    /// gives, and returns the validated policy (the same for `alerts` and
    /// `drill`). Pairs given that no objective's error ratio could reach are
    /// refused; the default pairs against a loose objective are not (a drill
    /// then reports that they never fire).
    pub fn set_burn(
        &mut self,
        budget_days: Option<f64>,
        burn: &[String],
    ) -> Result<slo::BurnPolicy, EngineError> {
        if let Some(days) = budget_days {
            if !(days.is_finite() && (1.0..=366.0).contains(&days)) {
                return Err(EngineError::BudgetDays(days));
            }
            self.budget.period = (days * 86_400e6).round() as Micros;
        }
        if !burn.is_empty() {
            self.burn_windows = burn
                .iter()
                .map(|b| slo::BurnWindow::parse(b))
                .collect::<Result<_, _>>()?;
        }
        let p = self.burn_policy();
        p.validate()?;
        if !burn.is_empty() {
            for s in &self.slos {
                p.check_target(&s.name, s.quantile)?;
            }
        }
        Ok(p)
    }

    /// The configurations a drill command plays side by side: every
    /// failover policy × replication mode (`matrix`), the two watermarks for
    /// the clock-skew drill unless one was chosen, else this one alone.
    pub fn compared(&self, matrix: bool, watermark_chosen: bool) -> Vec<DrillConfig> {
        if matrix {
            return Policy::ALL
                .iter()
                .flat_map(|&policy| {
                    Replication::ALL
                        .iter()
                        .map(move |&replication| DrillConfig {
                            policy,
                            replication,
                            ..self.clone()
                        })
                })
                .collect();
        }
        if self.builtin == Some(Builtin::ClockSkew) && !watermark_chosen {
            return Watermark::ALL
                .iter()
                .map(|&watermark| DrillConfig {
                    watermark,
                    ..self.clone()
                })
                .collect();
        }
        vec![self.clone()]
    }

    /// How often the burn-rate alerts are evaluated, in whole seconds: the
    /// monitoring window, rounded up to a second.
    pub fn burn_step_s(&self) -> u64 {
        self.signal_window.div_ceil(1_000_000).max(1)
    }

    /// Checks the timeline and the parameters, naming the first problem.
    pub fn validate(&self) -> Result<(), EngineError> {
        self.lag.validate()?;
        self.workload.validate()?;
        if !(self.rate.is_finite() && (crate::MIN_RATE..=crate::MAX_RATE).contains(&self.rate)) {
            return Err(EngineError::BadRate(self.rate));
        }
        let bad = |i: usize, reason: String| EngineError::BadFault { index: i, reason };
        if self.strategy.is_leaderless() {
            return Err(EngineError::BadDrill(
                "the quorum read strategy is leaderless, and drills and the wallet replay a \
                 single leader's log: use local, leader, fallback or bounded here, and \
                 `kata86 sim --strategy quorum` or `kata86 pbs` for N/R/W quorums"
                    .into(),
            ));
        }
        let n = self.topology.region_count();
        if self.witnesses.contains(&self.leader) {
            return Err(EngineError::BadDrill(
                "the leader is listed as a witness; a witness holds no data and cannot lead".into(),
            ));
        }
        for (i, f) in self.flags.iter().enumerate() {
            if let Some(g) = self.flags[..i]
                .iter()
                .find(|g| g.flag == f.flag && f.on < g.off && g.on < f.off)
            {
                return Err(EngineError::BadDrill(format!(
                    "flag {} is switched on twice over overlapping windows ({} ms and {} ms); merge them",
                    f.flag,
                    topology::to_ms(g.on),
                    topology::to_ms(f.on)
                )));
            }
            if f.off <= f.on || f.off > self.duration {
                return Err(EngineError::BadDrill(format!(
                    "flag {} must go off after it goes on and within the drill ({} ms -> {} ms)",
                    f.flag,
                    topology::to_ms(f.on),
                    topology::to_ms(f.off)
                )));
            }
        }
        for c in &self.clocks {
            c.validate()?;
        }
        if !(self.recovery_share > 0.0 && self.recovery_share <= 1.0) {
            return Err(EngineError::BadDrill(format!(
                "recovery share {} is not in (0, 1]",
                self.recovery_share
            )));
        }
        if self.recovery_hold < 1_000_000 || self.recovery_hold > self.duration {
            return Err(EngineError::BadDrill(
                "the recovery hold must be at least 1 s and no longer than the drill".into(),
            ));
        }
        if self.signal_window == 0 {
            return Err(EngineError::BadDrill(
                "the monitoring window must be > 0".into(),
            ));
        }
        for (i, f) in self.faults.iter().enumerate() {
            if f.end <= f.start {
                return Err(bad(
                    i,
                    format!(
                        "ends at {} ms, not after it starts at {} ms",
                        topology::to_ms(f.end),
                        topology::to_ms(f.start)
                    ),
                ));
            }
            if f.end > self.duration {
                return Err(bad(
                    i,
                    format!(
                        "ends at {} ms, after the drill's {} ms",
                        topology::to_ms(f.end),
                        topology::to_ms(self.duration)
                    ),
                ));
            }
            let regions: Vec<RegionId> = match f.kind {
                FaultKind::RegionDown { region } | FaultKind::DiskStall { region, .. } => {
                    vec![region]
                }
                FaultKind::Partition { a, b, .. } => vec![a, b],
                FaultKind::LagSpike { from, to, .. } | FaultKind::LinkDelay { from, to, .. } => {
                    vec![from, to]
                }
            };
            if regions.iter().any(|r| r.idx() >= n) {
                return Err(bad(i, "names a region the topology does not have".into()));
            }
            if regions.len() == 2 && regions[0] == regions[1] {
                return Err(bad(i, "a link needs two different regions".into()));
            }
            if let FaultKind::LinkDelay { extra, .. } = f.kind {
                if extra >= self.detection {
                    return Err(bad(
                        i,
                        format!(
                            "delays its link by {} ms, not below the {} ms heartbeat timeout: \
                             the followers would suspect their leader, which a delay does not \
                             model; play a silence that long as a partition",
                            topology::to_ms(extra),
                            topology::to_ms(self.detection)
                        ),
                    ));
                }
            }
            for (j, g) in self.faults.iter().enumerate().take(i) {
                let overlap = f.start < g.end && g.start < f.end;
                if overlap && f.kind == g.kind {
                    return Err(bad(
                        i,
                        format!("repeats fault {} over an overlapping window", j + 1),
                    ));
                }
                if let (
                    FaultKind::LagSpike { from, to, .. },
                    FaultKind::LagSpike {
                        from: f2, to: t2, ..
                    },
                ) = (f.kind, g.kind)
                {
                    if overlap && (from, to) == (f2, t2) {
                        return Err(bad(
                            i,
                            format!(
                                "contradicts fault {}: two lag spikes on one link at once",
                                j + 1
                            ),
                        ));
                    }
                }
                // Two delays on one direction of a link, or two stalls of
                // one disk, at once: which one holds is not said.
                let shared = match (f.kind, g.kind) {
                    (FaultKind::LinkDelay { .. }, FaultKind::LinkDelay { .. }) => {
                        let t = f.start.max(g.start);
                        (0..n).any(|a| (0..n).any(|b| f.delay(a, b, t) > 0 && g.delay(a, b, t) > 0))
                    }
                    (
                        FaultKind::DiskStall { region: a, .. },
                        FaultKind::DiskStall { region: b, .. },
                    ) => a == b,
                    _ => false,
                };
                if overlap && shared {
                    return Err(bad(
                        i,
                        format!(
                            "contradicts fault {}: two {} at once",
                            j + 1,
                            if matches!(f.kind, FaultKind::DiskStall { .. }) {
                                "disk stalls of one region"
                            } else {
                                "delays on one direction of a link"
                            }
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The timeline, shifted by as much as the onset window, must still end
    /// within the drill (checked where runs are drawn: one run plays the
    /// timeline as it is).
    pub fn check_onset_window(&self) -> Result<(), EngineError> {
        let last = self
            .faults
            .iter()
            .map(|f| f.end)
            .chain(self.flags.iter().map(|f| f.off))
            .chain(self.clocks.iter().filter_map(|c| match c {
                ClockModel::Step { at, .. } => Some(*at),
                _ => None,
            }))
            .max()
            .unwrap_or(0);
        if self.onset_window > 0 && last.saturating_add(self.onset_window) > self.duration {
            return Err(EngineError::BadDrill(format!(
                "the fault onset window ({} s) would push the timeline's last event ({} s) past the drill's end ({} s); shorten the window or lengthen the drill",
                topology::to_ms(self.onset_window) / 1000.0,
                topology::to_ms(last) / 1000.0,
                topology::to_ms(self.duration) / 1000.0
            )));
        }
        Ok(())
    }

    /// Whether region `r` holds a readable copy of the data (every region
    /// but a witness).
    pub(crate) fn holds_data(&self, r: usize) -> bool {
        !self.witnesses.iter().any(|w| w.idx() == r)
    }
}
