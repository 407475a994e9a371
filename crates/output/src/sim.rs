//! `kata86 sim`: the table, JSON and CSV of a run's cells.
//!
//! The JSON's cell and wallet objects are still hand-written mirrors of
//! [`CellResult`] and [`WalletResult`] (to be replaced by the engine types'
//! own `Serialize`); they live here so that the schema is published with the
//! others.
#![allow(missing_docs)]

use std::io::Write;

use engine::wallet::WalletResult;
use engine::{CellResult, SimConfig};
use metrics::{SloVerdict, Summary};
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

/// The JSON form of one cell. Field names are a contract with other tools.
#[derive(Serialize, JsonSchema)]
pub struct CellJson<'a> {
    pub client: &'a str,
    pub strategy: &'static str,
    pub model: &'static str,
    pub leader: &'a str,
    pub read_ms: Summary,
    /// `null` when no charge committed (e.g. `--deadline 0` refuses them
    /// all): no latency to show, which 0 ms would misstate.
    pub write_ms: Option<Summary>,
    /// Kata workload: `lag_ms`, the lag drawn for each read of a follower
    /// (0 when a leader served it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<Summary>,
    /// Wallet workload: the watermark age the serving replica reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_staleness_ms: Option<Summary>,
    pub stale_read_ratio: f64,
    pub leader_read_ratio: f64,
    pub over_bound_read_ratio: f64,
    pub forced_to_leader_ratio: f64,
    pub charges: u64,
    pub charges_rejected_deadline: u64,
    pub charges_timed_out: u64,
    pub simulated_s: f64,
    pub slo: &'a [SloVerdict],
    /// Wallet workload: how old each returned balance really was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_age_ms: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet: Option<WalletJson>,
}

/// The money figures of one wallet cell. Field names are a contract.
#[derive(Serialize, JsonSchema)]
pub struct WalletJson {
    charges: u64,
    attempts: u64,
    charges_ok: u64,
    charges_declined_insufficient: u64,
    charges_rejected_unavailable: u64,
    charges_outcome_unknown: u64,
    duplicates_suppressed: u64,
    retries_raced_original: u64,
    top_ups: u64,
    ryw_waits: u64,
    ryw_forwards: u64,
    eligible_reads: u64,
    ledger_entries: u64,
    staleness_order_violations: u64,
    overspend_incidents: u64,
    lost_acknowledged_charges: u64,
    invariant_breaches: u64,
    first_breach: Option<String>,
    invariants_ok: bool,
}

fn wallet_json(w: &WalletResult) -> WalletJson {
    use ledger::Breach;
    let s = &w.stats;
    let count =
        |f: fn(&Breach) -> bool| w.invariants.breaches.iter().filter(|b| f(b)).count() as u64;
    WalletJson {
        charges: s.charges,
        attempts: s.attempts,
        charges_ok: s.charges_ok,
        charges_declined_insufficient: s.charges_declined_insufficient,
        charges_rejected_unavailable: s.charges_rejected_unavailable,
        charges_outcome_unknown: s.charges_outcome_unknown,
        duplicates_suppressed: s.duplicates_suppressed,
        retries_raced_original: s.retries_raced_original,
        top_ups: s.top_ups,
        ryw_waits: s.ryw_waits,
        ryw_forwards: s.ryw_forwards,
        eligible_reads: s.eligible,
        ledger_entries: s.ledger_entries,
        staleness_order_violations: s.staleness_order_violations,
        overspend_incidents: count(|b| matches!(b, Breach::NegativeBalance { .. })),
        lost_acknowledged_charges: count(|b| matches!(b, Breach::LostAcknowledged { .. })),
        invariant_breaches: w.invariants.breach_count,
        first_breach: w.invariants.first().map(|b| b.to_string()),
        invariants_ok: w.invariants.ok() && s.staleness_order_violations == 0,
    }
}

#[derive(Serialize, JsonSchema)]
pub struct SimJson<'a> {
    seed: u64,
    iterations: u64,
    model: &'static str,
    leader: &'a str,
    topology: String,
    command: &'a str,
    workload: &'static str,
    results: Vec<CellJson<'a>>,
}

/// A ratio rounded to 6 decimals, so reports stay short and stable.
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 1e6).round() / 1e6
    }
}

