//! Where a request goes and what it costs: read strategies and the charge path.
//!
//! # Brief overview
//! * [`ReadStrategy`] — `local`, `leader`, `fallback`, `quorum`, `bounded`.
//! * [`Snapshot`] — what one request sees of the world at the instant it runs:
//!   who leads, which region the client's traffic lands in, every region's
//!   staleness and this request's RTT to every region.
//! * [`Router`] — applies a strategy to a snapshot and returns a
//!   [`ReadOutcome`] (latency, the staleness the answer *actually carries*, who
//!   served it) or, for a charge, a [`ChargeOutcome`].
//!
//! # Key decision: staleness belongs to the replica that answered
//! The kata's sample records the follower's lag even when the leader answered,
//! so its fallback could never look fresher than local reads. Here a strategy
//! returns the staleness of the replica that served the read — zero when the
//! leader served it — and nothing else is ever recorded.
//!
//! Routing is pure arithmetic over a [`Snapshot`]: no randomness, no clock, no
//! I/O. The engine draws the jitter and the lag; this crate only decides.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;

use topology::{ms, Micros, RegionId, SiteId, Topology};

/// How a balance read chooses its replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReadStrategy {
    /// The region the client's traffic lands in, whatever its lag.
    Local,
    /// Always the leader.
    Leader,
    /// Local; if the answer's staleness metadata is over the threshold, the
    /// *client* asks the leader again (two round trips).
    Fallback,
    /// Leaderless: N replicas, a read waits for R replies and keeps the
    /// newest, a charge for W acknowledgements. The `quorum` crate serves it
    /// (`kata86 sim`); it has no single leader, so [`Router`] does not.
    Quorum,
    /// A max-staleness contract: the local replica answers if its watermark is
    /// within the bound, otherwise it forwards the read to the leader.
    Bounded,
}

impl ReadStrategy {
    /// Every strategy, in report order.
    pub const ALL: [ReadStrategy; 5] = [
        ReadStrategy::Local,
        ReadStrategy::Leader,
        ReadStrategy::Fallback,
        ReadStrategy::Quorum,
        ReadStrategy::Bounded,
    ];

    /// The strategies that read a single leader's log (drills and the wallet
    /// replay one): all but `quorum`.
    pub const SINGLE_LEADER: [ReadStrategy; 4] = [
        ReadStrategy::Local,
        ReadStrategy::Leader,
        ReadStrategy::Fallback,
        ReadStrategy::Bounded,
    ];

    /// True for `quorum`, which has no leader.
    pub fn is_leaderless(self) -> bool {
        self == ReadStrategy::Quorum
    }

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            ReadStrategy::Local => "local",
            ReadStrategy::Leader => "leader",
            ReadStrategy::Fallback => "fallback",
            ReadStrategy::Quorum => "quorum",
            ReadStrategy::Bounded => "bounded",
        }
    }
}

impl fmt::Display for ReadStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReadStrategy {
    type Err = RoutingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| RoutingError::UnknownStrategy(s.to_string()))
    }
}

/// Invalid routing input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    /// A strategy name that does not exist.
    #[error("unknown read strategy `{0}` (choose from: local, leader, fallback, quorum, bounded)")]
    UnknownStrategy(String),
    /// A threshold, bound or deadline that is negative, not finite or over
    /// [`MAX_DURATION_MS`].
    #[error("{name} is {value} ms; give a number from 0 to 3600000 ms")]
    BadDuration {
        /// The parameter.
        name: &'static str,
        /// Its value in ms.
        value: f64,
    },
}

/// Parameters of the read strategies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadPolicy {
    /// `fallback`: staleness above which the client re-reads at the leader (default 2000 ms).
    pub fallback_threshold: Micros,
    /// `bounded`: the contract's maximum staleness (default 2000 ms).
    pub max_staleness: Micros,
}

impl Default for ReadPolicy {
    fn default() -> Self {
        ReadPolicy {
            fallback_threshold: ms(2000.0),
            max_staleness: ms(2000.0),
        }
    }
}

/// Parameters of the charge path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WritePolicy {
    /// The client's deadline, carried with the request (default 1000 ms).
    pub deadline: Micros,
    /// The leader's durable commit (default 5 ms: a database commit with an
    /// fsync on cloud SSD).
    pub commit: Micros,
}

impl Default for WritePolicy {
    fn default() -> Self {
        WritePolicy {
            deadline: ms(1000.0),
            commit: ms(5.0),
        }
    }
}

