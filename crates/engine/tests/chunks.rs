//! A kata cell over [`engine::CHUNK`] requests runs as chunks in parallel:
//! the figures must not depend on the thread count, chunk 0 must be the
//! cell as it ran before chunking, and the shards of a run must add up to
//! the run exactly.

use engine::{
    chunk_seed, chunks, judge_cell, kata_units, run, run_share, Cell, CellResult, Shard, SimConfig,
    CHUNK,
};
use replication::{EpisodicLag, LagModel};
use routing::ReadStrategy;

/// Every figure a report prints of a cell, as text.
fn figures(r: &CellResult) -> String {
    format!(
        "{:?} {:?} {:?} {} {} {} {} {} {} {} {} {} {:?}",
        r.read.summary(),
        r.write.summary(),
        r.staleness.summary(),
        r.reads,
        r.stale_reads,
        r.over_bound_reads,
        r.leader_reads,
        r.forced_to_leader,
        r.charges,
        r.charges_rejected,
        r.charges_timed_out,
        r.simulated,
        r.slo
    )
}

fn cells(cfg: &SimConfig) -> Vec<Cell> {
    let us = cfg.topology.site("US").unwrap();
    vec![
        Cell {
            site: us,
            strategy: ReadStrategy::Local,
        },
        Cell {
            site: us,
            strategy: ReadStrategy::Fallback,
        },
    ]
}

fn episodic() -> SimConfig {
    SimConfig {
        lag: LagModel::Episodic(EpisodicLag::default()),
        ..SimConfig::kata()
    }
}

fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn chunk_arithmetic() {
    assert_eq!(chunks(1), 1);
    assert_eq!(chunks(CHUNK), 1);
    assert_eq!(chunks(CHUNK + 1), 2);
    assert_eq!(chunk_seed(86, 0), 86);
    assert_ne!(chunk_seed(86, 1), chunk_seed(86, 2));
    assert_ne!(chunk_seed(86, 1), chunk_seed(87, 1));
    let units: Vec<_> = kata_units(2 * CHUNK + 7, 2).collect();
    assert_eq!(
        units,
        vec![
            (0, 0, CHUNK),
            (0, 1, CHUNK),
            (0, 2, 7),
            (1, 0, CHUNK),
            (1, 1, CHUNK),
            (1, 2, 7)
        ]
    );
}

#[test]
fn shards_are_checked() {
    assert!(Shard::new(0, 1).is_ok());
    assert!(Shard::new(3, 4).is_ok());
    assert!(Shard::new(4, 4).is_err());
    assert!(Shard::new(0, 0).is_err());
    assert!(Shard::new(0, Shard::MAX_COUNT + 1).is_err());
    let s = Shard::new(1, 3).unwrap();
    assert!(s.owns(1) && s.owns(4) && !s.owns(0) && !s.owns(5));
}

#[test]
fn one_and_several_threads_give_the_same_figures() {
    let cfg = episodic();
    let cells = cells(&cfg);
    let n = 2 * CHUNK + 12_345;
    let go = || run(&cfg, 86, n, &cells, &|_| {}).unwrap();
    let one: Vec<String> = on_threads(1, go).iter().map(figures).collect();
    let three: Vec<String> = on_threads(3, go).iter().map(figures).collect();
    assert_eq!(one, three);
}

#[test]
fn chunk_zero_is_the_unchunked_cell() {
    // Shard 0 of 3 owns unit 0 only (the first chunk of the first cell):
    // exactly a cell of CHUNK requests.
    let cfg = episodic();
    let cells = &cells(&cfg)[..1];
    let share = run_share(
        &cfg,
        86,
        3 * CHUNK,
        cells,
        Shard::new(0, 3).unwrap(),
        &|_| {},
    )
    .unwrap();
    let whole = run_share(&cfg, 86, CHUNK, cells, Shard::WHOLE, &|_| {}).unwrap();
    assert_eq!(figures(&share[0]), figures(&whole[0]));
    // The other chunks are other replicas: a run of 3 chunks is not
    // three copies of chunk 0.
    let all = run_share(&cfg, 86, 3 * CHUNK, cells, Shard::WHOLE, &|_| {}).unwrap();
    assert_ne!(all[0].simulated, 3 * whole[0].simulated);
}

#[test]
fn shards_add_up_to_the_run() {
    let cfg = SimConfig::kata();
    let cells = cells(&cfg);
    let n = 2 * CHUNK + 99;
    let whole = run(&cfg, 7, n, &cells, &|_| {}).unwrap();
    let mut sum: Option<Vec<CellResult>> = None;
    for i in 0..4 {
        let part = run_share(&cfg, 7, n, &cells, Shard::new(i, 4).unwrap(), &|_| {}).unwrap();
        sum = Some(match sum {
            None => part,
            Some(mut s) => {
                s.iter_mut().zip(&part).for_each(|(a, b)| a.merge(b));
                s
            }
        });
    }
    let mut sum = sum.unwrap();
    sum.iter_mut().for_each(|c| judge_cell(&cfg, c));
    assert_eq!(
        whole.iter().map(figures).collect::<Vec<_>>(),
        sum.iter().map(figures).collect::<Vec<_>>()
    );
    assert_eq!(sum[0].reads, n);
}

#[test]
fn progress_adds_up_to_the_requests() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let cfg = SimConfig::kata();
    let cells = cells(&cfg);
    let done = AtomicU64::new(0);
    let n = CHUNK + 70_000;
    run(&cfg, 1, n, &cells, &|d| {
        done.fetch_add(d, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(done.load(Ordering::Relaxed), 2 * n);
}
