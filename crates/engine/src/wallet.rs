//! The wallet workload: balance and eligibility reads, charges with
//! idempotent retries and top-ups against a real ledger, replicated to every
//! follower through its [`FollowerStream`].
//!
//! A discrete-event loop: client requests arrive as a Poisson process; a
//! charge reaches the leader later (half its path, plus a slow-path pause on
//! some attempts) and is applied to the [`Ledger`] at that time, in time order
//! with everything else. A client whose attempt overruns the deadline gives up
//! and retries with the same idempotency key, so a retry can race its
//! original. Reads are served by the replica the strategy chooses, which holds
//! exactly the entries its stream has applied.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ledger::{Acknowledged, ChargeOutcome as Booked, IdemKey, InvariantReport, Ledger, Replica};
use metrics::LatencyHistogram;
use replication::rng::{below, exponential, substream, unit, Rng};
use replication::{FollowerStream, LagProcess};
use routing::{ChargeOutcome, ReadStrategy, Router, Snapshot};
use topology::{ms, Micros};

use crate::{judge, Cell, CellResult, EngineError, Network, SimConfig, PROGRESS_EVERY};

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
        if self.accounts == 0 {
            return Err(bad("accounts", "must be at least 1".into()));
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
            if !(s.is_finite() && s > 0.0) {
                return Err(bad("zipf", format!("exponent {s} must be > 0")));
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

/// Money counters of one wallet cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Top-ups the ledger refused (a balance would overflow).
    pub top_ups_refused: u64,
    /// Reads held at a replica until the session's write arrived.
    pub ryw_waits: u64,
    /// Reads forwarded to the leader for read-your-writes.
    pub ryw_forwards: u64,
    /// Reads whose data staleness exceeded the staleness reported: must be 0.
    pub staleness_order_violations: u64,
    /// Eligibility reads that found the account eligible.
    pub eligible: u64,
    /// Entries in the final ledger.
    pub ledger_entries: u64,
}

/// One wallet cell's figures.
#[derive(Debug, Clone)]
pub struct WalletResult {
    /// Latency, staleness and read counters, as for the kata workload; `write`
    /// is the end-to-end latency of acknowledged charges, retries included.
    pub base: CellResult,
    /// How old each read's answer really was for its account, µs.
    pub data_staleness: LatencyHistogram,
    /// Money counters.
    pub stats: WalletStats,
    /// The invariant check run at the end.
    pub invariants: InvariantReport,
}

/// A charge attempt on its way to the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Attempt {
    key: u64,
    account: u32,
    amount: i64,
    /// When the client first sent this charge.
    first_sent: Micros,
    /// One-way time from the client to the leader.
    out: Micros,
    /// Return time from the leader to the client after commit.
    back: Micros,
    /// Whether the client is still waiting for this attempt's answer.
    awaited: bool,
    /// Whether this is a retry.
    retry: bool,
}

/// Events on the leader's side, ordered by time then sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A charge attempt reaches the leader.
    Charge(Attempt),
    /// A client retries a charge it gave up on.
    Retry { attempt: Attempt, number: u32 },
    /// A top-up reaches the leader.
    TopUp { account: u32, amount: i64 },
}

struct Accounts {
    /// Cumulative weights for Zipf; empty for uniform.
    cdf: Vec<f64>,
    n: u32,
}

impl Accounts {
    fn new(n: u32, p: Popularity) -> Accounts {
        let cdf = match p {
            Popularity::Uniform => Vec::new(),
            Popularity::Zipf(s) => {
                let mut acc = 0.0;
                let mut cdf: Vec<f64> = (1..=n)
                    .map(|k| {
                        acc += (k as f64).powf(-s);
                        acc
                    })
                    .collect();
                for c in &mut cdf {
                    *c /= acc;
                }
                cdf
            }
        };
        Accounts { cdf, n }
    }

    fn draw(&self, rng: &mut Rng) -> u32 {
        if self.cdf.is_empty() {
            below(rng, self.n as u64) as u32
        } else {
            let u = unit(rng);
            (self.cdf.partition_point(|&c| c <= u) as u32).min(self.n - 1)
        }
    }
}

fn amount(rng: &mut Rng, (lo, hi): (i64, i64)) -> i64 {
    lo + below(rng, (hi - lo + 1) as u64) as i64
}

