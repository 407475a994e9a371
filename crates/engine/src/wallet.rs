//! The wallet workload: balance and eligibility reads, charges with
//! idempotent retries and top-ups against a real ledger, replicated to every
//! follower.
//!
//! A wallet cell is a drill with no fault, a fixed leader and one client
//! site, played on the same event core: requests arrive as a Poisson
//! process; a charge reaches the leader after half its path (plus a
//! slow-path pause on some attempts) and is booked there in time order with
//! everything else. A client whose attempt overruns the deadline gives up and
//! retries with the same idempotency key, so a retry can race its original.
//! Reads are served by the replica the strategy chooses, which holds exactly
//! the entries its stream has made visible.

use ledger::InvariantReport;
use metrics::{LatencyHistogram, Series};
use routing::ReadStrategy;
use topology::{ms, Micros};

use crate::des::{self, Stop};
use crate::drill::{Builtin, DrillConfig, JpRole};
use crate::{judge, Cell, CellResult, EngineError, SimConfig};

/// How account popularity is distributed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Popularity {
    /// Every account equally likely.
    Uniform,
    /// Zipf with exponent `s` (> 0): account `k` (1-based) has weight `k^-s`.
    Zipf(f64),
}

/// Read-your-writes for sessions: what a replica does when it has not yet
/// applied the client's last charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadYourWrites {
    /// No session guarantee.
    Off,
    /// Wait for the entry if it will arrive within the bound, else forward.
    Wait,
    /// Forward the read to the leader at once.
    Forward,
}

/// The shares of each request type; they must sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Balance reads (default 0.70).
    pub balance: f64,
    /// Discount-eligibility reads (default 0.20).
    pub eligibility: f64,
    /// Charges (default 0.08).
    pub charge: f64,
    /// Top-ups (default 0.02).
    pub top_up: f64,
}

impl std::str::FromStr for Mix {
    type Err = EngineError;

    /// `B,E,C,T`: the shares of balance reads, eligibility reads, charges
    /// and top-ups (checked to sum to 1 by [`WalletConfig::validate`]).
    fn from_str(text: &str) -> Result<Mix, EngineError> {
        let bad = |reason: String| EngineError::BadWorkload {
            name: "mix",
            reason: format!("`{text}` {reason}"),
        };
        let parts: Vec<f64> = text
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("is not four numbers; write e.g. 0.7,0.2,0.08,0.02".into()))?;
        let [balance, eligibility, charge, top_up] = parts[..] else {
            return Err(bad(format!(
                "has {} shares; give four: balance,eligibility,charge,top-up",
                parts.len()
            )));
        };
        Ok(Mix {
            balance,
            eligibility,
            charge,
            top_up,
        })
    }
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            balance: 0.70,
            eligibility: 0.20,
            charge: 0.08,
            top_up: 0.02,
        }
    }
}

/// Parameters of the wallet workload. Amounts are in cents.
#[derive(Debug, Clone, PartialEq)]
pub struct WalletConfig {
    /// Number of accounts (default 2,000).
    pub accounts: u32,
    /// Which accounts requests touch (default Zipf 1.1).
    pub popularity: Popularity,
    /// Request mix (default 90 % reads).
    pub mix: Mix,
    /// Every account's opening top-up at time 0 (default 100.00).
    pub opening_balance: i64,
    /// Charge amounts, uniform in [min, max] (default 5.00–60.00).
    pub charge_amount: (i64, i64),
    /// Top-up amounts, uniform in [min, max] (default 10.00–100.00).
    pub top_up_amount: (i64, i64),
    /// Eligibility: a balance of at least this gets the discount (default 50.00).
    pub eligibility_threshold: i64,
    /// Probability that a charge attempt hits a slow path at the leader
    /// (lock contention, a pause) (default 0.03).
    pub slow_prob: f64,
    /// The slow path's extra delay, uniform in [0, max) (default 1500 ms).
    pub slow_max: Micros,
    /// Attempts per charge including the first (default 3).
    pub max_attempts: u32,
    /// Pause before a retry (default 100 ms).
    pub backoff: Micros,
    /// Heartbeat interval of the replication stream (default 100 ms).
    pub heartbeat: Micros,
    /// Session guarantee (default off).
    pub read_your_writes: ReadYourWrites,
    /// Longest a replica may hold a read waiting for a session's write (default 500 ms).
    pub ryw_wait_bound: Micros,
}

