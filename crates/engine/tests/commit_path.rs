//! The commit path: what a commit waits for, told as stories.
//!
//! 1. The commit quorum follows the term's voter set: an operator who
//!    promotes by hand removes the lost leader from it, and the smaller set
//!    commits on its own (issue #19, item 3).
//! 2. Faults that reach the commit path: a delayed link or a stalled disk
//!    slows a majority commit exactly when the quorum needs the slow
//!    follower, and not when another follower carries it (issue #19, item 4).
//!
//! Every bound is derived from the configuration (RTTs, commit time,
//! detection, operator delay, the fault's size), never copied from a run.

use engine::drill::{
    run_drill, Builtin, DrillConfig, DrillResult, Fault, FaultKind, JpRole, Policy, Replication,
};
use metrics::LatencyHistogram;
use topology::{ms, to_ms, Micros};

const SEEDS: [u64; 4] = [1, 2, 3, 86];

fn run(cfg: &DrillConfig, seed: u64) -> DrillResult {
    run_drill(cfg, seed).expect("valid drill")
}

/// When the first charge sent since the fault was acknowledged.
fn first_ack(r: &DrillResult) -> Option<Micros> {
    r.operations
        .timeline
        .iter()
        .find(|m| m.what == "first charge sent since the fault is acknowledged")
        .map(|m| m.at)
}

fn story(r: &DrillResult) -> String {
    let mut s = format!(
        "{}/{} promotions={:?} lost={} invariants_ok={} first_breach={:?}\n",
        r.policy,
        r.replication,
        r.failover.promotions,
        r.money.lost_acknowledged_charges,
        r.money.invariants_ok,
        r.money.first_breach
    );
    for m in &r.operations.timeline {
        s.push_str(&format!("  {:>10.3} s  {}\n", to_ms(m.at) / 1000.0, m.what));
    }
    s
}

// ---------------------------------------------------------------------------
// 1. The commit quorum follows the term's voter set.
// ---------------------------------------------------------------------------

/// The kata's two regions, SG down from 60 s to 180 s, `promote-manual`: the
/// operator promotes US 63 s into the outage (detection 3 s + operator 60 s)
/// and removes SG from the voter set. US is then the only voter, a majority
/// of one: charges are acknowledged from the promotion on, long before SG
/// returns (the bug was that majority kept counting two regions, so the
/// first acknowledgement waited for SG's return). Semi-sync's "one
/// follower" is counted among the voters too, so it behaves the same. The
/// money stays right: SG, fenced by its expired lease, acknowledged nothing
/// the new term lacks.
#[test]
fn two_region_manual_promotion_acknowledges_charges_before_the_lost_leader_returns() {
    for mode in [Replication::Majority, Replication::SemiSync] {
        let mut cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Absent);
        cfg.policy = Policy::PromoteManual;
        cfg.replication = mode;
        let (start, end) = (cfg.faults[0].start, cfg.faults[0].end);
        let promoted = start + cfg.detection + cfg.operator_delay;
        for seed in SEEDS {
            let r = run(&cfg, seed);
            let s = story(&r);
            assert_eq!(r.failover.promotions.len(), 1, "{s}");
            assert_eq!(r.failover.promotions[0].at, promoted, "{s}");
            assert_eq!(r.failover.promotions[0].region, "US", "{s}");
            let ack = first_ack(&r).expect("a charge is acknowledged");
            assert!(
                promoted < ack && ack < end,
                "{mode} seed {seed}: first ack at {} ms, promotion at {} ms, SG back at {} ms\n{s}",
                to_ms(ack),
                to_ms(promoted),
                to_ms(end)
            );
            // Within the next charge's round trip: US's own 20 ms users
            // answer within a second of the promotion.
            assert!(ack < promoted + ms(1000.0) + cfg.write.deadline, "{s}");
            assert_eq!(r.money.lost_acknowledged_charges, 0, "{s}");
            assert_eq!(r.money.overspend_incidents, 0, "{s}");
            assert!(r.money.invariants_ok, "{mode} seed {seed}\n{s}");
        }
    }
}