/// The whole state of one wallet cell while it runs.
struct World<'a> {
    cfg: &'a SimConfig,
    w: &'a WalletConfig,
    router: Router<'a>,
    ledger: Ledger,
    streams: Vec<Option<FollowerStream>>,
    replicas: Vec<Replica>,
    events: BinaryHeap<Reverse<(Micros, u64, Event)>>,
    seq: u64,
    acknowledged: Vec<Acknowledged>,
    /// Per account: lsn of the session's last acknowledged charge.
    session: Vec<u64>,
    rng: Rng,
    stats: WalletStats,
    res: CellResult,
    data_staleness: LatencyHistogram,
}

impl World<'_> {
    fn push(&mut self, at: Micros, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, e)));
    }

    /// Appends have happened at the leader: ship them to every follower.
    fn ship_from(&mut self, first: u64) {
        for lsn in first..=self.ledger.last_lsn() {
            let at = self.ledger.entry(lsn).expect("lsn in range").committed_at;
            for s in self.streams.iter_mut().flatten() {
                s.ship(lsn, at);
            }
        }
    }

    /// Runs leader-side events due by `t`, in time order.
    fn run_events_until(&mut self, t: Micros) {
        while let Some(&Reverse((at, _, e))) = self.events.peek() {
            if at > t {
                break;
            }
            self.events.pop();
            let before = self.ledger.last_lsn() + 1;
            match e {
                Event::Charge(a) => self.book_charge(at, a),
                Event::Retry { attempt, number } => self.send_charge(at, attempt, number),
                Event::TopUp { account, amount } => {
                    // Validation caps amounts so that no balance can overflow
                    // in a run the clock can express; a refused top-up would
                    // be counted, never a crash.
                    match self.ledger.top_up(account, amount, at) {
                        Ok(_) => self.stats.top_ups += 1,
                        Err(_) => self.stats.top_ups_refused += 1,
                    }
                }
            }
            self.ship_from(before);
        }
    }

    /// Brings follower `r`'s ledger replica to what its stream has applied
    /// by `t`, or, with `None`, to everything the stream has applied.
    fn sync_replica(&mut self, r: usize, t: Option<Micros>) {
        if let Some(s) = self.streams[r].as_mut() {
            if let Some(t) = t {
                s.advance(t);
            }
            let target = s.applied_lsn();
            let rep = &mut self.replicas[r];
            for lsn in rep.applied_lsn() + 1..=target {
                rep.apply(self.ledger.entry(lsn).expect("shipped entries exist"))
                    .expect("streams deliver in order");
            }
        }
    }

    fn book_charge(&mut self, at: Micros, a: Attempt) {
        let reply = self
            .ledger
            .charge(a.account, a.amount, IdemKey(a.key), at)
            .expect("charge parameters are validated and keys are unique per request");
        if reply.duplicate {
            self.stats.duplicates_suppressed += 1;
        } else if a.retry {
            self.stats.retries_raced_original += 1;
        }
        if !a.awaited {
            return;
        }
        let done = at + self.router.write_policy().commit + a.back;
        self.res.write.record(done - a.first_sent);
        match reply.outcome {
            Booked::Accepted { lsn } => {
                self.stats.charges_ok += 1;
                self.acknowledged.push(Acknowledged {
                    key: IdemKey(a.key),
                    lsn,
                    account: a.account,
                    amount: a.amount,
                });
                let s = &mut self.session[a.account as usize];
                *s = (*s).max(lsn);
            }
            Booked::Declined { .. } => self.stats.charges_declined_insufficient += 1,
        }
    }

    /// Sends attempt `number` (1-based) of a charge at `t`: it reaches the
    /// leader after half its path (plus a slow-path pause on some attempts);
    /// if its answer cannot be back by the deadline the client gives up and
    /// schedules a retry with the same key.
    fn send_charge(&mut self, t: Micros, mut a: Attempt, number: u32) {
        self.stats.attempts += 1;
        let slow = if unit(&mut self.rng) < self.w.slow_prob {
            below(&mut self.rng, self.w.slow_max)
        } else {
            0
        };
        let policy = self.router.write_policy();
        let arrive = t + a.out + slow;
        let answer = arrive + policy.commit + a.back;
        a.awaited = answer - t <= policy.deadline;
        a.retry = number > 1;
        if !a.awaited {
            if number < self.w.max_attempts {
                let again = t + policy.deadline + self.w.backoff;
                self.push(
                    again,
                    Event::Retry {
                        attempt: a,
                        number: number + 1,
                    },
                );
            } else {
                self.stats.charges_outcome_unknown += 1;
            }
        }
        self.push(arrive, Event::Charge(a));
    }

    /// Serves one read at `t` for `account`.
    fn read(
        &mut self,
        t: Micros,
        account: u32,
        eligibility: bool,
        snap: &Snapshot<'_>,
        strategy: ReadStrategy,
    ) {
        let mut out = self.router.read(strategy, snap);
        let leader = self.cfg.leader;
        let r = out.served_by.idx();
        let mut applied = self.replicas[r].applied_lsn();
        let mut served_at = t;
        let wanted = self.session[account as usize];
        if out.served_by != leader && wanted > applied {
            let arrives = self.streams[r].as_ref().and_then(|s| s.apply_time(wanted));
            // By `at` the replica has applied at least the session's write, so
            // its watermark is at least that write's commit.
            let mark = self.streams[r].as_ref().map_or(0, |s| s.watermark());
            let committed = self.ledger.entry(wanted).map_or(0, |e| e.committed_at);
            let after_wait = |at: Micros| at - mark.max(committed);
            // Waiting must not break the strategy's own staleness limit.
            let limit = match strategy {
                ReadStrategy::Bounded => self.cfg.read.max_staleness,
                ReadStrategy::Fallback => self.cfg.read.fallback_threshold,
                _ => Micros::MAX,
            };
            match (self.w.read_your_writes, arrives) {
                (ReadYourWrites::Off, _) => {}
                (ReadYourWrites::Wait, Some(at))
                    if at - t <= self.w.ryw_wait_bound && after_wait(at) <= limit =>
                {
                    self.stats.ryw_waits += 1;
                    out.latency += at - t;
                    out.staleness = after_wait(at);
                    served_at = at;
                    applied = wanted;
                }
                _ => {
                    self.stats.ryw_forwards += 1;
                    out.latency = snap.site_rtt[snap.entry.idx()] + snap.entry_rtt[leader.idx()];
                    out.served_by = leader;
                    out.staleness = 0;
                }
            }
        }
        let data = if out.served_by == leader {
            0
        } else {
            self.ledger
                .first_entry_of_account_after(account, applied)
                .map_or(0, |e| served_at.saturating_sub(e.committed_at))
        };
        if data > out.staleness {
            self.stats.staleness_order_violations += 1;
        }
        let res = &mut self.res;
        res.reads += 1;
        res.read.record(out.latency);
        res.staleness.record(out.staleness);
        self.data_staleness.record(data);
        res.stale_reads += (out.staleness > 0) as u64;
        res.over_bound_reads += (out.staleness > self.cfg.read.max_staleness) as u64;
        res.leader_reads += (out.served_by == leader) as u64;
        res.forced_to_leader += out.forced_to_leader as u64;
        if eligibility {
            let balance = if out.served_by == leader {
                self.ledger.balance(account)
            } else {
                // The replica's balance, plus this account's entries it will
                // have applied by the time it answers (after a wait).
                let mut balance = self.replicas[r].balance(account);
                let mut cursor = self.replicas[r].applied_lsn();
                while let Some(e) = self.ledger.first_entry_of_account_after(account, cursor) {
                    if e.lsn > applied {
                        break;
                    }
                    balance += e.delta();
                    cursor = e.lsn;
                }
                balance
            };
            self.stats.eligible += (balance >= self.w.eligibility_threshold) as u64;
        }
    }
}

