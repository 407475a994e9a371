//! Clocks that are what they are called: the hybrid logical clock behind
//! `hlc` watermarks, and the offset check that enforces the skew bound
//! (`DrillConfig::max_offset_enforced`), as CockroachDB enforces its max
//! offset.
//!
//! Every bound is derived from the configuration: the skew bound `ε`, the
//! clock models, the fault windows.

use engine::drill::{run_drill, DrillConfig, DrillResult, Fault, FaultKind, JpRole, Watermark};
use replication::clock::ClockModel;
use topology::{ms, to_ms, Micros, RegionId};

const SEEDS: [u64; 3] = [1, 7, 86];

fn run(cfg: &DrillConfig, seed: u64) -> DrillResult {
    run_drill(cfg, seed).expect("valid drill")
}

fn region(cfg: &DrillConfig, name: &str) -> RegionId {
    cfg.topology.region(name).expect("region exists")
}

/// One histogram bucket at `v_ms`: 3 significant digits, so a reported
/// value is at most 0.1 % above the recorded one.
fn plus_bucket(v_ms: f64) -> f64 {
    v_ms * 1.001 + 0.001
}

/// A clock offset of `v` ms, in µs.
fn offset_ms(v: i64) -> i64 {
    v * 1000
}

fn partition(a: RegionId, b: RegionId, from_s: f64, to_s: f64) -> Fault {
    Fault {
        kind: FaultKind::Partition {
            a,
            b,
            both_ways: true,
        },
        start: ms(from_s * 1000.0),
        end: ms(to_s * 1000.0),
    }
}

fn story(r: &DrillResult) -> String {
    let mut s = format!(
        "{} wm={} check={} follower_reads={} under={} refused={} overlap={} err={:?}\n",
        r.drill,
        r.watermark,
        r.max_offset_enforced,
        r.reads.follower_reads,
        r.reads.underreported_reads,
        r.reads.offset_refused_reads,
        r.failover.lease_overlap,
        r.reads.staleness_error.summary(),
    );
    for m in &r.operations.timeline {
        s.push_str(&format!("  {:>9.3} s  {}\n", to_ms(m.at) / 1000.0, m.what));
    }
    s
}

/// The largest gap between any two regions' clocks over the drill, sampled
/// every 10 ms (the models used here are constant, linear or stepped).
fn max_pairwise_skew(cfg: &DrillConfig) -> u64 {
    let n = cfg.topology.region_count();
    let off = |r: usize, t: Micros| cfg.clocks.get(r).map_or(0, |c| c.offset_at(t));
    (0..=cfg.duration)
        .step_by(10_000)
        .flat_map(|t| (0..n).flat_map(move |a| (0..n).map(move |b| off(a, t).abs_diff(off(b, t)))))
        .max()
        .unwrap_or(0)
}

fn fenced_notes(r: &DrillResult) -> Vec<&str> {
    r.operations
        .timeline
        .iter()
        .map(|m| m.what.as_str())
        .filter(|w| w.contains("measures its clock beyond"))
        .collect()
}

// ---------------------------------------------------------------------------
// Beyond the bound: examples/clock-jump-beyond-bound.toml
// ---------------------------------------------------------------------------

/// US's clock jump, in ms.
const JUMP_MS: f64 = 3000.0;

/// The drill of `examples/clock-jump-beyond-bound.toml`: JP a witness; SG,
/// the leader, cut off from US and JP from 60 s to 180 s; US's clock jumps
/// 3 s ahead at 61 s; SG cut off from US again from 230 s to 260 s; `hlc`
/// watermarks.
fn clock_jump() -> DrillConfig {
    let mut cfg = DrillConfig::builtin("region-down".parse().expect("built-in"), JpRole::Witness);
    let (sg, us, jp) = (region(&cfg, "SG"), region(&cfg, "US"), region(&cfg, "JP"));
    cfg.name = "clock-jump-beyond-bound".into();
    cfg.watermark = Watermark::Hybrid;
    cfg.faults = vec![
        partition(sg, us, 60.0, 180.0),
        partition(sg, jp, 60.0, 180.0),
        partition(sg, us, 230.0, 260.0),
    ];
    cfg.clocks = vec![ClockModel::Exact; cfg.topology.region_count()];
    cfg.clocks[us.idx()] = ClockModel::Step {
        at: ms(61_000.0),
        before: 0,
        after: ms(JUMP_MS) as i64,
    };
    cfg
}