/// With nobody removed from the voter set, the quorum is what it always
/// was: ⌊n/2⌋ followers for majority, one for semi-sync, none for async.
/// Removing one region shrinks the set by one.
#[test]
fn without_an_exclusion_the_quorum_size_is_unchanged() {
    for n in 2..=9usize {
        assert_eq!(Replication::Majority.acks_needed(n), n / 2, "n = {n}");
        assert_eq!(Replication::SemiSync.acks_needed(n), 1, "n = {n}");
        assert_eq!(Replication::Async.acks_needed(n), 0, "n = {n}");
    }
    // Two regions less the one an operator removed: the leader alone.
    assert_eq!(Replication::Majority.acks_needed(1), 0);
    assert_eq!(Replication::SemiSync.acks_needed(1), 0);
    // Three less one: the leader and one follower, as with three.
    assert_eq!(Replication::Majority.acks_needed(2), 1);
}

/// Automatic promotion removes nobody, so in the two-region world a majority
/// commit still needs both regions: nobody can promote (one voter of two is
/// no majority) and no charge sent in the outage is acknowledged before SG
/// returns. The quorum fix does not touch it.
#[test]
fn automatic_promotion_keeps_the_full_voter_set_and_waits_for_the_leader() {
    let mut cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Absent);
    cfg.policy = Policy::PromoteAuto;
    cfg.replication = Replication::Majority;
    let end = cfg.faults[0].end;
    for seed in SEEDS {
        let r = run(&cfg, seed);
        let s = story(&r);
        assert!(r.failover.promotions.is_empty(), "{s}");
        let ack = first_ack(&r).expect("a charge is acknowledged");
        assert!(ack > end, "{s}");
        assert!(r.money.invariants_ok, "{s}");
    }
}

// ---------------------------------------------------------------------------
// 2. Faults that reach the commit path.
// ---------------------------------------------------------------------------

/// The default world (SG leader, US and JP replicas), majority commits, no
/// fault but the ones given, from 60 s to 180 s.
fn world(faults: &[FaultKind]) -> DrillConfig {
    let mut cfg = DrillConfig::builtin(Builtin::Baseline, JpRole::Replica);
    cfg.replication = Replication::Majority;
    cfg.faults = faults
        .iter()
        .map(|&kind| Fault {
            kind,
            start: ms(60_000.0),
            end: ms(180_000.0),
        })
        .collect();
    cfg
}

/// VN's end-to-end charge latency over `SEEDS`: inside the fault window when
/// there is a fault, over the whole drill when there is none.
fn vn_charges(cfg: &DrillConfig) -> LatencyHistogram {
    let vn = cfg.topology.site("VN").expect("VN").idx();
    let mut h = LatencyHistogram::new();
    for seed in SEEDS {
        let r = run(cfg, seed);
        assert!(r.money.invariants_ok, "{}", story(&r));
        let w = if cfg.faults.is_empty() {
            &r.outside
        } else {
            &r.during
        };
        h.merge(&w.sites[vn].write);
    }
    h
}

fn p95_ms(h: &LatencyHistogram) -> f64 {
    to_ms(h.value_at_quantile(0.95))
}

fn link_delay(cfg: &DrillConfig, a: &str, b: &str, extra_ms: f64) -> FaultKind {
    FaultKind::LinkDelay {
        from: cfg.topology.region(a).expect("region"),
        to: cfg.topology.region(b).expect("region"),
        both_ways: true,
        extra: ms(extra_ms),
    }
}

/// A majority of three is the leader and its nearest follower: JP (74 ms
/// RTT from SG) for VN's charges, ~40 + 74 + 5 = 119 ms. Delay both links
/// by 400 ms one way and every ack comes 800 ms later: VN's charge p95 goes
/// above 500 ms (most charges now time out or answer in ~920 ms). Delay
/// SG↔US alone and JP still carries the majority: VN's p95 stays within 5 %
/// of the no-fault figure.
#[test]
fn a_link_delay_slows_a_majority_commit_only_when_the_quorum_needs_the_link() {
    let base = world(&[]);
    let none = p95_ms(&vn_charges(&base));
    let both = world(&[
        link_delay(&base, "SG", "JP", 400.0),
        link_delay(&base, "SG", "US", 400.0),
    ]);
    let both = p95_ms(&vn_charges(&both));
    let us_only = world(&[link_delay(&base, "SG", "US", 400.0)]);
    let us_only = p95_ms(&vn_charges(&us_only));
    assert!(
        both > 500.0,
        "both links +400 ms: VN charge p95 {both} ms (no fault {none} ms)"
    );
    assert!(
        (us_only - none).abs() <= 0.05 * none,
        "SG<->US +400 ms: VN charge p95 {us_only} ms, no fault {none} ms"
    );
}