/// The longest duration a policy accepts, in ms: an hour, far beyond any
/// deadline or staleness bound a wallet would set, and far from overflow.
pub const MAX_DURATION_MS: f64 = 3_600_000.0;

/// Validates a user-supplied duration in ms (0 to [`MAX_DURATION_MS`]).
pub fn duration(name: &'static str, value_ms: f64) -> Result<Micros, RoutingError> {
    if (0.0..=MAX_DURATION_MS).contains(&value_ms) {
        Ok(ms(value_ms))
    } else {
        Err(RoutingError::BadDuration {
            name,
            value: value_ms,
        })
    }
}

/// What one request sees of the world when it runs.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// The client site.
    pub site: SiteId,
    /// The region that currently leads.
    pub leader: RegionId,
    /// The region the site's traffic lands in (its home when healthy).
    pub entry: RegionId,
    /// Per region: how stale its answers are right now (0 at the leader).
    pub staleness: &'a [Micros],
    /// Per region: this request's RTT from the site (base plus jitter).
    pub site_rtt: &'a [Micros],
    /// Per region: this request's RTT from the entry region (0 to itself).
    pub entry_rtt: &'a [Micros],
}

impl Snapshot<'_> {
    /// This request's round trip from the site through its entry region to
    /// region `to` (the entry region talks to itself for free).
    #[inline]
    pub fn via_entry(&self, to: RegionId) -> Micros {
        self.site_rtt[self.entry.idx()] + self.entry_rtt[to.idx()]
    }

    /// The same trip as its two one-way legs, out and back (the round trip
    /// split in halves; the back leg takes the odd microsecond).
    #[inline]
    pub fn legs_via_entry(&self, to: RegionId) -> (Micros, Micros) {
        let rtt = self.via_entry(to);
        (rtt / 2, rtt - rtt / 2)
    }
}

/// The result of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Time from the client's send to its receipt of the answer.
    pub latency: Micros,
    /// Staleness of the replica whose answer the client kept.
    pub staleness: Micros,
    /// That replica.
    pub served_by: RegionId,
    /// True when the strategy abandoned the local replica because of its
    /// staleness (`fallback` retries, `bounded` forwards).
    pub forced_to_leader: bool,
}

/// The result of one charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Committed at the leader and acknowledged within the deadline.
    Committed {
        /// Client-observed latency.
        latency: Micros,
    },
    /// The entry region saw, from the known RTTs, that the deadline could not
    /// be met and refused at once, before contacting the leader.
    Rejected {
        /// Client-observed latency (one round trip to the entry region).
        latency: Micros,
    },
    /// Forwarded, but this request's actual delays overran the deadline; the
    /// client gave up (the charge may still have committed).
    TimedOut {
        /// The deadline.
        latency: Micros,
    },
}

/// Applies strategies and the charge path. Holds only configuration.
#[derive(Debug, Clone)]
pub struct Router<'t> {
    topology: &'t Topology,
    read: ReadPolicy,
    write: WritePolicy,
}

impl<'t> Router<'t> {
    /// A router over a topology with the given policies.
    pub fn new(topology: &'t Topology, read: ReadPolicy, write: WritePolicy) -> Self {
        Router {
            topology,
            read,
            write,
        }
    }

    /// Serves one read with `strategy`.
    #[inline]
    pub fn read(&self, strategy: ReadStrategy, s: &Snapshot<'_>) -> ReadOutcome {
        let local = s.entry;
        let answer = |at: RegionId, latency: Micros, forced: bool| ReadOutcome {
            latency,
            staleness: s.staleness[at.idx()],
            served_by: at,
            forced_to_leader: forced,
        };
        match strategy {
            ReadStrategy::Local => answer(local, s.site_rtt[local.idx()], false),
            ReadStrategy::Leader => answer(s.leader, s.site_rtt[s.leader.idx()], false),
            ReadStrategy::Fallback => {
                let first = s.site_rtt[local.idx()];
                if s.staleness[local.idx()] > self.read.fallback_threshold {
                    answer(s.leader, first + s.site_rtt[s.leader.idx()], true)
                } else {
                    answer(local, first, false)
                }
            }
            ReadStrategy::Bounded => {
                let first = s.site_rtt[local.idx()];
                if s.staleness[local.idx()] > self.read.max_staleness {
                    answer(s.leader, s.via_entry(s.leader), true)
                } else {
                    answer(local, first, false)
                }
            }
            // Leaderless reads are the `quorum` crate's; over a single
            // leader's log the nearest thing is the leader's own answer.
            ReadStrategy::Quorum => answer(s.leader, s.site_rtt[s.leader.idx()], false),
        }
    }