impl Default for WalletConfig {
    fn default() -> Self {
        WalletConfig {
            accounts: 2_000,
            popularity: Popularity::Zipf(1.1),
            mix: Mix::default(),
            opening_balance: 10_000,
            charge_amount: (500, 6_000),
            top_up_amount: (1_000, 10_000),
            eligibility_threshold: 5_000,
            slow_prob: 0.03,
            slow_max: ms(1500.0),
            max_attempts: 3,
            backoff: ms(100.0),
            heartbeat: ms(100.0),
            read_your_writes: ReadYourWrites::Off,
            ryw_wait_bound: ms(500.0),
        }
    }
}

/// Most accounts a wallet may have: memory per account is a few words in
/// every replica and session table.
pub const MAX_ACCOUNTS: u32 = 1_000_000;

/// Largest charge or top-up (cents): 10^9, so that even 10^9 top-ups on one
/// account cannot overflow an `i64` balance.
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// Largest opening balance (cents): 10^15, leaving room for 10^9 top-ups of
/// [`MAX_AMOUNT`] below `i64::MAX` (≈ 9.2 · 10^18).
pub const MAX_OPENING: i64 = 1_000_000_000_000_000;

fn bad(name: &'static str, reason: String) -> EngineError {
    EngineError::BadWorkload { name, reason }
}

impl WalletConfig {
    /// Checks every parameter, naming the first one that is wrong.
    pub fn validate(&self) -> Result<(), EngineError> {
        if !(1..=MAX_ACCOUNTS).contains(&self.accounts) {
            return Err(bad(
                "accounts",
                format!("{} is not from 1 to {MAX_ACCOUNTS}", self.accounts),
            ));
        }
        let m = self.mix;
        let shares = [
            ("mix.balance", m.balance),
            ("mix.eligibility", m.eligibility),
            ("mix.charge", m.charge),
            ("mix.top_up", m.top_up),
        ];
        for (name, v) in shares {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(name, format!("{v} is not a share in [0, 1]")));
            }
        }
        let sum: f64 = shares.iter().map(|s| s.1).sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(bad(
                "mix",
                format!("the shares sum to {sum}, not 1 (balance + eligibility + charge + top_up)"),
            ));
        }
        if let Popularity::Zipf(s) = self.popularity {
            if !(s > 0.0 && s <= 10.0) {
                return Err(bad(
                    "zipf",
                    format!("exponent {s} must be > 0 and at most 10"),
                ));
            }
        }
        for (name, (lo, hi)) in [
            ("charge_amount", self.charge_amount),
            ("top_up_amount", self.top_up_amount),
        ] {
            if lo <= 0 || hi < lo || hi > MAX_AMOUNT {
                return Err(bad(
                    name,
                    format!("range [{lo}, {hi}] must have 0 < min <= max <= {MAX_AMOUNT} cents"),
                ));
            }
        }
        if !(0..=MAX_OPENING).contains(&self.opening_balance) {
            return Err(bad(
                "opening_balance",
                format!("must be between 0 and {MAX_OPENING} cents"),
            ));
        }
        if !(0.0..=1.0).contains(&self.slow_prob) {
            return Err(bad(
                "slow_prob",
                format!("{} is not a probability", self.slow_prob),
            ));
        }
        if self.max_attempts == 0 {
            return Err(bad("max_attempts", "must be at least 1".into()));
        }
        if self.heartbeat == 0 {
            return Err(bad("heartbeat", "must be > 0".into()));
        }
        Ok(())
    }
}

/// Money counters of one wallet cell. Serialised as the keys of the
/// `wallet` object of `kata86 sim --format json`, in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct WalletStats {
    /// Charges clients started (one per idempotency key).
    pub charges: u64,
    /// Attempts sent, retries included.
    pub attempts: u64,
    /// Charges acknowledged as accepted.
    pub charges_ok: u64,
    /// Charges acknowledged as declined for insufficient funds.
    pub charges_declined_insufficient: u64,
    /// Charges refused at once because the leader could not be reached in time.
    pub charges_rejected_unavailable: u64,
    /// Charges whose every attempt timed out: the client never learned the outcome.
    pub charges_outcome_unknown: u64,
    /// Attempts the ledger recognised as repeats of a key and did not apply again.
    pub duplicates_suppressed: u64,
    /// Retries that reached the leader before their original did.
    pub retries_raced_original: u64,
    /// Top-ups applied.
    pub top_ups: u64,
    /// Top-ups the ledger refused (a balance would overflow). Not in the
    /// JSON (its schema has no such key).
    #[serde(skip)]
    pub top_ups_refused: u64,
    /// Reads held at a replica until the session's write arrived.
    pub ryw_waits: u64,
    /// Reads forwarded to the leader for read-your-writes.
    pub ryw_forwards: u64,
    /// Eligibility reads that found the account eligible.
    #[serde(rename = "eligible_reads")]
    pub eligible: u64,
    /// Entries in the final ledger.
    pub ledger_entries: u64,
    /// Reads whose data staleness exceeded the staleness reported: must be 0.
    pub staleness_order_violations: u64,
}

