//! The shared cost model (issue #21) against what a run does: the requests
//! `Work` estimates are the requests a drill simulates, counted (reads
//! answered or not, and charges), within the factor stated below. Time is
//! not asserted: the seconds are the counted requests at a measured rate
//! (docs/performance.md), and wall-clock checks would be flaky.

use engine::drill::run_drill;
use scenario::{parse_drill, Length, Work};

/// How far the estimate may be from the count, either way: the request mix
/// sends a few requests (top-ups) that neither reads nor charges count,
/// and arrivals are Poisson.
const FACTOR: f64 = 1.25;

#[test]
fn the_drill_estimate_matches_the_requests_a_run_simulates() {
    for (text, sites, regions) in [
        ("rate = 40\nduration_s = 120\n", 2, 3),
        ("rate = 200\nduration_s = 60\n", 2, 3),
        (
            "rate = 50\nduration_s = 100\nleader = \"A\"\n[topology]\nregions = [\"A\", \"B\"]\nlinks = [{ a = \"A\", b = \"B\", rtt_ms = 30 }]\nsites = [\n  { name = \"X\", home = \"A\", rtt_ms = { A = 5, B = 30 } },\n  { name = \"Y\", home = \"B\", rtt_ms = { A = 30, B = 5 } },\n  { name = \"Z\", home = \"B\", rtt_ms = { A = 40, B = 9 } },\n]\n",
            3,
            2,
        ),
    ] {
        let cfg = parse_drill("cost.toml", text, Length::Short).expect("a valid scenario");
        assert_eq!(cfg.topology.site_ids().count(), sites);
        assert_eq!(cfg.topology.region_count(), regions);
        let work = Work::drill_on(
            cfg.rate,
            cfg.duration as f64 / 1e6,
            sites,
            cfg.topology.region_count(),
        );
        let r = run_drill(&cfg, 86).expect("it runs");
        let reads: u64 = r
            .during
            .sites
            .iter()
            .chain(&r.outside.sites)
            .map(|s| s.reads + s.failed_reads)
            .sum();
        let counted = (reads + r.charges.sent) as f64;
        let ratio = work.requests / counted;
        assert!(
            (1.0 / FACTOR..=FACTOR).contains(&ratio),
            "{text}: estimated {} requests, counted {counted} (ratio {ratio:.3})",
            work.requests
        );
        // More runs, scenarios or designs scale the estimate linearly.
        let twenty = work.times(20.0);
        assert!((twenty.requests / work.requests - 20.0).abs() < 1e-9);
        assert!(twenty.bytes <= work.bytes * scenario::RUNS_IN_MEMORY + 1.0);
    }
}

#[test]
fn more_regions_and_sites_cost_more_and_the_largest_topology_is_refused() {
    let small = Work::drill_on(100.0, 300.0, 2, 3);
    assert!(Work::drill_on(100.0, 300.0, 2, 64).seconds > 5.0 * small.seconds);
    // 64 regions x 255 sites, 20 runs: the case that ran past five minutes
    // and 4.6 GB although the check accepted it.
    let huge = Work::drill_on(100.0, 300.0, 255, 64).times(20.0);
    let why = huge.refusal(Length::Short).expect("refused");
    assert!(why.contains("--allow-long") && why.contains("MB"), "{why}");
    assert!(huge.refusal(Length::Long).is_none(), "within the hard cap");
    assert!(Work::drill_on(f64::INFINITY, 300.0, 2, 3)
        .refusal(Length::Long)
        .is_some());
}
