//! Leases under clock skew: each region measures a lease on its own clock.
//! Within the skew bound the old and the new leader never overlap; a clock
//! stepped back further than the bound breaks that guarantee.

use engine::drill::{run_drill, Builtin, DrillConfig, JpRole, Replication};
use replication::clock::ClockModel;
use topology::ms;

/// The partition drill under `async`: an old leader that overruns its lease
/// acknowledges charges alone, so the overlap shows as lost money.
fn partition() -> DrillConfig {
    DrillConfig {
        replication: Replication::Async,
        ..DrillConfig::builtin(Builtin::Partition, JpRole::Replica)
    }
}

/// SG's clock jumps by `by_ms` two seconds into the partition.
fn with_sg_step(mut cfg: DrillConfig, by_ms: f64) -> DrillConfig {
    let sg = cfg.topology.region("SG").unwrap();
    cfg.clocks = vec![ClockModel::Exact; cfg.topology.region_count()];
    cfg.clocks[sg.idx()] = ClockModel::Step {
        at: ms(62_000.0),
        before: 0,
        after: ms(by_ms.abs()) as i64 * by_ms.signum() as i64,
    };
    cfg
}

#[test]
fn with_fencing_and_true_clocks_a_deposed_leader_never_overlaps_its_successor() {
    for name in ["region-down", "partition"] {
        for seed in [1, 2, 86] {
            for replication in Replication::ALL {
                let cfg = DrillConfig {
                    replication: *replication,
                    ..DrillConfig::builtin(name.parse().unwrap(), JpRole::Replica)
                };
                let r = run_drill(&cfg, seed).unwrap();
                assert!(
                    !r.failover.promotions.is_empty(),
                    "{name} {seed}: a promotion is expected"
                );
                assert_eq!(r.failover.lease_overlap, 0, "{name} {seed} {replication}");
            }
        }
    }
}

#[test]
fn a_clock_step_within_the_skew_bound_keeps_leases_apart() {
    // 400 ms back: inside the 500 ms bound kept as the lease margin.
    let cfg = with_sg_step(partition(), -400.0);
    assert!(ms(400.0) < cfg.skew_bound);
    let r = run_drill(&cfg, 86).unwrap();
    assert!(!r.failover.promotions.is_empty());
    assert_eq!(r.failover.lease_overlap, 0);
}

#[test]
fn a_clock_stepped_back_beyond_the_bound_lets_the_old_leader_overlap() {
    // 3 s back: SG believes its lease lasts 3 s longer than it does, while
    // JP, on a true clock, promotes itself on time.
    let step = 3000.0;
    let cfg = with_sg_step(partition(), -step);
    // The offset check is on, but SG steps while cut off from every other
    // region: it measures nobody, so nothing fences it until the heal.
    assert!(cfg.max_offset_enforced);
    let heal = cfg.faults[0].end;
    let r = run_drill(&cfg, 86).unwrap();
    let fenced: Vec<_> = r
        .operations
        .timeline
        .iter()
        .filter(|m| m.what.starts_with("SG measures its clock beyond"))
        .map(|m| m.at)
        .collect();
    assert_eq!(fenced, vec![heal], "{:?}", r.operations.timeline);
    let promoted = r.failover.promotions[0].at;
    assert!(r.failover.lease_overlap > 0, "no overlap");
    // SG can over-run by at most the step beyond the two margins.
    let bound = ms(step) - 2 * partition().skew_bound;
    assert!(
        r.failover.lease_overlap <= bound,
        "{} > {bound}",
        r.failover.lease_overlap
    );
    // Its charges in the overlap are acknowledged (async) and then lost.
    let clean = run_drill(&partition(), 86).unwrap();
    assert!(r.money.lost_acknowledged_charges > clean.money.lost_acknowledged_charges);
    assert_eq!(
        promoted, clean.failover.promotions[0].at,
        "JP's clock is true: same promotion time"
    );
}

#[test]
fn without_fencing_the_old_leader_admits_until_the_partition_heals() {
    let cfg = DrillConfig {
        fencing: false,
        ..partition()
    };
    let r = run_drill(&cfg, 86).unwrap();
    let heal = cfg.faults[0].end;
    let promoted = r.failover.promotions[0].at;
    assert!(r.failover.lease_overlap > 0);
    assert!(r.failover.lease_overlap <= heal - promoted);
}
