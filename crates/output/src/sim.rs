//! `kata86 sim`: the table, JSON and CSV of a run's cells.
//!
//! A cell serialises itself ([`CellReport`], with the wallet's
//! [`WalletResult`]): the document here wraps the cells with the seed, the
//! configuration's names and the command; the table and the CSV read the
//! same figures from the engine's types.
#![allow(missing_docs)]

use std::io::Write;

use engine::wallet::WalletResult;
use engine::{CellReport, CellResult, SimConfig};
use metrics::SloVerdict;
use schemars::JsonSchema;
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};
use tabled::{Table, Tabled};

/// One `kata86 sim` run, ready to render.
pub struct SimReport<'a> {
    /// Master seed.
    pub seed: u64,
    /// Requests per cell.
    pub iterations: u64,
    /// The configuration it ran with.
    pub cfg: &'a SimConfig,
    /// One result per cell.
    pub results: &'a [CellResult],
    /// The wallet figures of each cell (same order), or empty for the kata workload.
    pub wallets: &'a [WalletResult],
    /// The command that reproduces it.
    pub command: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SimJson<'a> {
    seed: u64,
    iterations: u64,
    model: &'static str,
    leader: &'a str,
    #[serde(flatten)]
    world: crate::WorldKeys,
    command: &'a str,
    workload: &'static str,
    results: Vec<CellReport<'a>>,
}

/// Cell `i` of the run, as its reports show it.
pub fn cell<'a>(rep: &'a SimReport<'_>, i: usize) -> CellReport<'a> {
    CellReport {
        cfg: rep.cfg,
        result: &rep.results[i],
        wallet: rep.wallets.get(i),
    }
}

/// Writes the JSON document.
pub fn json(rep: &SimReport<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = SimJson {
        seed: rep.seed,
        iterations: rep.iterations,
        model: rep.cfg.lag.name(),
        leader: rep.cfg.topology.region_name(rep.cfg.leader),
        world: crate::WorldKeys::of(&rep.cfg.topology),
        command: &rep.command,
        workload: if rep.wallets.is_empty() {
            "kata"
        } else {
            "wallet"
        },
        results: (0..rep.results.len()).map(|i| cell(rep, i)).collect(),
    };
    crate::json(out, &doc)
}

