//! Adding the shares of a [`ShardSet`] into the unsharded command's
//! results, checking each share against its run as it goes: counters
//! against totals, histograms against counters, and one replayed unit of
//! every shard against what the file holds.

use engine::drill::{
    replay_first, run_drill_share, DrillConfig, DrillRuns, DrillShare, RunRecord, SiteWindow,
    Window,
};
use engine::{judge_cell, Cell, CellResult, Shard, SimConfig};
use metrics::LatencyHistogram;

use crate::{
    record, run_file, shown, summarised, tampered, to_value, DrillResultFile, PlanResultFile,
    RunFile, ShardError, ShardSet, SimResultFile, SiteWindowFile, MAX_RECORD_TEXT,
};

/// How many of a cell's `iterations` requests shard `s` of `n` runs: the
/// chunks `k` of cell `c` whose unit `c * chunks + k` is `s` modulo `n`.
fn owned_requests(iterations: u64, c: usize, s: u32, n: u32) -> u64 {
    let p = engine::chunks(iterations);
    let (s, n) = (u64::from(s), u64::from(n));
    let first = c as u64 * p;
    let k0 = (s + n - first % n) % n;
    if k0 >= p {
        return 0;
    }
    let count = (p - 1 - k0) / n + 1;
    let last = p - 1;
    let mut total = count * engine::CHUNK;
    if (first + last) % n == s {
        total -= engine::CHUNK - (iterations - last * engine::CHUNK);
    }
    total
}

/// The run-size checks of one cell's share: every counter against its
/// total, the total against what the shard owns, each histogram against its
/// counter.
fn check_cell(c: &CellResult, owned: u64, label: &str, file: &str) -> Result<(), ShardError> {
    let bad = |why: String| tampered(file, &format!("cell {label}: {why}"));
    if c.reads != owned {
        return Err(bad(format!(
            "it holds {} requests where its shard runs {owned}",
            c.reads
        )));
    }
    if c.charges != c.reads {
        return Err(bad(format!(
            "{} charges for {} requests of one read and one charge",
            c.charges, c.reads
        )));
    }
    for (name, n) in [
        ("stale reads", c.stale_reads),
        ("over-bound reads", c.over_bound_reads),
        ("leader reads", c.leader_reads),
        ("reads forced to the leader", c.forced_to_leader),
    ] {
        if n > c.reads {
            return Err(bad(format!("{n} {name} out of {} reads", c.reads)));
        }
    }
    let refused = c
        .charges_rejected
        .checked_add(c.charges_timed_out)
        .filter(|&r| r <= c.charges)
        .ok_or_else(|| {
            bad(format!(
                "{} charges rejected and {} timed out out of {}",
                c.charges_rejected, c.charges_timed_out, c.charges
            ))
        })?;
    let counts = [
        ("read latency", c.read.count(), c.reads),
        ("staleness", c.staleness.count(), c.reads),
        ("charge latency", c.write.count(), c.charges - refused),
    ];
    for (name, held, want) in counts {
        if held != want {
            return Err(bad(format!(
                "its {name} histogram holds {held} values where its counters say {want}"
            )));
        }
    }
    if c.reads == 0 && c.simulated != 0 {
        return Err(bad(format!(
            "{} µs simulated without a request",
            c.simulated
        )));
    }
    let fresh = c.staleness.count_at_most(0);
    if c.stale_reads != c.reads - fresh {
        return Err(bad(format!(
            "{} stale reads where its staleness histogram holds {}",
            c.stale_reads,
            c.reads - fresh
        )));
    }
    Ok(())
}

/// The first field on which two records differ, as the file names it.
fn first_difference(index: u32, a: &RunRecord, b: &RunRecord) -> String {
    /// The path of the first key whose values differ, through nested
    /// objects (`money.invariants_ok`).
    fn path(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
        let (a, b) = (a.as_object()?, b.as_object()?);
        let k = a.keys().find(|k| a.get(*k) != b.get(*k))?;
        Some(match b.get(k).and_then(|bk| path(&a[k], bk)) {
            Some(inner) => format!("{k}.{inner}"),
            None => k.clone(),
        })
    }
    path(
        &to_value(&run_file(index, a)),
        &to_value(&run_file(index, b)),
    )
    .unwrap_or_else(|| "?".into())
}

