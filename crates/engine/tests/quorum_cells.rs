//! `quorum` cells of the kata loop: the leaderless N/R/W path of
//! [`engine::QuorumSpec`], checked against Dynamo's rule (R + W > N is never
//! stale), against the physics of the kata topology, and against `kata86
//! pbs`'s Monte Carlo over the same WARS model.

use engine::{run_cell, Cell, CellResult, QuorumSpec, SimConfig};
use routing::ReadStrategy;
use topology::ms;

fn cfg(n: usize, r: usize, w: usize) -> SimConfig {
    SimConfig {
        quorum: QuorumSpec {
            n,
            r,
            w,
            placement: None,
        },
        ..SimConfig::kata()
    }
}

fn run(cfg: &SimConfig, site: &str, seed: u64, iterations: u64) -> CellResult {
    cfg.validate().expect("valid");
    let site = cfg.topology.site(site).expect("site");
    let cell = Cell {
        site,
        strategy: ReadStrategy::Quorum,
    };
    run_cell(cfg, seed, iterations, cell, &|_| {})
}

#[test]
fn strict_quorums_read_no_stale_answer() {
    for (n, r, w) in [(3, 2, 2), (3, 1, 3), (3, 3, 1), (2, 1, 2), (4, 2, 3)] {
        for site in ["VN", "US"] {
            let res = run(&cfg(n, r, w), site, 7, 50_000);
            assert_eq!(res.stale_reads, 0, "N{n} R{r} W{w} at {site}");
            assert_eq!(res.staleness.value_at_quantile(1.0), 0);
        }
    }
}

#[test]
fn partial_quorums_are_stale_and_the_far_writers_make_them_so() {
    // N = 3 over SG, US, SG with R = W = 1: a VN read answered by an SG
    // replica misses a write a US client committed at the US replica until it
    // crosses the Pacific. Writers are drawn uniformly from the two sites, so
    // about half the newest writes come from US.
    let res = run(&cfg(3, 1, 1), "VN", 11, 100_000);
    let stale = res.stale_reads as f64 / res.reads as f64;
    assert!((0.35..0.65).contains(&stale), "stale share {stale}");
    // How far behind: US site → SG one way (110 ms) minus the VN read's
    // one-way leg to SG (20 ms) minus the US write's commit (a 20 ms round
    // trip): about 70 ms, never above it by more than the service draws.
    let p99 = res.staleness.value_at_quantile(0.99);
    assert!(
        (ms(60.0)..ms(80.0)).contains(&p99),
        "staleness p99 {p99} µs"
    );
}

#[test]
fn latency_follows_distance() {
    // R = 1 reads the nearest replica: VN → SG 40 ms, US → US 20 ms, plus
    // two LNKD-SSD legs (well under 5 ms at p50).
    let c = cfg(3, 1, 3);
    let vn = run(&c, "VN", 3, 20_000);
    let us = run(&c, "US", 3, 20_000);
    let p50 = |r: &CellResult| r.read.value_at_quantile(0.5);
    assert!((ms(40.0)..ms(45.0)).contains(&p50(&vn)), "{}", p50(&vn));
    assert!((ms(20.0)..ms(25.0)).contains(&p50(&us)), "{}", p50(&us));
    // W = 3 waits for the farthest replica: VN's charge pays the 220 ms
    // round trip to US, plus the 5 ms commit.
    let charge = vn.write.value_at_quantile(0.5);
    assert!((ms(225.0)..ms(232.0)).contains(&charge), "{charge}");
}

#[test]
fn fresh_reads_match_kata86_pbs_on_the_same_model() {
    // `kata86 pbs` draws the reader's site uniformly; the sim fixes it per
    // cell. The mean of the two cells' fresh-read shares is the same
    // probability as pbs's P(consistent at t = 0).
    let (n, r, w) = (3, 1, 1);
    let c = cfg(n, r, w);
    let iters = 200_000;
    let fresh = |site| {
        let res = run(&c, site, 5, iters);
        1.0 - res.stale_reads as f64 / res.reads as f64
    };
    let sim = (fresh("VN") + fresh("US")) / 2.0;
    let place = quorum::round_robin(&c.topology, c.leader, n).unwrap();
    let pbs = quorum::simulate(&quorum::Config {
        model: quorum::Model::topology("kata", &c.topology, &place).unwrap(),
        n,
        r,
        w,
        trials: 400_000,
        seed: 9,
        step_ms: 1.0,
        points: 2,
    })
    .unwrap();
    let p = pbs.curve[0].p_consistent;
    // Two independent estimates: 5 standard errors of their difference.
    let se = (p * (1.0 - p) * (1.0 / (2.0 * iters as f64) + 1.0 / 400_000.0)).sqrt();
    assert!((sim - p).abs() < 5.0 * se, "sim {sim} pbs {p} se {se}");
}

#[test]
fn the_same_seed_gives_the_same_cell() {
    let c = cfg(3, 1, 2);
    let (a, b) = (run(&c, "US", 4, 30_000), run(&c, "US", 4, 30_000));
    for q in [0.5, 0.9, 0.99, 1.0] {
        assert_eq!(a.read.value_at_quantile(q), b.read.value_at_quantile(q));
        assert_eq!(
            a.staleness.value_at_quantile(q),
            b.staleness.value_at_quantile(q)
        );
        assert_eq!(a.write.value_at_quantile(q), b.write.value_at_quantile(q));
    }
    assert_eq!(a.stale_reads, b.stale_reads);
}
