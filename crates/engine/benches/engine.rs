//! Cost of one simulated request: `run_cell` on the kata's configuration.
//!
//! Each benchmark simulates a whole cell of [`REQUESTS`] requests (set-up,
//! loop and SLO verdicts), and criterion reports the throughput in requests
//! per second; ns per request is the time per iteration divided by
//! [`REQUESTS`]. Run with `cargo bench -p engine`; `docs/performance.md`
//! records the figures on the project machine.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::{run_cell, Cell, SimConfig};

/// Requests per measured call: large enough that the per-cell set-up and
/// verdicts (a few hundred µs) are about 1 % of the time.
const REQUESTS: u64 = 1_000_000;

/// The cells measured: the benchmark case of the issue (`US`/`local`), a
/// strategy with a data-dependent branch (`fallback`) and the leaderless
/// N/R/W path (`quorum`: three WARS round trips of N legs per request).
const CELLS: [(&str, &str); 3] = [("US", "local"), ("US", "fallback"), ("VN", "quorum")];

fn run_cell_iid(c: &mut Criterion) {
    let cfg = SimConfig::kata();
    let mut group = c.benchmark_group("run_cell_iid");
    group
        .throughput(Throughput::Elements(REQUESTS))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (site, strategy) in CELLS {
        let cell = Cell {
            site: cfg.topology.site(site).expect("kata site"),
            strategy: strategy.parse().expect("strategy name"),
        };
        group.bench_function(format!("{site}/{strategy}"), |b| {
            b.iter(|| run_cell(&cfg, 86, REQUESTS, black_box(cell), &|_| {}))
        });
    }
    group.finish();
}

criterion_group!(benches, run_cell_iid);
criterion_main!(benches);