/// The checks a run record can take without replaying it: its seed, its
/// per-site lists, every time within the drill, every text short.
fn check_record(r: &RunFile, seed: u64, cfg: &DrillConfig, sites: usize) -> Result<(), String> {
    if r.seed != seed.wrapping_add(u64::from(r.index)) {
        return Err(format!(
            "run {} has seed {} where the master seed gives {}",
            r.index,
            r.seed,
            seed.wrapping_add(u64::from(r.index))
        ));
    }
    // A drill without a fault measures no RTO: an empty list.
    let rto_sites = r.rto_by_site.len();
    let nc_sites = r.not_completed_by_site.len();
    if (rto_sites != sites && rto_sites != 0)
        || (nc_sites != sites && nc_sites != 0)
        || r.availability_by_site.len() != sites
    {
        return Err(format!(
            "run {} has figures for {} and {} sites where the topology has {sites}",
            r.index,
            r.rto_by_site.len(),
            r.availability_by_site.len()
        ));
    }
    let end = cfg.duration;
    let times = r
        .rto_by_site
        .iter()
        .flatten()
        .map(|&t| ("an RTO", t))
        .chain(r.rto.map(|t| ("its first acknowledgement", t)))
        .chain(r.rto_worst.map(|t| ("its worst RTO", t)))
        .chain(r.time_to_detect.map(|t| ("its time to detect", t)))
        .chain([
            ("its RPO", r.rpo),
            ("its lease overlap", r.lease_overlap),
            ("its quiet time", r.quiet_time),
            ("its onset", r.onset),
        ]);
    for (name, t) in times {
        if t > end {
            return Err(format!(
                "run {} has {name} of {t} µs, longer than the {end} µs drill",
                r.index
            ));
        }
    }
    if let Some(a) = r
        .availability_by_site
        .iter()
        .flatten()
        .find(|a| !(0.0..=1.0).contains(*a))
    {
        return Err(format!(
            "run {} has an availability of {a}, not a share from 0 to 1",
            r.index
        ));
    }
    // Indicators: one per site, one tally per objective and fault, good
    // never above valid, windows inside the drill.
    let seconds = end / 1_000_000 + 1;
    let (slos, faults) = (cfg.slos.len(), cfg.faults.len());
    let sli_ok = r.sli.len() == sites
        && r.sli.iter().all(|s| {
            let tallies_ok = |t: &[engine::drill::sli::Tally]| {
                t.len() == slos && t.iter().all(|x| x.good <= x.valid)
            };
            s.steady.len() == slos
                && tallies_ok(&s.steady)
                && s.valid_total.len() == slos
                && s.seconds <= seconds
                && s.faults.len() == faults
                && s.faults
                    .iter()
                    .all(|f| f.from_s <= f.to_s && f.to_s <= seconds && tallies_ok(&f.tallies))
        });
    if !sli_ok {
        return Err(format!(
            "run {} has indicators that do not fit its {sites} sites, {slos} objectives and              {faults} faults (or count more good events than valid ones)",
            r.index
        ));
    }
    let texts = r.false_alarms.len() > MAX_RECORD_TEXT
        || r.false_alarms.iter().any(|t| t.len() > MAX_RECORD_TEXT)
        || [&r.money.defect, &r.money.first_breach]
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| t.len() > MAX_RECORD_TEXT));
    if texts {
        return Err(format!(
            "run {} carries a text or a list over {MAX_RECORD_TEXT} long",
            r.index
        ));
    }
    Ok(())
}

fn read_window(w: &[SiteWindowFile], file: &str) -> Result<Window, ShardError> {
    let sites = w
        .iter()
        .map(|s| {
            Ok(SiteWindow {
                read: s.read.read(file)?,
                write: s.write.read(file)?,
                reported_staleness: s.reported_staleness.read(file)?,
                data_age: s.data_age.read(file)?,
                reads: s.reads,
                failed_reads: s.failed_reads,
                reads_behind: s.reads_behind,
                reads_over_bound: s.reads_over_bound,
                leader_reads: s.leader_reads,
                forced_to_leader: s.forced_to_leader,
            })
        })
        .collect::<Result<Vec<_>, ShardError>>()?;
    Ok(Window {
        sites,
        slo: Vec::new(),
    })
}

