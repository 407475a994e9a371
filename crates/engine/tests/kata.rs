//! The kata's three checks, written afresh against the requirement.
//!
//! The sample TypeScript tests compared numbers that could never disagree (its
//! fallback recorded the follower's lag even when the leader answered). Here
//! every bound comes from the topology or from the strategy's definition, and
//! both sides of a comparison run on the same seed (common random numbers).

use engine::{run_cell, Cell, CellResult, SimConfig};
use replication::{EpisodicLag, LagModel};
use routing::{ReadPolicy, ReadStrategy};
use topology::{ms, Micros};

const SEED: u64 = 86;
const N: u64 = 200_000;

fn run(cfg: &SimConfig, site: &str, strategy: ReadStrategy, seed: u64, n: u64) -> CellResult {
    let site = cfg.topology.site(site).expect("site exists");
    run_cell(cfg, seed, n, Cell { site, strategy }, &|_| {})
}

/// `obs` (a histogram read-out, which is the top of a bucket of 3 significant
/// digits) is the exact value `exact`, to the histogram's precision.
fn same_to_precision(obs: Micros, exact: Micros) -> bool {
    let slack = exact / 1000 + 1;
    obs + slack >= exact && obs <= exact + slack
}

/// Width of the histogram bucket holding `v` (3 significant digits: the
/// sub-bucket count is 2048, so widths are powers of two at most v/1024).
fn bucket_width(v: Micros) -> Micros {
    let mut w = 1;
    while v >= 2048 * w {
        w *= 2;
    }
    w
}

#[test]
fn near_site_local_reads_are_never_slower_than_leader_reads() {
    let cfg = SimConfig::kata();
    let vn = cfg.topology.site("VN").unwrap();
    // The premise of this check: VN's home is the leader.
    assert_eq!(cfg.topology.home(vn), cfg.leader);
    let local = run(&cfg, "VN", ReadStrategy::Local, SEED, N);
    let leader = run(&cfg, "VN", ReadStrategy::Leader, SEED, N);
    assert!(
        local.read.value_at_quantile(0.95) <= leader.read.value_at_quantile(0.95),
        "VN local read p95 {:?} > leader read p95 {:?}",
        local.read.summary(),
        leader.read.summary()
    );
    // Reading locally at the leader is reading the leader: never stale.
    assert_eq!(local.staleness.value_at_quantile(1.0), 0);
    assert_eq!(local.stale_reads, 0);
    assert_eq!(local.leader_reads, N);
}

#[test]
fn far_site_local_reads_are_faster_but_stale_leader_reads_are_fresh() {
    let cfg = SimConfig::kata();
    let t = &cfg.topology;
    let us = t.site("US").unwrap();
    let home = t.home(us);
    assert_ne!(
        home, cfg.leader,
        "premise: the US site's home is a follower"
    );

    let local = run(&cfg, "US", ReadStrategy::Local, SEED, N);
    let leader = run(&cfg, "US", ReadStrategy::Leader, SEED, N);

    // Faster: the p95 read is one round trip to the home region, versus one to
    // the leader (no jitter in the kata topology, so both are exact).
    let (lp95, rp95) = (
        local.read.value_at_quantile(0.95),
        leader.read.value_at_quantile(0.95),
    );
    assert!(
        lp95 < rp95,
        "local p95 {lp95} µs is not below leader p95 {rp95} µs"
    );
    assert!(same_to_precision(lp95, t.rtt_site(us, home)), "{lp95}");
    assert!(
        same_to_precision(rp95, t.rtt_site(us, cfg.leader)),
        "{rp95}"
    );

    // Stale: a follower is always at least the normal base lag (150 ms) behind.
    assert!(local.staleness.value_at_quantile(0.95) > 0);
    assert!(
        local.staleness.value_at_quantile(0.0) + ms(0.2) >= ms(150.0),
        "minimum staleness {:?}",
        local.staleness.summary()
    );
    assert_eq!(local.stale_reads, N, "every follower read is behind");
    assert_eq!(local.leader_reads, 0);

    // Leader reads are fresh, for every site: staleness exactly 0.
    for site in ["VN", "US"] {
        let r = run(&cfg, site, ReadStrategy::Leader, SEED, N);
        assert_eq!(r.staleness.value_at_quantile(1.0), 0, "{site}");
        assert_eq!(r.staleness.summary().max, 0.0, "{site}");
        assert_eq!(r.stale_reads, 0, "{site}");
        assert_eq!(r.leader_reads, N, "{site}");
    }
}