impl CellJson<'_> {
    /// The staleness series the cell carries: the drawn lag (kata
    /// workload) or the reported staleness (wallet), exactly one of which
    /// `cell_json` fills.
    pub fn staleness(&self) -> Summary {
        self.lag_ms
            .or(self.reported_staleness_ms)
            .expect("cell_json fills one of the two")
    }
}

pub fn cell_json<'a>(rep: &'a SimReport<'_>, i: usize) -> CellJson<'a> {
    let cfg = rep.cfg;
    let r = &rep.results[i];
    let w = rep.wallets.get(i);
    CellJson {
        client: cfg.topology.site_name(r.cell.site),
        strategy: r.cell.strategy.name(),
        model: cfg.lag.name(),
        leader: cfg.topology.region_name(cfg.leader),
        read_ms: r.read.summary(),
        write_ms: (r.write.count() > 0).then(|| r.write.summary()),
        lag_ms: w.is_none().then(|| r.staleness.summary()),
        reported_staleness_ms: w.map(|_| r.staleness.summary()),
        stale_read_ratio: ratio(r.stale_reads, r.reads),
        leader_read_ratio: ratio(r.leader_reads, r.reads),
        over_bound_read_ratio: ratio(r.over_bound_reads, r.reads),
        forced_to_leader_ratio: ratio(r.forced_to_leader, r.reads),
        charges: r.charges,
        charges_rejected_deadline: r.charges_rejected,
        charges_timed_out: r.charges_timed_out,
        simulated_s: (r.simulated as f64 / 1e3).round() / 1e3,
        slo: &r.slo,
        data_age_ms: w.map(|w| w.data_age.summary()),
        wallet: w.map(wallet_json),
    }
}

/// Writes the JSON document.
pub fn json(rep: &SimReport<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = SimJson {
        seed: rep.seed,
        iterations: rep.iterations,
        model: rep.cfg.lag.name(),
        leader: rep.cfg.topology.region_name(rep.cfg.leader),
        topology: rep.cfg.topology.to_string(),
        command: &rep.command,
        workload: if rep.wallets.is_empty() {
            "kata"
        } else {
            "wallet"
        },
        results: (0..rep.results.len()).map(|i| cell_json(rep, i)).collect(),
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
            let mut r = crate::tidy::record(&cell_json(rep, i))?;
            r.insert("seed".into(), rep.seed.into());
            Ok(r)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    crate::tidy::write(&rows, &crate::schema::of::<CellJson<'_>>(), out)
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
            let c = cell_json(rep, i);
            let staleness = c.staleness();
            Row {
                client: c.client.to_string(),
                strategy: c.strategy.to_string(),
                read_p50: ms(c.read_ms.p50),
                read_p95: ms(c.read_ms.p95),
                read_p99: ms(c.read_ms.p99),
                write_p95: c.write_ms.map_or_else(|| "no data".into(), |w| ms(w.p95)),
                write_p99: c.write_ms.map_or_else(|| "no data".into(), |w| ms(w.p99)),
                stale_p50: ms(staleness.p50),
                stale_p95: ms(staleness.p95),
                stale_p99: ms(staleness.p99),
                stale_p999: ms(staleness.p999),
                over_bound: pct(c.over_bound_read_ratio),
                leader: pct(c.leader_read_ratio),
                slo: verdicts(c.slo),
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
        let ok = (0..rep.results.len())
            .all(|i| cell_json(rep, i).wallet.is_some_and(|w| w.invariants_ok));
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
            let c = cell_json(rep, i);
            let (w, d) = (c.wallet?, c.data_age_ms?);
            Some(MoneyRow {
                client: c.client.to_string(),
                strategy: c.strategy.to_string(),
                data_p95: ms(d.p95),
                data_p99: ms(d.p99),
                charges: w.charges,
                ok: w.charges_ok,
                declined: w.charges_declined_insufficient,
                rejected: w.charges_rejected_unavailable,
                unknown: w.charges_outcome_unknown,
                dups: w.duplicates_suppressed,
                raced: w.retries_raced_original,
                ryw: format!("{}/{}", w.ryw_waits, w.ryw_forwards),
                overspend: w.overspend_incidents,
                lost: w.lost_acknowledged_charges,
                invariants: if w.invariants_ok {
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