/// A window read back, every counter checked against its total and each
/// histogram against its counter.
fn read_checked_window(w: &[SiteWindowFile], what: &str, file: &str) -> Result<Window, ShardError> {
    for (i, s) in w.iter().enumerate() {
        let bad = |why: String| tampered(file, &format!("client site {} {what}: {why}", i + 1));
        let answered = s.reads;
        for (name, n) in [
            ("reads behind", s.reads_behind),
            ("reads over the bound", s.reads_over_bound),
            ("leader reads", s.leader_reads),
        ] {
            if n > answered {
                return Err(bad(format!("{n} {name} out of {answered} reads")));
            }
        }
        let asked = s
            .reads
            .checked_add(s.failed_reads)
            .ok_or_else(|| bad("its read counts overflow".into()))?;
        if s.forced_to_leader > asked {
            return Err(bad(format!(
                "{} reads forced to the leader out of {asked}",
                s.forced_to_leader
            )));
        }
    }
    let window = read_window(w, file)?;
    for (i, s) in window.sites.iter().enumerate() {
        for (name, h) in [
            ("read latency", &s.read),
            ("reported staleness", &s.reported_staleness),
            ("data age", &s.data_age),
        ] {
            if h.count() != s.reads {
                return Err(tampered(
                    file,
                    &format!(
                        "client site {} {what}: its {name} histogram holds {} values for {} \
                         reads",
                        i + 1,
                        h.count(),
                        s.reads
                    ),
                ));
            }
        }
    }
    Ok(window)
}

/// `total + part` for every counter of two shares, refused on overflow.
fn checked_counts(total: &DrillShare, part: &DrillShare) -> bool {
    let sites = |a: &Window, b: &Window| {
        a.sites.iter().zip(&b.sites).all(|(x, y)| {
            [
                (x.reads, y.reads),
                (x.failed_reads, y.failed_reads),
                (x.reads_behind, y.reads_behind),
                (x.reads_over_bound, y.reads_over_bound),
                (x.leader_reads, y.leader_reads),
                (x.forced_to_leader, y.forced_to_leader),
            ]
            .iter()
            .all(|(p, q)| p.checked_add(*q).is_some())
        })
    };
    sites(&total.during, &part.during)
        && sites(&total.outside, &part.outside)
        && total
            .follower_reads
            .checked_add(part.follower_reads)
            .is_some()
        && total
            .underreported_reads
            .checked_add(part.underreported_reads)
            .is_some()
}

/// Whether the share `big` could hold the replayed share `small`.
fn share_covers(big: &DrillShare, small: &DrillShare, exact: bool) -> bool {
    let ge = |x: u64, y: u64| if exact { x == y } else { x >= y };
    // Covering with as many values is being equal.
    let holds =
        |x: &LatencyHistogram, y: &LatencyHistogram| x.covers(y) && ge(x.count(), y.count());
    let window = |a: &Window, b: &Window| {
        a.sites.len() == b.sites.len()
            && a.sites.iter().zip(&b.sites).all(|(x, y)| {
                holds(&x.read, &y.read)
                    && holds(&x.write, &y.write)
                    && holds(&x.reported_staleness, &y.reported_staleness)
                    && holds(&x.data_age, &y.data_age)
                    && ge(x.reads, y.reads)
                    && ge(x.failed_reads, y.failed_reads)
                    && ge(x.reads_behind, y.reads_behind)
                    && ge(x.reads_over_bound, y.reads_over_bound)
                    && ge(x.leader_reads, y.leader_reads)
                    && ge(x.forced_to_leader, y.forced_to_leader)
            })
    };
    window(&big.during, &small.during)
        && window(&big.outside, &small.outside)
        && ge(big.follower_reads, small.follower_reads)
        && ge(big.underreported_reads, small.underreported_reads)
        && holds(&big.staleness_error, &small.staleness_error)
}

