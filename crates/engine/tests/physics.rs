//! The replication physics against closed forms: with no jitter, no slow
//! path and no fault, every acknowledged charge takes exactly
//!
//! `client path to the leader (round trip through the entry region)
//!  + max(leader fsync, k-th smallest over followers of (RTT(leader, f) + fsync))`
//!
//! where `k` is 0 for `async`, 1 for `semi-sync` and ⌊n/2⌋ for `majority`. A
//! majority ack waits for *durable receipt*, never for the follower's apply
//! (which the lag model delays by 60 ms + U[0, 200) + episodes): the figures
//! below would be hundreds of ms larger if it did.
//!
//! Every expected value is computed here from the topology's RTTs, not read
//! from the simulator.

use engine::drill::{run_drill, Builtin, DrillConfig, JpRole, Replication};
use engine::wallet::WalletConfig;
use topology::{Micros, RegionId, SiteId, Topology};

/// The baseline drill with every charge accepted and no slow path, so every
/// acknowledged latency is the physics alone.
fn baseline(jp: JpRole, mode: Replication) -> DrillConfig {
    let mut cfg = DrillConfig::builtin(Builtin::Baseline, jp);
    cfg.replication = mode;
    cfg.workload = WalletConfig {
        slow_prob: 0.0,
        opening_balance: 1_000_000_000_000,
        ..WalletConfig::default()
    };
    cfg.duration = 60_000_000;
    cfg
}

/// The closed form of one site's ack latency under `mode`.
fn expected(cfg: &DrillConfig, site: SiteId) -> Micros {
    let t: &Topology = &cfg.topology;
    let leader = cfg.leader;
    let entry = t.home(site);
    let path = t.rtt_site(site, entry) + t.rtt_regions(entry, leader);
    let fsync = cfg.write.commit;
    let mut follower_acks: Vec<Micros> = t
        .region_ids()
        .filter(|&r| r != leader)
        .map(|r: RegionId| t.rtt_regions(leader, r) / 2 * 2 + fsync)
        .collect();
    follower_acks.sort_unstable();
    let k = match cfg.replication {
        Replication::Async => 0,
        Replication::SemiSync => 1,
        Replication::Majority => t.region_count() / 2,
    };
    let wait = if k == 0 {
        fsync
    } else {
        follower_acks[k - 1].max(fsync)
    };
    path + wait
}

#[test]
fn no_fault_ack_latency_is_the_path_plus_the_kth_durable_receipt() {
    for jp in [JpRole::Absent, JpRole::Replica, JpRole::Witness] {
        for &mode in Replication::ALL {
            let cfg = baseline(jp, mode);
            let r = run_drill(&cfg, 86).expect("valid drill");
            assert!(r.money.invariants_ok);
            for site in cfg.topology.site_ids() {
                let want = expected(&cfg, site);
                let h = &r.outside.sites[site.idx()].write;
                assert!(h.count() > 100, "{jp:?} {mode}: too few charges");
                // Every charge, to the histogram's 0.1 % precision.
                let (lo, hi) = (h.value_at_quantile(0.0), h.value_at_quantile(1.0));
                let name = cfg.topology.site_name(site);
                assert!(
                    lo as f64 >= want as f64 * 0.999 && hi as f64 <= want as f64 * 1.001,
                    "{jp:?} {mode} {name}: charges took {lo}..{hi} µs, closed form {want} µs"
                );
            }
        }
    }
}

/// The worked example of the design review: VN with a JP replica under
/// `majority` pays VN↔SG + SG↔JP + fsync = 40 + 74 + 5 ms, and US users pay
/// their 200 ms path to SG plus the same 79 ms.
#[test]
fn a_majority_commit_costs_the_nearest_followers_round_trip() {
    let cfg = baseline(JpRole::Replica, Replication::Majority);
    let vn = cfg.topology.site("VN").unwrap();
    let us = cfg.topology.site("US").unwrap();
    assert_eq!(expected(&cfg, vn), 119_000);
    assert_eq!(expected(&cfg, us), 279_000);
    // With two regions the majority is both, and the follower is 180 ms away.
    let two = baseline(JpRole::Absent, Replication::Majority);
    assert_eq!(expected(&two, vn), 40_000 + 185_000);
}
