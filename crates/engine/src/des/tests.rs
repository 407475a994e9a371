//! Structural tests of what the event core holds: flat in the length of an
//! outage, and the pump's index against a scan of every stream.

use topology::{ms, Micros};

use super::{play, Stop, Term};
use crate::drill::{Builtin, DrillConfig, FaultKind, JpRole};

/// The most a run held at any compaction (sampled right after it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footprint {
    /// Log entries the newest term keeps past its checkpoint.
    pub(crate) entries: usize,
    /// Acknowledgements not yet settled.
    pub(crate) acked: usize,
    /// Items on the wire, over every stream of every term.
    pub(crate) in_flight: usize,
    /// Entries in the pump's index.
    pub(crate) dues: usize,
    /// Compactions sampled.
    pub(crate) samples: usize,
}

impl Footprint {
    /// Samples what the core holds at `now`, from the tenth second on (the
    /// opening balances, one entry per account at time 0, are folded by then).
    pub(crate) fn sample(&mut self, now: Micros, terms: &[Term], acked: usize, dues: usize) {
        if now < ms(10_000.0) {
            return;
        }
        let newest = terms.last().expect("a term");
        let in_flight = terms
            .iter()
            .flat_map(|t| t.streams.iter().flatten())
            .map(|s| s.in_flight())
            .sum();
        self.entries = self.entries.max(newest.ledger.entries().len());
        self.acked = self.acked.max(acked);
        self.in_flight = self.in_flight.max(in_flight);
        self.dues = self.dues.max(dues);
        self.samples += 1;
    }
}

/// The built-in region-down drill (SG, the leader, down from 60 s) at
/// `rate` requests/s per site, its outage `outage` long, lasting `duration`.
fn region_down(rate: f64, outage: Micros, duration: Micros) -> DrillConfig {
    let mut cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Replica);
    cfg.rate = rate;
    cfg.duration = duration;
    cfg.onset_window = 0;
    let f = &mut cfg.faults[0];
    assert!(matches!(f.kind, FaultKind::RegionDown { .. }));
    f.end = f.start + outage;
    cfg
}

/// Plays `cfg` to its end (before the end-of-run checks) and returns what it
/// held at most, the entries its leaders appended, and its timeline.
fn footprint(cfg: &DrillConfig) -> (Footprint, u64, Vec<String>) {
    cfg.validate().expect("a valid drill");
    let sites: Vec<_> = cfg.topology.site_ids().collect();
    let core = play(cfg, 5, &sites, Stop::At(cfg.duration), &mut |_| {});
    let appended = core.terms.last().expect("a term").ledger.last_lsn();
    let timeline = core.timeline.iter().map(|m| m.what.clone()).collect();
    (core.footprint, appended, timeline)
}

/// A region down three times as long holds no more: the log is folded up
/// to what the live replicas hold while SG is down, and SG catches up from a
/// snapshot when it is back. Before issue #22 compaction waited for SG, so
/// the retained log, the unsettled acknowledgements and SG's catch-up
/// backlog all grew with the outage (at 200/s per site: ~20 entries/s,
/// 2,400 entries for 120 s, 7,200 for 360 s).
#[test]
fn what_the_core_holds_is_flat_in_the_length_of_an_outage() {
    let rate = 200.0;
    let (short, appended, timeline) = footprint(&region_down(rate, ms(120_000.0), ms(600_000.0)));
    let (long, appended_long, timeline_long) =
        footprint(&region_down(rate, ms(360_000.0), ms(600_000.0)));
    // Entries per second the runs appended (a 600 s drill).
    let per_s = appended.max(appended_long) as f64 / 600.0;
    assert!(per_s > 5.0, "{per_s} entries/s: too few writes to tell");
    // One key horizon (5.8 s) and a compaction period of entries, and a
    // few seconds more for the promotion: far below one outage's worth.
    let bound = (per_s * 15.0) as usize;
    for (name, f) in [("120 s", short), ("360 s", long)] {
        assert!(f.samples > 500, "{name}: {f:?}");
        assert!(
            f.entries <= bound,
            "{name}: {} retained > {bound}",
            f.entries
        );
        assert!(f.acked <= bound, "{name}: {} unsettled > {bound}", f.acked);
        // SG's catch-up: a snapshot and the entries after it, not the outage.
        assert!(
            f.in_flight <= bound,
            "{name}: {} in flight > {bound}",
            f.in_flight
        );
        // Two heartbeats and a receipt per stream, two terms of three regions.
        assert!(f.dues <= 12, "{name}: {} filed", f.dues);
    }
    // The longer outage holds at most a little more (a different moment).
    assert!(
        long.entries <= short.entries * 3 / 2 + 10,
        "{short:?} {long:?}"
    );
    // SG came back through a snapshot each time.
    for t in [&timeline, &timeline_long] {
        let snapshot = t
            .iter()
            .filter(|w| w.contains("catches up from a snapshot"));
        assert_eq!(snapshot.count(), 1, "{t:#?}");
    }
}

/// Without a fault nothing is folded differently: no snapshot, and what the
/// run holds stays within a key horizon of entries.
#[test]
fn a_run_without_faults_needs_no_snapshot() {
    let mut cfg = DrillConfig::builtin(Builtin::Baseline, JpRole::Replica);
    cfg.rate = 200.0;
    let (f, appended, timeline) = footprint(&cfg);
    let per_s = appended as f64 / (cfg.duration as f64 / 1e6);
    assert!(f.entries <= (per_s * 8.0) as usize, "{f:?} at {per_s}/s");
    assert!(
        !timeline.iter().any(|w| w.contains("snapshot")),
        "{timeline:#?}"
    );
}