/// What the invariant check at the end of a wallet cell found, as figures
/// (the `wallet` object's keys after [`WalletStats`]'s).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct WalletMoney {
    /// Balances driven below zero (double spends).
    pub overspend_incidents: u64,
    /// Acknowledged charges missing from the final ledger.
    pub lost_acknowledged_charges: u64,
    /// Every breach found.
    pub invariant_breaches: u64,
    /// The first breach, if any.
    pub first_breach: Option<String>,
    /// Every money invariant held and no read reported less staleness than
    /// its data had.
    pub invariants_ok: bool,
}

impl WalletMoney {
    /// The figures of `invariants`, with the cell's `stats`.
    pub fn of(invariants: &InvariantReport, stats: &WalletStats) -> WalletMoney {
        use ledger::Breach;
        let count =
            |f: fn(&Breach) -> bool| invariants.breaches.iter().filter(|b| f(b)).count() as u64;
        WalletMoney {
            overspend_incidents: count(|b| matches!(b, Breach::NegativeBalance { .. })),
            lost_acknowledged_charges: count(|b| matches!(b, Breach::LostAcknowledged { .. })),
            invariant_breaches: invariants.breach_count,
            first_breach: invariants.first().map(|b| b.to_string()),
            invariants_ok: invariants.ok() && stats.staleness_order_violations == 0,
        }
    }
}

/// One wallet cell's figures. Serialises as the `wallet` object of
/// `kata86 sim --format json`: the money counters, then the invariant
/// figures (the latency and read figures are the cell's, see
/// [`crate::CellReport`]).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "WalletJson")]
pub struct WalletResult {
    /// Latency and read counters, as for the kata workload; `write` is the
    /// end-to-end latency of answered charges, retries included; `staleness`
    /// is `reported_staleness`, the watermark age the serving replica
    /// reported; staleness SLOs are judged on `data_age`.
    #[serde(skip)]
    pub base: CellResult,
    /// `data_age`: how old each read's answer really was for its account, µs.
    #[serde(skip)]
    pub data_age: LatencyHistogram,
    /// Money counters.
    #[serde(flatten)]
    pub stats: WalletStats,
    /// The invariant check's figures ([`WalletMoney::of`] `invariants`).
    #[serde(flatten)]
    pub money: WalletMoney,
    /// The invariant check run at the end.
    #[serde(skip)]
    pub invariants: InvariantReport,
}

/// The drill a wallet cell is: the simulation's topology, leader, lag and
/// policies, no fault, no flag, a fixed leader.
///
/// Its commit model is the kata workload's, not DESIGN's: the leader
/// acknowledges after its own commit (`async`), and replicas report
/// staleness by their wall clocks (true clocks here, so exactly). `sim`
/// measures read strategies against the lag law in steady state, and its
/// closed-form checks (docs/validation.md) hold for that model; the design's
/// majority commits and hlc watermarks are played by `kata86 drill`.
fn as_drill(cfg: &SimConfig, w: &WalletConfig, strategy: ReadStrategy) -> DrillConfig {
    let mut d = DrillConfig::builtin(Builtin::Baseline, JpRole::Absent);
    d.replication = crate::drill::Replication::Async;
    d.watermark = crate::drill::Watermark::Wall;
    d.name = "wallet".to_string();
    d.builtin = None;
    d.topology = cfg.topology.clone();
    d.leader = cfg.leader;
    d.lag = cfg.lag;
    d.strategy = strategy;
    d.read = cfg.read;
    d.write = cfg.write;
    d.rate = cfg.arrival_rate;
    d.workload = w.clone();
    d.slos = cfg.slos.clone();
    // The run stops after its requests; the duration only bounds timelines.
    d.duration = Micros::MAX / 4;
    // A wallet report shows no monitoring: no alert rules, one window.
    d.alerts = Vec::new();
    d.signal_window = Micros::MAX / 8;
    d
}