/// Without the check: US, whose clock runs 3 s ahead, waits out SG's lease
/// on it and promotes itself while SG still admits charges; later SG, its
/// follower, cut off from it, still holds US's stamps 3 s in the future on
/// its hybrid clock and reports its data fresher than it is.
#[test]
fn beyond_the_bound_without_the_check_leases_overlap_and_reads_under_report() {
    let cfg = DrillConfig {
        max_offset_enforced: false,
        ..clock_jump()
    };
    let bound = cfg.skew_bound;
    assert!(
        max_pairwise_skew(&cfg) > bound,
        "the jump is beyond the bound"
    );
    for seed in SEEDS {
        let r = run(&cfg, seed);
        assert!(r.failover.lease_overlap > 0, "{}", story(&r));
        // US waits lease + ε on a clock 3 s fast; SG stops at lease − ε on a
        // true one: it can over-run US's promotion by at most 3 s − 2ε.
        assert!(
            r.failover.lease_overlap <= ms(JUMP_MS) - 2 * bound,
            "{}",
            story(&r)
        );
        assert!(r.reads.underreported_reads > 0, "{}", story(&r));
        // Under-reported by at most (skew − ε), over-reported by at most
        // (skew + ε): |error| ≤ 3 s + ε.
        let e = r.reads.staleness_error.summary();
        assert!(e.max <= plus_bucket(JUMP_MS + to_ms(bound)), "{e:?}");
        assert_eq!(r.reads.offset_refused_reads, 0, "nothing is refused");
        assert_eq!(fenced_notes(&r).len(), 2, "{}", story(&r));
        assert!(fenced_notes(&r)
            .iter()
            .all(|n| n.contains("offset check off")));
        // The under-reports are SG's, cut off from US the second time.
        assert!(
            r.failover.promotions.iter().all(|p| p.region == "US"),
            "{}",
            story(&r)
        );
    }
}

/// With the check: US and JP, each other's only reachable peer once SG is
/// cut off, each measure the other beyond the bound; neither may lead,
/// promote or serve reads, so no lease overlaps and no read under-reports.
#[test]
fn beyond_the_bound_with_the_check_nothing_overlaps_or_under_reports() {
    let cfg = clock_jump();
    assert!(cfg.max_offset_enforced, "on by default");
    for seed in SEEDS {
        let r = run(&cfg, seed);
        assert_eq!(r.failover.lease_overlap, 0, "{}", story(&r));
        assert_eq!(r.reads.underreported_reads, 0, "{}", story(&r));
        assert!(r.failover.promotions.is_empty(), "{}", story(&r));
        // The check acted: both fenced one measuring period after the jump.
        let notes = fenced_notes(&r);
        assert_eq!(notes.len(), 2, "{}", story(&r));
        assert!(
            notes.iter().any(|n| n.starts_with("US")) && notes.iter().any(|n| n.starts_with("JP"))
        );
        let fenced_at = r
            .operations
            .timeline
            .iter()
            .find(|m| m.what.contains("measures its clock beyond"))
            .map(|m| m.at)
            .expect("a fencing note");
        assert!(fenced_at >= ms(61_000.0) && fenced_at <= ms(61_000.0) + cfg.renew_every);
        assert!(r.reads.offset_refused_reads > 0, "{}", story(&r));
        // Once SG, on a true clock, is in reach again, the majority tells:
        // JP is back, US is not.
        assert!(
            r.operations.timeline.iter().any(
                |m| m.at >= ms(180_000.0) && m.what.starts_with("JP measures its clock within")
            ),
            "{}",
            story(&r)
        );
        assert!(!r
            .operations
            .timeline
            .iter()
            .any(|m| m.what.starts_with("US measures its clock within")));
        // SG leads again after the heal: charges are acknowledged after it.
        let clean = run(
            &DrillConfig {
                clocks: Vec::new(),
                ..cfg.clone()
            },
            seed,
        );
        assert!(
            r.charges.acknowledged > clean.charges.acknowledged / 2,
            "{}",
            story(&r)
        );
        assert!(r.money.invariants_ok, "{}", story(&r));
    }
}

/// With every clock in reach, the majority tells which clock is wrong: only
/// US, drifting away from SG and JP, is fenced, and only once its drift
/// passes the bound.
#[test]
fn the_majority_fences_only_the_clock_that_is_off() {
    let mut cfg = DrillConfig::builtin("baseline".parse().unwrap(), JpRole::Replica);
    let us = region(&cfg, "US");
    cfg.clocks = vec![ClockModel::Exact; cfg.topology.region_count()];
    // −5000 ppm: 500 ms behind at 100 s.
    cfg.clocks[us.idx()] = ClockModel::Drift {
        offset: 0,
        ppm: -5_000.0,
    };
    cfg.watermark = Watermark::Hybrid;
    let r = run(&cfg, 86);
    let notes: Vec<_> = r
        .operations
        .timeline
        .iter()
        .filter(|m| m.what.contains("measures its clock"))
        .collect();
    assert_eq!(notes.len(), 1, "{}", story(&r));
    assert!(notes[0].what.starts_with("US measures its clock beyond"));
    assert!(notes[0].what.contains("from 2 of the 2"));
    // Measured once a second: fenced within a period of the crossing.
    let crossing = ms(100_000.0);
    assert!(notes[0].at > crossing && notes[0].at <= crossing + cfg.renew_every);
    assert!(r.reads.offset_refused_reads > 0);
    assert_eq!(r.reads.underreported_reads, 0, "{}", story(&r));
}