/// The staleness a report shows: the kata loop's per-read `lag`, or the
/// wallet's `reported_staleness` (its `data_age` is shown beside it).
pub fn staleness_name(rep: &SimReport<'_>) -> &'static str {
    if rep.wallets.is_empty() {
        "lag_"
    } else {
        "reported_staleness_"
    }
}

/// Writes one tidy CSV row per cell: every figure of the cell's JSON
/// object (`crate::tidy`), then the seed.
pub fn csv(rep: &SimReport<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let rows = (0..rep.results.len())
        .map(|i| {
            let mut r = crate::tidy::record(&cell(rep, i))?;
            r.insert("seed".into(), rep.seed.into());
            Ok(r)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    crate::tidy::write(&rows, &crate::schema::of::<CellReport<'_>>(), out)
}

#[derive(Tabled)]
struct Row {
    client: String,
    strategy: String,
    #[tabled(rename = "read p50")]
    read_p50: String,
    #[tabled(rename = "read p95")]
    read_p95: String,
    #[tabled(rename = "read p99")]
    read_p99: String,
    #[tabled(rename = "charge p95")]
    write_p95: String,
    #[tabled(rename = "charge p99")]
    write_p99: String,
    #[tabled(rename = "STALENESS p50")]
    stale_p50: String,
    #[tabled(rename = "STALENESS p95")]
    stale_p95: String,
    #[tabled(rename = "STALENESS p99")]
    stale_p99: String,
    #[tabled(rename = "STALENESS p99.9")]
    stale_p999: String,
    #[tabled(rename = "over bound")]
    over_bound: String,
    #[tabled(rename = "leader reads")]
    leader: String,
    #[tabled(rename = "SLOs")]
    slo: String,
}

fn ms(v: f64) -> String {
    format!("{v:.0}")
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// "pass" or the failed objectives' names.
fn verdicts(v: &[SloVerdict]) -> String {
    let failed: Vec<String> = v
        .iter()
        .filter(|v| !v.pass)
        .map(|v| match v.observed_ms {
            Some(_) => v.name.clone(),
            None => format!("{} (no data)", v.name),
        })
        .collect();
    if failed.is_empty() {
        format!("{}/{} pass", v.len(), v.len())
    } else {
        format!("FAIL {}", failed.join(" "))
    }
}

/// Writes the human-readable report.
pub fn table(rep: &SimReport<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let cfg = rep.cfg;
    writeln!(
        out,
        "kata86 sim: {} workload, model {}, leader {}, {} requests per cell ({}), seed {}",
        if rep.wallets.is_empty() {
            "kata"
        } else {
            "wallet"
        },
        cfg.lag.name(),
        cfg.topology.region_name(cfg.leader),
        rep.iterations,
        if rep.wallets.is_empty() {
            "1 read + 1 charge each"
        } else {
            "reads, charges, top-ups by the mix"
        },
        rep.seed
    )?;
    writeln!(out, "world: {}", topology::WorldLine(&cfg.topology))?;
    writeln!(
        out,
        "all times in ms; {}; 'over bound' = reads whose staleness was over the {} ms bound",
        if rep.wallets.is_empty() {
            "'lag' = the lag drawn for the follower that served the read (0 for the leader; \
             for quorum, how far behind the newest committed write the R replies were)"
        } else {
            "'reported' = the watermark age the serving replica reported (0 for the leader)"
        },
        topology::to_ms(cfg.read.max_staleness)
    )?;
    writeln!(out)?;
    let rows: Vec<Row> = (0..rep.results.len())
        .map(|i| {
            let c = cell(rep, i);
            let (r, staleness, read) = (c.result, c.staleness(), c.result.read.summary());
            let write = r.write_summary();
            Row {
                client: c.client().to_string(),
                strategy: r.cell.strategy.name().to_string(),
                read_p50: ms(read.p50),
                read_p95: ms(read.p95),
                read_p99: ms(read.p99),
                write_p95: write.map_or_else(|| "no data".into(), |w| ms(w.p95)),
                write_p99: write.map_or_else(|| "no data".into(), |w| ms(w.p99)),
                stale_p50: ms(staleness.p50),
                stale_p95: ms(staleness.p95),
                stale_p99: ms(staleness.p99),
                stale_p999: ms(staleness.p999),
                over_bound: pct(r.over_bound_read_ratio()),
                leader: pct(r.leader_read_ratio()),
                slo: verdicts(&r.slo),
            }
        })
        .collect();
    let name = if rep.wallets.is_empty() {
        "lag"
    } else {
        "reported"
    };
    let mut b = Builder::default();
    b.push_record(Row::headers().iter().map(|h| h.replace("STALENESS", name)));
    for r in &rows {
        b.push_record(r.fields());
    }
    let mut t = b.build();
    t.with(Style::psql());
    t.modify(Columns::new(2..13), Alignment::right());
    writeln!(out, "{t}")?;
    writeln!(out)?;
    if !rep.wallets.is_empty() {
        money_table(rep, out)?;
    }
    let slo_names: Vec<String> = cfg
        .slos
        .iter()
        .map(|s| {
            let scope = s
                .site
                .as_deref()
                .map(|x| format!(" (site {x})"))
                .unwrap_or_default();
            if s.series.is_availability() {
                // Nothing fails in a sim cell: availability is a drill's.
                format!(
                    "{} {} answered{scope} (not judged here: sim fails no request; see `kata86 drill`)",
                    s.name,
                    engine::drill::sli::pct(s.quantile)
                )
            } else {
                format!("{} < {} ms{scope}", s.name, s.target_ms)
            }
        })
        .collect();
    writeln!(out, "SLOs: {}", slo_names.join("; "))?;
    let rejected: u64 = rep
        .results
        .iter()
        .map(|r| r.charges_rejected + r.charges_timed_out)
        .sum();
    if rejected > 0 {
        writeln!(
            out,
            "charges rejected or timed out against the deadline: {rejected}"
        )?;
    }
    writeln!(out, "seed: {}", rep.seed)?;
    if !rep.wallets.is_empty() {
        let ok = rep.wallets.len() == rep.results.len()
            && rep.wallets.iter().all(|w| w.money.invariants_ok);
        writeln!(out, "invariants_ok: {ok}")?;
    }
    writeln!(out, "reproduce: {}", rep.command)?;
    Ok(())
}

#[derive(Tabled)]
struct MoneyRow {
    client: String,
    strategy: String,
    #[tabled(rename = "data age p95")]
    data_p95: String,
    #[tabled(rename = "data age p99")]
    data_p99: String,
    charges: u64,
    ok: u64,
    declined: u64,
    #[tabled(rename = "unavailable")]
    rejected: u64,
    #[tabled(rename = "unknown")]
    unknown: u64,
    #[tabled(rename = "dups suppressed")]
    dups: u64,
    #[tabled(rename = "raced")]
    raced: u64,
    #[tabled(rename = "ryw wait/fwd")]
    ryw: String,
    overspend: u64,
    lost: u64,
    invariants: String,
}

/// The wallet's money figures, one row per cell.
fn money_table(rep: &SimReport<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "money: charges by outcome; 'unknown' = every attempt timed out; 'raced' = a retry reached the leader before its original"
    )?;
    let rows: Vec<MoneyRow> = (0..rep.results.len())
        .filter_map(|i| {
            let c = cell(rep, i);
            let (w, d) = (c.wallet?, c.data_age()?);
            let (s, m) = (&w.stats, &w.money);
            Some(MoneyRow {
                client: c.client().to_string(),
                strategy: c.result.cell.strategy.name().to_string(),
                data_p95: ms(d.p95),
                data_p99: ms(d.p99),
                charges: s.charges,
                ok: s.charges_ok,
                declined: s.charges_declined_insufficient,
                rejected: s.charges_rejected_unavailable,
                unknown: s.charges_outcome_unknown,
                dups: s.duplicates_suppressed,
                raced: s.retries_raced_original,
                ryw: format!("{}/{}", s.ryw_waits, s.ryw_forwards),
                overspend: m.overspend_incidents,
                lost: m.lost_acknowledged_charges,
                invariants: if m.invariants_ok {
                    "ok".into()
                } else {
                    "BROKEN".into()
                },
            })
        })
        .collect();
    let mut t = Table::new(rows);
    t.with(Style::psql());
    t.modify(Columns::new(2..14), Alignment::right());
    writeln!(out, "{t}")?;
    writeln!(out)
}