#[test]
fn far_client_charges_pay_the_path_to_the_leader() {
    let cfg = SimConfig::kata();
    let t = &cfg.topology;
    let us = t.site("US").unwrap();
    let home = t.home(us);
    let path = t.rtt_site(us, home) + t.rtt_regions(home, cfg.leader);
    assert!(path > t.rtt_site(us, home), "premise: home != leader");
    // The charge path does not depend on the read strategy.
    for strategy in ReadStrategy::SINGLE_LEADER {
        let r = run(&cfg, "US", strategy, SEED + 1, 20_000);
        assert_eq!(r.write.count(), 20_000, "{strategy}: every charge commits");
        let p95 = r.write.value_at_quantile(0.95);
        assert!(
            p95 >= path,
            "{strategy}: US charge p95 {p95} µs < RTT to home + home<->leader {path} µs"
        );
        // ... and the leader's durable commit on top of that.
        assert!(
            same_to_precision(p95, path + cfg.write.commit),
            "{strategy}: charge p95 {p95} µs, expected {} µs",
            path + cfg.write.commit
        );
    }
    // A near client (home = leader) pays one round trip plus the commit.
    let vn = t.site("VN").unwrap();
    let r = run(&cfg, "VN", ReadStrategy::Local, SEED + 1, 20_000);
    let p95 = r.write.value_at_quantile(0.95);
    assert!(
        same_to_precision(p95, t.rtt_site(vn, cfg.leader) + cfg.write.commit),
        "{p95}"
    );
}

#[test]
fn fallback_cuts_tail_staleness_at_a_latency_cost() {
    let cfg = SimConfig::kata();
    let local = run(&cfg, "US", ReadStrategy::Local, SEED, N);
    let fallback = run(&cfg, "US", ReadStrategy::Fallback, SEED, N);
    let (ls, fs) = (
        local.staleness.value_at_quantile(0.99),
        fallback.staleness.value_at_quantile(0.99),
    );
    assert!(
        fs < ls,
        "fallback staleness p99 {fs} µs is not below local's {ls} µs"
    );
    let (lr, fr) = (
        local.read.value_at_quantile(0.99),
        fallback.read.value_at_quantile(0.99),
    );
    assert!(
        fr > lr,
        "fallback read p99 {fr} µs is not above local's {lr} µs"
    );
}

/// The trap of the kata's sample: recording the follower's lag when the
/// leader answered. With it, every read forced to the leader would carry the
/// very staleness that forced it (above the threshold).
#[test]
fn a_read_forced_to_the_leader_carries_the_leaders_staleness() {
    // Thresholds: the default, and one inside the normal lag range so that
    // many answers sit right at the threshold; iid and episodic lag.
    for lag in [
        SimConfig::kata().lag,
        LagModel::Episodic(EpisodicLag {
            mean_gap: ms(20_000.0),
            ..EpisodicLag::default()
        }),
    ] {
        for threshold_ms in [2000.0, 300.0] {
            let cfg = SimConfig {
                lag,
                read: ReadPolicy {
                    fallback_threshold: ms(threshold_ms),
                    max_staleness: ms(threshold_ms),
                },
                ..SimConfig::kata()
            };
            let threshold = cfg.read.fallback_threshold;
            let local = run(&cfg, "US", ReadStrategy::Local, SEED, N);
            // What the threshold should trigger, counted from local reads on
            // the same seed (same lag path, same request times).
            let over = local.over_bound_reads;
            assert!(
                over > 0,
                "{} {threshold_ms}: the check needs reads over the threshold",
                lag.name()
            );

            for strategy in [ReadStrategy::Fallback, ReadStrategy::Bounded] {
                let r = run(&cfg, "US", strategy, SEED, N);
                let ctx = format!("{} {strategy} threshold {threshold_ms} ms", lag.name());
                assert_eq!(r.forced_to_leader, over, "{ctx}");
                assert_eq!(r.leader_reads, over, "{ctx}");
                // Every follower answer is behind (lag >= 150 ms), every leader
                // answer is not: exactly the forced reads carry staleness 0.
                assert_eq!(r.stale_reads, N - over, "{ctx}");
                assert_eq!(r.staleness.count_at_most(0), over, "{ctx}");
                let max = r.staleness.value_at_quantile(1.0);
                assert!(
                    max < threshold + bucket_width(threshold),
                    "{ctx}: staleness max {max} µs; a read over the threshold was kept"
                );
                assert_eq!(r.over_bound_reads, 0, "{ctx}");
            }
        }
    }
}