/// One direction only: a delay on JP→SG slows the acks JP sends back, so the
/// majority waits for US instead (SG↔US, 180 ms RTT): VN's p95 rises, by
/// less than the delay itself.
#[test]
fn a_one_way_delay_on_the_ack_path_moves_the_quorum_to_the_next_follower() {
    let base = world(&[]);
    let none = p95_ms(&vn_charges(&base));
    let mut delay = link_delay(&base, "JP", "SG", 400.0);
    if let FaultKind::LinkDelay { both_ways, .. } = &mut delay {
        *both_ways = false;
    }
    let acks = p95_ms(&vn_charges(&world(&[delay])));
    // JP's ack 74 + 400 ms against US's 180 ms round trip: US carries it.
    assert!(
        acks > none + 50.0 && acks < none + 400.0,
        "{none} -> {acks}"
    );
}

/// A stall of 300 ms per fsync at both followers delays every durable
/// receipt a majority can count on: VN's charge p95 rises by about the
/// stall. At US alone, JP carries the majority and nothing changes.
#[test]
fn a_disk_stall_slows_a_majority_commit_only_when_the_quorum_needs_the_disk() {
    let base = world(&[]);
    let none = p95_ms(&vn_charges(&base));
    let stall = |r: &str| FaultKind::DiskStall {
        region: base.topology.region(r).expect("region"),
        extra: ms(300.0),
    };
    let both = p95_ms(&vn_charges(&world(&[stall("JP"), stall("US")])));
    let us_only = p95_ms(&vn_charges(&world(&[stall("US")])));
    assert!(
        both >= none + 250.0,
        "JP and US stall 300 ms: VN charge p95 {both} ms, no fault {none} ms"
    );
    assert!(
        (us_only - none).abs() <= 0.05 * none,
        "US stalls: VN charge p95 {us_only} ms, no fault {none} ms"
    );
}

/// A stall at the leader's own disk slows every commit, async included.
#[test]
fn a_disk_stall_at_the_leader_slows_even_async_commits() {
    let base = world(&[]);
    let mut quiet = base.clone();
    quiet.replication = Replication::Async;
    let none = p95_ms(&vn_charges(&quiet));
    let mut cfg = world(&[FaultKind::DiskStall {
        region: base.leader,
        extra: ms(200.0),
    }]);
    cfg.replication = Replication::Async;
    let stalled = p95_ms(&vn_charges(&cfg));
    assert!(stalled >= none + 150.0, "{none} -> {stalled}");
}

/// The lag spike keeps its apply-only meaning: it ages what a replica
/// serves but never delays a durable receipt, so a majority commit does not
/// see it even when both followers spike.
#[test]
fn a_lag_spike_never_slows_a_commit() {
    let base = world(&[]);
    let none = p95_ms(&vn_charges(&base));
    let spike = |to: &str| FaultKind::LagSpike {
        from: base.leader,
        to: base.topology.region(to).expect("region"),
        extra: ms(8_000.0),
    };
    let spiked = p95_ms(&vn_charges(&world(&[spike("JP"), spike("US")])));
    assert!((spiked - none).abs() <= 0.05 * none, "{none} -> {spiked}");
}

/// A delay must stay below the heartbeat timeout (a longer silence is a
/// partition), and two delays on one direction of a link at once contradict.
#[test]
fn link_delays_are_validated() {
    let base = world(&[]);
    let long = world(&[link_delay(&base, "SG", "JP", to_ms(base.detection))]);
    let e = long.validate().unwrap_err().to_string();
    assert!(e.contains("heartbeat timeout"), "{e}");
    let twice = world(&[
        link_delay(&base, "SG", "JP", 100.0),
        link_delay(&base, "JP", "SG", 200.0),
    ]);
    let e = twice.validate().unwrap_err().to_string();
    assert!(e.contains("contradicts fault 1"), "{e}");
}