/// Simulates `iterations` wallet requests from one cell's site, then lets
/// replication finish and checks every money invariant.
pub fn run_wallet_cell(
    cfg: &SimConfig,
    w: &WalletConfig,
    seed: u64,
    iterations: u64,
    cell: Cell,
    progress: &mut dyn FnMut(u64),
) -> WalletResult {
    let t = &cfg.topology;
    let site = cell.site.0 as u64;
    let entry = t.home(cell.site);
    let mut ledger = Ledger::new(w.accounts).expect("validated: at least one account");
    for a in 0..w.accounts {
        if w.opening_balance > 0 {
            ledger
                .top_up(a, w.opening_balance, 0)
                .expect("valid opening top-up");
        }
    }
    let streams = t
        .region_ids()
        .map(|r| {
            (r != cfg.leader).then(|| {
                FollowerStream::new(
                    LagProcess::new(cfg.lag, substream(seed, "lag", r.0 as u64)),
                    w.heartbeat,
                )
            })
        })
        .collect();
    let mut world = World {
        cfg,
        w,
        router: Router::new(t, cfg.read, cfg.write),
        ledger,
        streams,
        replicas: t.region_ids().map(|_| Replica::new(w.accounts)).collect(),
        events: BinaryHeap::new(),
        seq: 0,
        acknowledged: Vec::new(),
        session: vec![0; w.accounts as usize],
        rng: substream(seed, "workload", site),
        stats: WalletStats::default(),
        res: CellResult::empty(cell),
        data_staleness: LatencyHistogram::new(),
    };
    world.ship_from(1);
    let accounts = Accounts::new(w.accounts, w.popularity);
    let mut arrivals = substream(seed, "arrivals", site);
    let mut net = Network::new(t, cell.site, entry, substream(seed, "net", site));
    let mut staleness = vec![0; t.region_count()];
    let mean_gap = 1e6 / cfg.arrival_rate;
    let m = w.mix;
    let mut now = 0.0;
    let mut key = 0;
    for i in 1..=iterations {
        now += exponential(&mut arrivals, mean_gap);
        let at = now as Micros;
        world.run_events_until(at);
        for (r, st) in staleness.iter_mut().enumerate() {
            world.sync_replica(r, Some(at));
            *st = world.streams[r].as_ref().map_or(0, |s| s.staleness(at));
        }
        net.draw();
        let snap = net.snapshot(cfg.leader, &staleness);
        let account = accounts.draw(&mut world.rng);
        let u = unit(&mut world.rng);
        if u < m.balance + m.eligibility {
            world.read(at, account, u >= m.balance, &snap, cell.strategy);
        } else if u < m.balance + m.eligibility + m.charge {
            let amount = amount(&mut world.rng, w.charge_amount);
            key += 1;
            world.stats.charges += 1;
            match world.router.charge(&snap) {
                ChargeOutcome::Rejected { .. } => world.stats.charges_rejected_unavailable += 1,
                ChargeOutcome::Committed { .. } | ChargeOutcome::TimedOut { .. } => {
                    let path = snap.site_rtt[entry.idx()] + snap.entry_rtt[cfg.leader.idx()];
                    let attempt = Attempt {
                        key: (site << 48) | key,
                        account,
                        amount,
                        first_sent: at,
                        out: path / 2,
                        back: path - path / 2,
                        awaited: true,
                        retry: false,
                    };
                    world.send_charge(at, attempt, 1);
                }
            }
        } else {
            let amount = amount(&mut world.rng, w.top_up_amount);
            let path = snap.site_rtt[entry.idx()] + snap.entry_rtt[cfg.leader.idx()];
            world.push(at + path / 2, Event::TopUp { account, amount });
        }
        if i % PROGRESS_EVERY == 0 {
            progress(i);
        }
    }
    // Traffic stops: finish what is in flight, let every follower catch up.
    world.run_events_until(Micros::MAX);
    for r in 0..staleness.len() {
        if let Some(s) = world.streams[r].as_mut() {
            s.drain();
        }
        world.sync_replica(r, None);
    }
    progress(iterations);
    let followers: Vec<&Replica> = (0..staleness.len())
        .filter(|&r| world.streams[r].is_some())
        .map(|r| &world.replicas[r])
        .collect();
    let invariants = ledger::check(&world.ledger, &world.acknowledged, &followers);
    let mut stats = world.stats;
    stats.ledger_entries = world.ledger.last_lsn();
    let mut base = world.res;
    base.charges = stats.charges;
    base.charges_rejected = stats.charges_rejected_unavailable;
    base.charges_timed_out = stats.charges_outcome_unknown;
    base.simulated = now as Micros;
    base.slo = judge(&cfg.slos, t.site_name(cell.site), |s| base.series(s));
    WalletResult {
        base,
        data_staleness: world.data_staleness,
        stats,
        invariants,
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
    Ok(cells
        .iter()
        .enumerate()
        .map(|(i, c)| run_wallet_cell(cfg, w, seed, iterations, *c, &mut |d| progress(i, d)))
        .collect())
}