    /// One charge: client → entry region → leader → commit → back, with the
    /// deadline carried along.
    ///
    /// The entry region knows only the *base* RTTs; if even those cannot fit
    /// the deadline, it rejects at once. Otherwise the request runs with this
    /// request's actual (jittered) delays and times out if they overrun.
    ///
    /// A caller charging many times along one path can decide the admission
    /// once with [`charge_plan`](Self::charge_plan).
    #[inline]
    pub fn charge(&self, s: &Snapshot<'_>) -> ChargeOutcome {
        self.charge_plan(s.site, s.entry, s.leader).charge(s)
    }

    /// The charge path from `site` through `entry` to `leader`, with the entry
    /// region's admission check (base RTTs against the deadline) done once:
    /// it depends on no per-request draw.
    #[inline]
    pub fn charge_plan(&self, site: SiteId, entry: RegionId, leader: RegionId) -> ChargePlan {
        let t = self.topology;
        let expected = t.rtt_site(site, entry) + t.rtt_regions(entry, leader) + self.write.commit;
        ChargePlan {
            site,
            entry,
            leader,
            admitted: expected <= self.write.deadline,
            write: self.write,
        }
    }

    /// The one-way network delay between two regions: half their base RTT.
    /// Replication shipping and follower acks travel it.
    pub fn one_way(&self, a: RegionId, b: RegionId) -> Micros {
        self.topology.rtt_regions(a, b) / 2
    }

    /// The write policy in force.
    pub fn write_policy(&self) -> WritePolicy {
        self.write
    }

    /// The read policy in force.
    pub fn read_policy(&self) -> ReadPolicy {
        self.read
    }
}

/// One charge path with its admission already decided; made by
/// [`Router::charge_plan`] and valid for snapshots of that site, entry region
/// and leader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChargePlan {
    site: SiteId,
    entry: RegionId,
    leader: RegionId,
    /// False when even the base RTTs overrun the deadline.
    admitted: bool,
    write: WritePolicy,
}

impl ChargePlan {
    /// True when the entry region forwards charges to the leader; false when
    /// it rejects every one at once.
    pub fn admitted(&self) -> bool {
        self.admitted
    }

