//! A drill's runs split over shards add up to the unsharded runs exactly.

use engine::drill::{
    replay_first, run_drill_share, run_drills, DrillConfig, DrillRuns, DrillShare, JpRole,
};
use engine::Shard;

fn figures(r: &DrillRuns) -> String {
    let w = |x: &engine::drill::Window| {
        let t = x.total();
        format!(
            "{:?} {:?} {:?} {:?} {} {} {} {:?}",
            t.read.summary(),
            t.write.summary(),
            t.reported_staleness.summary(),
            t.data_age.summary(),
            t.reads,
            t.failed_reads,
            t.leader_reads,
            x.slo
        )
    };
    format!(
        "{:?}\n{}\n{}\n{} {} {:?}\n{:?}",
        r.runs,
        w(&r.during),
        w(&r.outside),
        r.follower_reads,
        r.underreported_reads,
        r.staleness_error.summary(),
        r.first.operations.timeline
    )
}

#[test]
fn shards_joined_are_the_runs() {
    let mut cfg = DrillConfig::builtin("region-down".parse().unwrap(), JpRole::Replica);
    cfg.duration = 120_000_000;
    cfg.faults.iter_mut().for_each(|f| {
        f.start = 20_000_000;
        f.end = 60_000_000;
    });
    cfg.onset_window = 10_000_000;
    let runs = 5;
    let whole = run_drills(&cfg, 86, runs, &|| {}).unwrap();
    let sites = cfg.topology.site_ids().count();
    // Shard 3 of 6 and above get runs 3, 4 and none.
    let joined = (0..6)
        .map(|i| run_drill_share(&cfg, 86, runs, Shard::new(i, 6).unwrap(), &|| {}).unwrap())
        .rev()
        .fold(DrillShare::empty(sites), DrillShare::join);
    assert_eq!(joined.records.len(), runs as usize);
    let (record, first) = replay_first(&cfg, 86).unwrap();
    assert_eq!(record, joined.records[0].1);
    let merged = DrillRuns::assemble(&cfg, first, joined);
    assert_eq!(figures(&merged), figures(&whole));
}