impl ShardSet {
    /// The `sim` run of `cfg` over `cells` (`iterations` requests each,
    /// master seed `seed`: what the caller built from [`ShardSet::arguments`]
    /// and [`ShardSet::inputs`]), every cell added over the shards and
    /// judged: exactly what the unsharded run returns.
    pub fn merge_sim(
        &self,
        cfg: &SimConfig,
        cells: &[Cell],
        iterations: u64,
        seed: u64,
    ) -> Result<Vec<CellResult>, ShardError> {
        let n = self.docs[0].doc.shards;
        let per_cell = engine::chunks(iterations);
        let units = per_cell * cells.len() as u64;
        let mut sum: Vec<CellResult> = cells.iter().map(|&c| CellResult::empty(c)).collect();
        for d in &self.docs {
            let (f, s) = (d.name.as_str(), d.doc.shard);
            let r: SimResultFile = d.result()?;
            if r.chunk_requests != engine::CHUNK || r.cells.len() != cells.len() {
                return Err(tampered(f, "its cells do not match its arguments"));
            }
            let mut parts = Vec::with_capacity(cells.len());
            for (ci, (&cell, c)) in cells.iter().zip(&r.cells).enumerate() {
                let label = format!(
                    "{} / {}",
                    cfg.topology.site_name(cell.site),
                    cell.strategy.name()
                );
                if c.client != cfg.topology.site_name(cell.site)
                    || c.strategy != cell.strategy.name()
                {
                    return Err(tampered(
                        f,
                        &format!(
                            "its cell {} is `{} / {}` where its arguments give {label}",
                            ci + 1,
                            shown(&c.client),
                            shown(&c.strategy)
                        ),
                    ));
                }
                let part = CellResult {
                    cell,
                    read: c.read.read(f)?,
                    write: c.write.read(f)?,
                    staleness: c.staleness.read(f)?,
                    reads: c.reads,
                    stale_reads: c.stale_reads,
                    over_bound_reads: c.over_bound_reads,
                    leader_reads: c.leader_reads,
                    forced_to_leader: c.forced_to_leader,
                    charges: c.charges,
                    charges_rejected: c.charges_rejected,
                    charges_timed_out: c.charges_timed_out,
                    simulated: c.simulated_us,
                    slo: Vec::new(),
                };
                check_cell(&part, owned_requests(iterations, ci, s, n), &label, f)?;
                parts.push(part);
            }
            // One of its units replayed: a chunk of one cell, which its
            // share of that cell must hold, bucket by bucket.
            let owned = if u64::from(s) < units {
                (units - 1 - u64::from(s)) / u64::from(n) + 1
            } else {
                0
            };
            if owned > 0 {
                let t = u64::from(s) + (d.pick % owned) * u64::from(n);
                let (ci, k) = ((t / per_cell) as usize, t % per_cell);
                let chunk = Shard::new(k as u32, per_cell as u32)?;
                let replayed =
                    engine::run_share(cfg, seed, iterations, &cells[ci..=ci], chunk, &|_| {})?;
                let (p, q) = (&parts[ci], &replayed[0]);
                let counters = |c: &CellResult| {
                    [
                        c.stale_reads,
                        c.over_bound_reads,
                        c.leader_reads,
                        c.forced_to_leader,
                        c.charges_rejected,
                        c.charges_timed_out,
                    ]
                };
                let exact = p.reads == q.reads;
                let holds = p.read.covers(&q.read)
                    && p.write.covers(&q.write)
                    && p.staleness.covers(&q.staleness)
                    && counters(p)
                        .iter()
                        .zip(counters(q))
                        .all(|(&x, y)| if exact { x == y } else { x >= y })
                    && (!exact || p.simulated == q.simulated);
                if !holds {
                    return Err(tampered(
                        f,
                        &format!(
                            "chunk {k} of cell {} / {}, replayed from the shards' own arguments \
                             and input files, is not what its share of that cell holds",
                            cfg.topology.site_name(q.cell.site),
                            q.cell.strategy.name()
                        ),
                    ));
                }
            }
            for (total, part) in sum.iter_mut().zip(&parts) {
                total.simulated = total.simulated.checked_add(part.simulated).ok_or_else(|| {
                    tampered(f, "its simulated time overflows the sum of the shards")
                })?;
                let simulated = total.simulated;
                total.merge(part);
                total.simulated = simulated;
            }
        }
        for c in &mut sum {
            // Each shard held exactly its share, so this holds; kept as the
            // completeness check of the whole.
            if c.reads != iterations {
                return Err(ShardError::Incomplete {
                    held: c.reads,
                    whole: format!(
                        "the {iterations} requests of cell {} / {}",
                        cfg.topology.site_name(c.cell.site),
                        c.cell.strategy.name()
                    ),
                });
            }
            judge_cell(cfg, c);
        }
        Ok(sum)
    }