/// The wallet workload on a multi-leader write path (`kata86 sim --workload
/// wallet --write-path lww|crdt|escrow`): every site of the simulation at
/// once (a multi-leader path has no cell per site: its regions merge each
/// other's writes), no fault, for as long as `iterations` requests take each
/// site at the arrival rate. Reads are served by `bounded` unless the
/// caller sets another of [`crate::multi::READ_STRATEGIES`].
pub fn multi_config(
    cfg: &SimConfig,
    w: &WalletConfig,
    iterations: u64,
    path: crate::multi::WritePath,
) -> Result<crate::multi::MultiConfig, EngineError> {
    cfg.validate()?;
    if iterations == 0 {
        return Err(EngineError::ZeroIterations);
    }
    w.validate()?;
    let mut d = as_drill(cfg, w, ReadStrategy::Bounded);
    let seconds = iterations as f64 / cfg.arrival_rate;
    d.duration = (seconds * 1e6).min((Micros::MAX / 8) as f64) as Micros;
    let m = crate::multi::MultiConfig::new(d, path);
    m.validate()?;
    Ok(m)
}

/// Simulates `iterations` wallet requests from one cell's site on the event
/// core (a drill with no fault and a fixed leader), then lets replication
/// finish and checks every money invariant.
pub fn run_wallet_cell(
    cfg: &SimConfig,
    w: &WalletConfig,
    seed: u64,
    iterations: u64,
    cell: Cell,
    progress: &mut dyn FnMut(u64),
) -> WalletResult {
    let drill = as_drill(cfg, w, cell.strategy);
    let mut out = des::run(
        &drill,
        seed,
        &[cell.site],
        Stop::Requests(iterations),
        progress,
    );
    let mut all = out.result.outside.sites.swap_remove(cell.site.idx());
    all.merge(&out.result.during.sites[cell.site.idx()]);
    let c = out.counters;
    let stats = WalletStats {
        charges: c.charges,
        attempts: c.attempts,
        charges_ok: out.result.charges.acknowledged,
        charges_declined_insufficient: c.declined,
        charges_rejected_unavailable: c.rejected,
        charges_outcome_unknown: c.unknown,
        duplicates_suppressed: c.duplicates_suppressed,
        retries_raced_original: c.retries_raced_original,
        top_ups: c.top_ups,
        top_ups_refused: c.top_ups_refused,
        ryw_waits: c.ryw_waits,
        ryw_forwards: c.ryw_forwards,
        staleness_order_violations: c.staleness_order_violations,
        eligible: c.eligible,
        ledger_entries: out.ledger_entries,
    };
    let mut base = CellResult {
        cell,
        reads: all.reads,
        stale_reads: all.reads_behind,
        over_bound_reads: all.reads_over_bound,
        leader_reads: all.leader_reads,
        forced_to_leader: all.forced_to_leader,
        charges: stats.charges,
        charges_rejected: stats.charges_rejected_unavailable,
        charges_timed_out: stats.charges_outcome_unknown,
        simulated: out.simulated,
        read: all.read,
        write: all.write,
        staleness: all.reported_staleness,
        slo: Vec::new(),
    };
    // Staleness objectives are judged on the truth users saw, `data_age`.
    let data_age = all.data_age;
    base.slo = judge(&cfg.slos, cfg.topology.site_name(cell.site), |s| match s {
        Series::Staleness => &data_age,
        _ => base.series(s),
    });
    WalletResult {
        base,
        data_age,
        money: WalletMoney::of(&out.invariants, &stats),
        stats,
        invariants: out.invariants,
    }
}

/// Runs every cell of the wallet workload in order under one seed.
pub fn run_wallet(
    cfg: &SimConfig,
    w: &WalletConfig,
    seed: u64,
    iterations: u64,
    cells: &[Cell],
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Vec<WalletResult>, EngineError> {
    crate::check_run(cfg, iterations, cells)?;
    w.validate()?;
    if cells.iter().any(|c| c.strategy.is_leaderless()) {
        return Err(EngineError::BadWorkload {
            name: "strategy",
            reason: "the wallet replays a single leader's log; `quorum` is leaderless \
                     (use it on the kata loop): choose local, leader, fallback or bounded"
                .into(),
        });
    }
    Ok(cells
        .iter()
        .enumerate()
        .map(|(i, c)| run_wallet_cell(cfg, w, seed, iterations, *c, &mut |d| progress(i, d)))
        .collect())
}