    /// One charge along this path with the snapshot's (jittered) delays; the
    /// same outcome as [`Router::charge`].
    #[inline]
    pub fn charge(&self, s: &Snapshot<'_>) -> ChargeOutcome {
        debug_assert!(
            (s.site, s.entry, s.leader) == (self.site, self.entry, self.leader),
            "snapshot of another charge path"
        );
        let first = s.site_rtt[self.entry.idx()];
        if !self.admitted {
            return ChargeOutcome::Rejected { latency: first };
        }
        let actual = s.via_entry(self.leader) + self.write.commit;
        if actual > self.write.deadline {
            ChargeOutcome::TimedOut {
                latency: self.write.deadline,
            }
        } else {
            ChargeOutcome::Committed { latency: actual }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kata topology with base RTTs, for `site`, given staleness per region.
    fn check(site: &str, strategy: &str, staleness: [f64; 2], expect: (f64, f64, &str, bool)) {
        let t = Topology::kata();
        let r = Router::new(&t, ReadPolicy::default(), WritePolicy::default());
        let sid = t.site(site).unwrap();
        let entry = t.home(sid);
        let site_rtt: Vec<Micros> = t.region_ids().map(|x| t.rtt_site(sid, x)).collect();
        let entry_rtt: Vec<Micros> = t.region_ids().map(|x| t.rtt_regions(entry, x)).collect();
        let staleness = staleness.map(ms);
        let snap = Snapshot {
            site: sid,
            leader: t.region("SG").unwrap(),
            entry,
            staleness: &staleness,
            site_rtt: &site_rtt,
            entry_rtt: &entry_rtt,
        };
        let out = r.read(strategy.parse().unwrap(), &snap);
        let got = (
            topology::to_ms(out.latency),
            topology::to_ms(out.staleness),
            t.region_name(out.served_by),
            out.forced_to_leader,
        );
        assert_eq!(got, expect, "{site} {strategy} staleness {staleness:?}");
    }

    // Staleness per region is [SG (leader), US]; the leader's is always 0.
    #[test]
    fn far_site_strategies() {
        check("US", "local", [0.0, 300.0], (20.0, 300.0, "US", false));
        check("US", "leader", [0.0, 300.0], (220.0, 0.0, "SG", false));
        check("US", "fallback", [0.0, 300.0], (20.0, 300.0, "US", false));
        check("US", "fallback", [0.0, 5000.0], (240.0, 0.0, "SG", true));
        check("US", "bounded", [0.0, 2000.0], (20.0, 2000.0, "US", false));
        check("US", "bounded", [0.0, 2000.1], (200.0, 0.0, "SG", true));
    }

    #[test]
    fn near_site_reads_the_leader_locally() {
        check("VN", "local", [0.0, 300.0], (40.0, 0.0, "SG", false));
        check("VN", "leader", [0.0, 300.0], (40.0, 0.0, "SG", false));
        check("VN", "fallback", [0.0, 9000.0], (40.0, 0.0, "SG", false));
    }

    #[test]
    fn charges_pay_the_path_to_the_leader_and_respect_the_deadline() {
        let t = Topology::kata();
        let us = t.site("US").unwrap();
        let (sg, usr) = (t.region("SG").unwrap(), t.region("US").unwrap());
        let site_rtt = [t.rtt_site(us, sg), t.rtt_site(us, usr)];
        let entry_rtt = [t.rtt_regions(usr, sg), 0];
        let snap = Snapshot {
            site: us,
            leader: sg,
            entry: usr,
            staleness: &[0, 0],
            site_rtt: &site_rtt,
            entry_rtt: &entry_rtt,
        };
        let r = Router::new(&t, ReadPolicy::default(), WritePolicy::default());
        assert_eq!(
            r.charge(&snap),
            ChargeOutcome::Committed { latency: ms(205.0) }
        );
        let tight = WritePolicy {
            deadline: ms(150.0),
            ..Default::default()
        };
        let r = Router::new(&t, ReadPolicy::default(), tight);
        assert_eq!(
            r.charge(&snap),
            ChargeOutcome::Rejected { latency: ms(20.0) }
        );
        // Base path fits 210 ms, but this request's jittered link does not.
        let slow = [entry_rtt[0] + ms(10.0), 0];
        let snap = Snapshot {
            entry_rtt: &slow,
            ..snap
        };
        let r = Router::new(
            &t,
            ReadPolicy::default(),
            WritePolicy {
                deadline: ms(210.0),
                ..Default::default()
            },
        );
        assert_eq!(
            r.charge(&snap),
            ChargeOutcome::TimedOut { latency: ms(210.0) }
        );
    }

    #[test]
    fn a_charge_plan_decides_admission_once_and_charges_like_the_router() {
        let t = Topology::kata();
        let us = t.site("US").unwrap();
        let (sg, usr) = (t.region("SG").unwrap(), t.region("US").unwrap());
        let site_rtt = [t.rtt_site(us, sg), t.rtt_site(us, usr)];
        for (deadline, entry_extra, admitted) in [
            (1000.0, 0.0, true),
            (150.0, 0.0, false),
            (210.0, 10.0, true),
        ] {
            let entry_rtt = [t.rtt_regions(usr, sg) + ms(entry_extra), 0];
            let snap = Snapshot {
                site: us,
                leader: sg,
                entry: usr,
                staleness: &[0, 0],
                site_rtt: &site_rtt,
                entry_rtt: &entry_rtt,
            };
            let write = WritePolicy {
                deadline: ms(deadline),
                ..Default::default()
            };
            let r = Router::new(&t, ReadPolicy::default(), write);
            let plan = r.charge_plan(us, usr, sg);
            assert_eq!(plan.admitted(), admitted, "deadline {deadline} ms");
            assert_eq!(
                plan.charge(&snap),
                r.charge(&snap),
                "deadline {deadline} ms"
            );
        }
    }

    #[test]
    fn strategy_names_round_trip_and_unknown_is_explained() {
        for s in ReadStrategy::ALL {
            assert_eq!(s.name().parse::<ReadStrategy>().unwrap(), s);
        }
        let e = "nearest".parse::<ReadStrategy>().unwrap_err();
        assert!(e.to_string().contains("`nearest`") && e.to_string().contains("quorum"));
        assert!(duration("deadline", -1.0).is_err());
        assert_eq!(duration("deadline", 2.5).unwrap(), 2500);
    }
}