    /// The drill of `configs` (in report order, `runs` runs each over
    /// `sites` client sites, master seed `seed`), the shares joined and run
    /// 0 of each configuration replayed in full: exactly what the unsharded
    /// drill returns.
    pub fn merge_drill(
        &self,
        configs: &[DrillConfig],
        runs: u32,
        sites: usize,
        seed: u64,
    ) -> Result<Vec<DrillRuns>, ShardError> {
        let n = self.docs[0].doc.shards;
        let mut shares: Vec<DrillShare> =
            configs.iter().map(|_| DrillShare::empty(sites)).collect();
        for d in &self.docs {
            let (f, s) = (d.name.as_str(), d.doc.shard);
            let r: DrillResultFile = d.result()?;
            if r.configurations.len() != shares.len() {
                return Err(tampered(
                    f,
                    &format!(
                        "it holds {} configurations where its arguments play {}",
                        r.configurations.len(),
                        shares.len()
                    ),
                ));
            }
            let owned: Vec<u32> = (0..runs)
                .filter(|&i| Shard::new(s, n).is_ok_and(|sh| sh.owns(u64::from(i))))
                .collect();
            let mut parts = Vec::with_capacity(shares.len());
            for (ci, (c, cfg)) in r.configurations.into_iter().zip(configs).enumerate() {
                let indices: Vec<u32> = c.runs.iter().map(|r| r.index).collect();
                if indices != owned {
                    return Err(tampered(
                        f,
                        &format!(
                            "configuration {} holds {} runs ({}) where shard {s}/{n} of {} runs \
                             plays {} ({})",
                            ci + 1,
                            indices.len(),
                            summarised(indices.iter().copied()),
                            runs,
                            owned.len(),
                            summarised(owned.iter().copied())
                        ),
                    ));
                }
                if c.during.len() != sites || c.outside.len() != sites {
                    return Err(tampered(f, "its client sites do not match its arguments"));
                }
                for run in &c.runs {
                    check_record(run, seed, cfg, sites).map_err(|why| tampered(f, &why))?;
                }
                let part = DrillShare {
                    during: read_checked_window(&c.during, "during the faults", f)?,
                    outside: read_checked_window(&c.outside, "outside the faults", f)?,
                    records: c.runs.into_iter().map(|r| (r.index, record(r))).collect(),
                    follower_reads: c.follower_reads,
                    underreported_reads: c.underreported_reads,
                    staleness_error: c.staleness_error.read(f)?,
                };
                let reads = part
                    .during
                    .sites
                    .iter()
                    .chain(&part.outside.sites)
                    .try_fold(0u64, |t, x| t.checked_add(x.reads));
                if reads.is_none_or(|r| part.follower_reads > r)
                    || part.underreported_reads > part.follower_reads
                {
                    return Err(tampered(
                        f,
                        &format!(
                            "configuration {}: {} follower reads ({} under-reported) do not fit \
                             its reads",
                            ci + 1,
                            part.follower_reads,
                            part.underreported_reads
                        ),
                    ));
                }
                parts.push(part);
            }
            // One run of this shard replayed, from a configuration and among
            // its runs both picked by the file's digest.
            if !owned.is_empty() {
                let ci = (d.pick % parts.len() as u64) as usize;
                let i = owned[((d.pick >> 32) % owned.len() as u64) as usize];
                let replayed =
                    run_drill_share(&configs[ci], seed, runs, Shard::new(i, runs)?, &|| {})?;
                let part = &parts[ci];
                let stored = part.records.iter().find(|(j, _)| *j == i).map(|(_, r)| r);
                let again = &replayed.records[0].1;
                if stored != Some(again) {
                    return Err(tampered(
                        f,
                        &format!(
                            "run {i} of configuration {}, replayed from the shards' own \
                             arguments and input files, differs from its record (`{}`)",
                            ci + 1,
                            stored
                                .map_or_else(|| "index".into(), |r| first_difference(i, r, again))
                        ),
                    ));
                }
                if !share_covers(part, &replayed, owned.len() == 1) {
                    return Err(tampered(
                        f,
                        &format!(
                            "run {i} of configuration {}, replayed, is not what its pooled \
                             windows hold",
                            ci + 1
                        ),
                    ));
                }
            }
            for (total, part) in shares.iter_mut().zip(parts) {
                if !checked_counts(total, &part) {
                    return Err(tampered(f, "its counters overflow the sum of the shards"));
                }
                *total = std::mem::replace(total, DrillShare::empty(sites)).join(part);
            }
        }
        let mut results = Vec::with_capacity(shares.len());
        for (ci, (cfg, share)) in configs.iter().zip(shares).enumerate() {
            if share.records.len() != runs as usize {
                return Err(ShardError::Incomplete {
                    held: share.records.len() as u64,
                    whole: format!("the {runs} runs asked for"),
                });
            }
            // The first run in full (timeline, alerts, runbook) is replayed:
            // one run, deterministic, so the same as the unsharded run's. Its
            // figures must be those the shard recorded.
            let (record, first) = replay_first(cfg, seed)?;
            let stored = &share.records[0].1;
            if stored != &record {
                return Err(tampered(
                    &self.docs[0].name,
                    &format!(
                        "run 0 of configuration {}, replayed from the shards' own arguments and \
                         input files, differs from its record (`{}`)",
                        ci + 1,
                        first_difference(0, stored, &record)
                    ),
                ));
            }
            results.push(DrillRuns::assemble(cfg, first, share));
        }
        Ok(results)
    }