// ---------------------------------------------------------------------------
// Within the bound
// ---------------------------------------------------------------------------

/// Drills whose clocks all stay within ε of each other: fixed offsets both
/// ways (the leader ahead, then behind), a step inside a partition, a
/// periodic wander, over a lag spike and a partition.
fn within_the_bound() -> Vec<DrillConfig> {
    let base = |name: &str| {
        let mut cfg = DrillConfig::builtin(name.parse().unwrap(), JpRole::Replica);
        cfg.watermark = Watermark::Hybrid;
        cfg.clocks = vec![ClockModel::Exact; cfg.topology.region_count()];
        cfg
    };
    let mut out = Vec::new();
    for (name, sg, us) in [
        ("lag-spike", 250, -250),
        ("lag-spike", -250, 250),
        ("partition", -200, 300),
        ("region-down", 100, -400),
    ] {
        let mut cfg = base(name);
        let (r_sg, r_us) = (region(&cfg, "SG").idx(), region(&cfg, "US").idx());
        cfg.clocks[r_sg] = ClockModel::Offset {
            offset: offset_ms(sg),
        };
        cfg.clocks[r_us] = ClockModel::Offset {
            offset: offset_ms(us),
        };
        out.push(cfg);
    }
    let mut step = base("partition");
    let (r_us, r_jp) = (region(&step, "US").idx(), region(&step, "JP").idx());
    step.clocks[r_us] = ClockModel::Step {
        at: ms(70_000.0),
        before: 0,
        after: offset_ms(-450),
    };
    step.clocks[r_jp] = ClockModel::Periodic {
        amplitude: ms(40.0) as i64,
        period: ms(30_000.0),
        noise: ms(5.0) as i64,
        seed: 0,
    };
    out.push(step);
    out
}

/// Within the bound, `hlc` never under-reports and over-reports by at most
/// 2ε (the reader's clock may run up to ε ahead of the stamp's, and the
/// reader adds ε). No start-up slack is needed: before the first heartbeat
/// lands, the watermark is the initial log's, stamped on the first leader's
/// clock at time 0, so the same argument holds from the first read.
#[test]
fn within_the_bound_hlc_never_under_reports_and_over_reports_by_at_most_twice_it() {
    for cfg in within_the_bound() {
        let bound = cfg.skew_bound;
        let skew = max_pairwise_skew(&cfg);
        assert!(skew <= bound, "{}: skew {skew} within the bound", cfg.name);
        for seed in SEEDS {
            let r = run(&cfg, seed);
            assert!(r.reads.follower_reads > 1000, "{}", story(&r));
            assert_eq!(r.reads.underreported_reads, 0, "{}", story(&r));
            assert_eq!(r.reads.staleness_order_violations, 0, "{}", story(&r));
            let e = r.reads.staleness_error.summary();
            assert!(
                e.max <= plus_bucket(2.0 * to_ms(bound)),
                "{}: {e:?}",
                cfg.name
            );
            // The uncertainty is real: the replica adds ε on top of what its
            // hybrid clock shows.
            assert!(e.p50 > 0.0, "{e:?}");
            assert!(fenced_notes(&r).is_empty(), "{}", story(&r));
            assert_eq!(r.reads.offset_refused_reads, 0);
        }
    }
}

/// Within the bound the check never fires, so it changes nothing.
#[test]
fn within_the_bound_the_check_changes_nothing() {
    for cfg in within_the_bound().into_iter().take(3) {
        let off = DrillConfig {
            max_offset_enforced: false,
            ..cfg.clone()
        };
        let (a, b) = (run(&cfg, 86), run(&off, 86));
        assert_eq!(a.operations.timeline, b.operations.timeline, "{}", cfg.name);
        assert_eq!(
            (
                a.reads.follower_reads,
                a.charges.acknowledged,
                a.money.lost_acknowledged_charges
            ),
            (
                b.reads.follower_reads,
                b.charges.acknowledged,
                b.money.lost_acknowledged_charges
            )
        );
        assert_eq!(
            a.reads.staleness_error.summary(),
            b.reads.staleness_error.summary()
        );
    }
}