    /// The plan of `space`, whose units ([`plan::units`]) are `all`: each
    /// unit checked, one unit of every shard replayed, and the plan
    /// assembled, exactly as the unsharded plan's.
    pub fn merge_plan(
        &self,
        space: &plan::Space,
        all: &[plan::Unit],
    ) -> Result<Vec<plan::Evaluation>, ShardError> {
        let total = all.len();
        let n = self.docs[0].doc.shards as usize;
        let mut results: Vec<Option<plan::UnitResult>> = vec![None; total];
        for d in &self.docs {
            let (f, s) = (d.name.as_str(), d.doc.shard as usize);
            let r: PlanResultFile = d.result()?;
            let owned: Vec<usize> = (s..total).step_by(n).collect();
            let indices: Vec<usize> = r.units.iter().map(|(i, _)| *i).collect();
            if indices != owned {
                return Err(tampered(
                    f,
                    &format!(
                        "it holds {} units ({}) where shard {s}/{n} of the plan's {total} plays \
                         {} ({})",
                        indices.len(),
                        summarised(indices.iter().map(|&i| i.min(u32::MAX as usize) as u32)),
                        owned.len(),
                        summarised(owned.iter().map(|&i| i as u32))
                    ),
                ));
            }
            for (i, u) in &r.units {
                u.check(space, *i, all[*i])
                    .map_err(|e| tampered(f, &e.to_string()))?;
            }
            // One unit of this shard played again and compared.
            if !owned.is_empty() {
                let j = (d.pick % owned.len() as u64) as usize;
                let (i, stored) = &r.units[j];
                let again = plan::play(space, all[*i])?;
                if &again != stored {
                    return Err(tampered(
                        f,
                        &format!(
                            "unit {i}, replayed from the shards' own arguments and input files, \
                             differs from its result"
                        ),
                    ));
                }
            }
            for (i, u) in r.units {
                results[i] = Some(u);
            }
        }
        let results: Vec<plan::UnitResult> = results.into_iter().flatten().collect();
        if results.len() != total {
            return Err(ShardError::Incomplete {
                held: results.len() as u64,
                whole: format!("the plan's {total} units"),
            });
        }
        Ok(plan::assemble(space, &results)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_own_every_request_once() {
        for iterations in [1, engine::CHUNK - 1, engine::CHUNK, 3 * engine::CHUNK + 5] {
            for n in [1, 2, 3, 7] {
                for c in 0..3 {
                    let total: u64 = (0..n).map(|s| owned_requests(iterations, c, s, n)).sum();
                    assert_eq!(total, iterations, "{iterations} requests, {n} shards");
                }
            }
        }
    }
}
