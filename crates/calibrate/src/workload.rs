//! The charge workload and the samplers, played against a running [`Cluster`]
//! for one configuration, and what they measured.
//!
//! Per client site: a *writer* that charges through the site's delay line to
//! the primary (closed loop, an exponential think time between charges) and,
//! when the site's home region holds a standby, a *reader* that reads a
//! balance there through the site's delay line to it. Per standby: a sampler
//! of the heartbeat row's age (reported staleness). On the primary: the
//! heartbeat writer (every 100 ms by default, `synchronous_commit = local` so
//! that its cadence never waits for a standby) and a sampler of
//! `pg_stat_replication`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use metrics::LatencyHistogram;
use replication::rng::{below, exponential, substream};

use crate::cluster::Cluster;
use crate::CalibrateError;

/// The schema: accounts with a balance and a version (one per applied
/// charge), the ledger keyed by idempotency key, the heartbeat row, and the
/// charge as one server-side function, hence one transaction and one round
/// trip: idempotency check, balance check under a row lock, insert, update.
pub const SCHEMA: &str = "
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL);
CREATE TABLE ledger (idem_key text PRIMARY KEY, account int NOT NULL, version bigint NOT NULL, amount bigint NOT NULL);
CREATE TABLE heartbeat (id int PRIMARY KEY, ts timestamptz NOT NULL);
INSERT INTO heartbeat VALUES (1, clock_timestamp());
CREATE FUNCTION charge(k text, acct int, amt bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE bal bigint; ver bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM ledger WHERE idem_key = k) THEN RETURN 'duplicate'; END IF;
  SELECT balance, version INTO bal, ver FROM accounts WHERE id = acct FOR UPDATE;
  IF bal IS NULL THEN RETURN 'no-account'; END IF;
  IF bal < amt THEN RETURN 'declined'; END IF;
  INSERT INTO ledger VALUES (k, acct, ver + 1, -amt);
  UPDATE accounts SET balance = bal - amt, version = ver + 1 WHERE id = acct;
  RETURN 'ok';
END $$;
";

/// Opening balance of every account, in cents: charges never drain it.
const OPENING_CENTS: i64 = 1_000_000_000_000;

/// One client site as the workload sees it.
#[derive(Debug, Clone)]
pub struct SitePlan {
    /// Site name.
    pub name: String,
    /// Its delay line to the primary (the model's charge path).
    pub to_primary: SocketAddr,
    /// Its delay line to its home region's standby, if the home holds one.
    pub to_standby: Option<SocketAddr>,
}

/// What one configuration is played with.
#[derive(Debug, Clone)]
pub struct WorkloadPlan {
    /// The sites.
    pub sites: Vec<SitePlan>,
    /// How long to measure.
    pub duration: Duration,
    /// Accounts each site charges (its own: site i charges accounts
    /// `i·n + 1 ..= i·n + n`); reads pick any account of any site uniformly.
    pub accounts: u32,
    /// Mean think time between one site's charges.
    pub think: Duration,
    /// Mean time between one reader's reads (after the previous answer).
    pub read_gap: Duration,
    /// Mean time between two staleness samples on a standby.
    pub sample_gap: Duration,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Seed of the think times, accounts and sampling gaps.
    pub seed: u64,
    /// Distinguishes this run's idempotency keys from earlier runs'.
    pub run: u32,
}

/// Histograms of one run (µs values).
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Commit latency per site, as the site's client saw it.
    pub commit: Vec<LatencyHistogram>,
    /// Data age of each site's balance reads on its home standby (empty for a
    /// site whose home is the primary).
    pub data_age: Vec<LatencyHistogram>,
    /// Reported staleness (heartbeat age) per standby.
    pub staleness: Vec<LatencyHistogram>,
    /// `pg_stat_replication` write, flush and replay lag per standby.
    pub pg_lag: Vec<[LatencyHistogram; 3]>,
    /// Charges answered `ok`, per site.
    pub charges_ok: Vec<u64>,
    /// Charges that failed or were refused, all sites.
    pub charge_errors: u64,
}

fn db(what: &'static str) -> impl FnOnce(postgres::Error) -> CalibrateError {
    move |source| CalibrateError::Db {
        what: what.to_string(),
        source,
    }
}

/// Connects as `postgres` to the server (or delay line) at `addr`.
pub fn connect(addr: SocketAddr) -> Result<postgres::Client, CalibrateError> {
    let conn = format!(
        "host={} port={} user=postgres dbname=postgres connect_timeout=10",
        addr.ip(),
        addr.port()
    );
    postgres::Client::connect(&conn, postgres::NoTls).map_err(db("connect"))
}

/// Creates the schema and `accounts` accounts (all sites'), and waits until every standby
/// has replayed it.
pub fn install(cluster: &Cluster, accounts: u32) -> Result<(), CalibrateError> {
    let mut c = connect(cluster.primary().addr())?;
    c.batch_execute(SCHEMA).map_err(db("create the schema"))?;
    c.execute(
        "INSERT INTO accounts SELECT g, $1, 0 FROM generate_series(1, $2) g",
        &[&OPENING_CENTS, &(accounts as i32)],
    )
    .map_err(db("open the accounts"))?;
    wait_caught_up(cluster)
}

/// Waits until every standby has replayed the primary's current WAL.
pub fn wait_caught_up(cluster: &Cluster) -> Result<(), CalibrateError> {
    let mut p = connect(cluster.primary().addr())?;
    let lsn: String = p
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .map_err(db("read the WAL position"))?
        .get(0);
    for s in cluster.standbys() {
        let mut c = connect(s.addr())?;
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let done: bool = c
                .query_one(
                    "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&lsn],
                )
                .map_err(db("read a standby's replay position"))?
                .get(0);
            if done {
                break;
            }
            if Instant::now() > end {
                return Err(CalibrateError::Timeout(format!(
                    "standby {} did not replay {lsn} within 30 s",
                    s.region
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// Sets `synchronous_standby_names` and waits until `pg_stat_replication`
/// shows it in force (`quorum` standbys for `ANY k`, none otherwise).
pub fn set_sync_names(cluster: &Cluster, names: &str) -> Result<(), CalibrateError> {
    let mut c = connect(cluster.primary().addr())?;
    let escaped = names.replace('\'', "''");
    c.batch_execute(&format!(
        "ALTER SYSTEM SET synchronous_standby_names = '{escaped}'"
    ))
    .map_err(db("set synchronous_standby_names"))?;
    c.batch_execute("SELECT pg_reload_conf()")
        .map_err(db("reload the configuration"))?;
    let want_quorum = if names.is_empty() {
        0
    } else {
        cluster.standbys().len() as i64
    };
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let row = c
            .query_one(
                "SELECT current_setting('synchronous_standby_names'),
                        count(*) FILTER (WHERE sync_state = 'quorum'),
                        count(*) FILTER (WHERE state = 'streaming')
                   FROM pg_stat_replication",
                &[],
            )
            .map_err(db("read pg_stat_replication"))?;
        let (setting, quorum, streaming): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if setting == names && quorum == want_quorum && streaming == cluster.standbys().len() as i64
        {
            return Ok(());
        }
        if Instant::now() > end {
            return Err(CalibrateError::Timeout(format!(
                "synchronous_standby_names = '{names}' not in force after 30 s \
                 ({quorum} quorum standbys, {streaming} streaming)"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A read of one account's balance on a standby: which version it saw and
/// when (the standby's clock, µs since the epoch). Reads are the one series
/// kept as samples rather than in a histogram: a read's data age is known
/// only once the primary's committed history is read at the end of the run.
/// They are 16 bytes each, a few thousand per site and run.
struct Read {
    account: i32,
    version: i64,
    at_us: i64,
}

/// Plays the workload for `plan.duration` and returns what it measured.
pub fn play(cluster: &Cluster, plan: &WorkloadPlan) -> Result<Measured, CalibrateError> {
    let stop = AtomicBool::new(false);
    let n_sites = plan.sites.len();
    let n_standbys = cluster.standbys().len();
    // Every thread connects first, then waits here, then measures.
    let barrier = Barrier::new(1 + n_sites * 2 + n_standbys + 2);
    let primary = cluster.primary().addr();
    let names: Vec<String> = cluster
        .standbys()
        .iter()
        .map(|s| s.app_name.clone())
        .collect();
    let result = std::thread::scope(|scope| {
        let writers: Vec<_> = plan
            .sites
            .iter()
            .enumerate()
            .map(|(i, site)| {
                let (stop, barrier) = (&stop, &barrier);
                scope.spawn(move || writer(site, i, plan, stop, barrier))
            })
            .collect();
        let readers: Vec<_> = plan
            .sites
            .iter()
            .enumerate()
            .map(|(i, site)| {
                let (stop, barrier) = (&stop, &barrier);
                scope.spawn(move || reader(site, i, plan, stop, barrier))
            })
            .collect();
        let samplers: Vec<_> = cluster
            .standbys()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (stop, barrier, addr) = (&stop, &barrier, s.addr());
                scope.spawn(move || staleness_sampler(addr, i, plan, stop, barrier))
            })
            .collect();
        let hb = {
            let (stop, barrier) = (&stop, &barrier);
            scope.spawn(move || heartbeat(primary, plan, stop, barrier))
        };
        let lag = {
            let (stop, barrier, names) = (&stop, &barrier, &names);
            scope.spawn(move || pg_lag_sampler(primary, names, stop, barrier))
        };
        barrier.wait();
        let start = Instant::now();
        while start.elapsed() < plan.duration {
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::SeqCst);
        let writers: Vec<_> = writers.into_iter().map(|h| join(h.join())).collect();
        let readers: Vec<_> = readers.into_iter().map(|h| join(h.join())).collect();
        let samplers: Vec<_> = samplers.into_iter().map(|h| join(h.join())).collect();
        let hb = join(hb.join());
        let lag = join(lag.join());
        (writers, readers, samplers, hb, lag)
    });
    let (writers, readers, samplers, hb, lag) = result;
    hb?;
    let mut m = Measured::default();
    for w in writers {
        let (h, ok, errors) = w?;
        m.commit.push(h);
        m.charges_ok.push(ok);
        m.charge_errors += errors;
    }
    let history = commit_history(primary, plan.run)?;
    for r in readers {
        let reads = r?;
        let mut h = LatencyHistogram::new();
        for read in &reads {
            h.record(data_age_us(&history, read));
        }
        m.data_age.push(h);
    }
    for s in samplers {
        m.staleness.push(s?);
    }
    m.pg_lag = lag?;
    Ok(m)
}

/// One site's charges: closed loop, exponential think time, uniform account.
fn writer(
    site: &SitePlan,
    index: usize,
    plan: &WorkloadPlan,
    stop: &AtomicBool,
    barrier: &Barrier,
) -> Result<(LatencyHistogram, u64, u64), CalibrateError> {
    let conn = connect(site.to_primary).and_then(|mut c| {
        let st = c
            .prepare("SELECT charge($1, $2, $3)")
            .map_err(db("prepare the charge"))?;
        Ok((c, st))
    });
    barrier.wait();
    let (mut c, st) = conn?;
    let mut rng = substream(plan.seed, "calibrate-writer", index as u64);
    let mut h = LatencyHistogram::new();
    let (mut ok, mut errors) = (0u64, 0u64);
    let think_ms = plan.think.as_secs_f64() * 1000.0;
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let account = (index as u32 * plan.accounts) as i32
            + 1
            + below(&mut rng, plan.accounts as u64) as i32;
        let amount = 1 + below(&mut rng, 100) as i64;
        let key = format!("r{}-{}-{n}", plan.run, site.name);
        n += 1;
        let start = Instant::now();
        let answer = c.query_one(&st, &[&key, &account, &amount]);
        let took = start.elapsed();
        match answer.map(|row| row.get::<_, String>(0)) {
            Ok(s) if s == "ok" => {
                ok += 1;
                h.record(took.as_micros() as u64);
            }
            _ => errors += 1,
        }
        sleep_unless_stopped(
            Duration::from_secs_f64(exponential(&mut rng, think_ms) / 1000.0),
            stop,
        );
    }
    Ok((h, ok, errors))
}

/// One site's balance reads on its home standby.
fn reader(
    site: &SitePlan,
    index: usize,
    plan: &WorkloadPlan,
    stop: &AtomicBool,
    barrier: &Barrier,
) -> Result<Vec<Read>, CalibrateError> {
    let Some(addr) = site.to_standby else {
        barrier.wait();
        return Ok(Vec::new());
    };
    let conn = connect(addr).and_then(|mut c| {
        let st = c
            .prepare(
                "SELECT id, version, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
                   FROM accounts ORDER BY id",
            )
            .map_err(db("prepare the balance read"))?;
        Ok((c, st))
    });
    barrier.wait();
    let (mut c, st) = conn?;
    let mut rng = substream(plan.seed, "calibrate-reader", index as u64);
    let gap_ms = plan.read_gap.as_secs_f64() * 1000.0;
    let mut reads = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        // Every account's balance in one statement: one sample per account
        // at this instant, each a read of a uniformly chosen account.
        if let Ok(rows) = c.query(&st, &[]) {
            reads.extend(rows.iter().map(|row| Read {
                account: row.get(0),
                version: row.get(1),
                at_us: row.get(2),
            }));
        }
        sleep_unless_stopped(
            Duration::from_secs_f64(exponential(&mut rng, gap_ms) / 1000.0),
            stop,
        );
    }
    Ok(reads)
}

/// The age of the heartbeat row on one standby, at random instants.
fn staleness_sampler(
    addr: SocketAddr,
    index: usize,
    plan: &WorkloadPlan,
    stop: &AtomicBool,
    barrier: &Barrier,
) -> Result<LatencyHistogram, CalibrateError> {
    let conn = connect(addr).and_then(|mut c| {
        let st = c
            .prepare(
                "SELECT (extract(epoch FROM clock_timestamp() - ts) * 1000000)::bigint
                   FROM heartbeat WHERE id = 1",
            )
            .map_err(db("prepare the heartbeat read"))?;
        Ok((c, st))
    });
    barrier.wait();
    let (mut c, st) = conn?;
    let mut rng = substream(plan.seed, "calibrate-staleness", index as u64);
    let gap_ms = plan.sample_gap.as_secs_f64() * 1000.0;
    let mut h = LatencyHistogram::new();
    // Skip the first heartbeat period: the heartbeat writer starts with the
    // barrier, before which the row may be old.
    sleep_unless_stopped(plan.heartbeat * 2, stop);
    while !stop.load(Ordering::SeqCst) {
        if let Ok(row) = c.query_one(&st, &[]) {
            h.record(row.get::<_, i64>(0).max(0) as u64);
        }
        sleep_unless_stopped(
            Duration::from_secs_f64(exponential(&mut rng, gap_ms) / 1000.0),
            stop,
        );
    }
    Ok(h)
}

/// Stamps the heartbeat row every period, on a fixed schedule.
fn heartbeat(
    primary: SocketAddr,
    plan: &WorkloadPlan,
    stop: &AtomicBool,
    barrier: &Barrier,
) -> Result<(), CalibrateError> {
    let conn = connect(primary).and_then(|mut c| {
        c.batch_execute("SET synchronous_commit = local")
            .map_err(db("set the heartbeat's commit level"))?;
        let st = c
            .prepare("UPDATE heartbeat SET ts = clock_timestamp() WHERE id = 1")
            .map_err(db("prepare the heartbeat"))?;
        Ok((c, st))
    });
    barrier.wait();
    let (mut c, st) = conn?;
    let start = Instant::now();
    let mut k = 0u32;
    while !stop.load(Ordering::SeqCst) {
        c.execute(&st, &[]).map_err(db("write the heartbeat"))?;
        k += 1;
        let next = start + plan.heartbeat * k;
        let now = Instant::now();
        if next > now {
            sleep_unless_stopped(next - now, stop);
        }
    }
    Ok(())
}

/// `pg_stat_replication`'s write, flush and replay lag per standby, every
/// 200 ms.
fn pg_lag_sampler(
    primary: SocketAddr,
    names: &[String],
    stop: &AtomicBool,
    barrier: &Barrier,
) -> Result<Vec<[LatencyHistogram; 3]>, CalibrateError> {
    let conn = connect(primary);
    barrier.wait();
    let mut c = conn?;
    let mut out: Vec<[LatencyHistogram; 3]> = names
        .iter()
        .map(|_| {
            [
                LatencyHistogram::new(),
                LatencyHistogram::new(),
                LatencyHistogram::new(),
            ]
        })
        .collect();
    while !stop.load(Ordering::SeqCst) {
        let rows = c
            .query(
                "SELECT application_name::text,
                        (extract(epoch FROM write_lag) * 1000000)::bigint,
                        (extract(epoch FROM flush_lag) * 1000000)::bigint,
                        (extract(epoch FROM replay_lag) * 1000000)::bigint
                   FROM pg_stat_replication",
                &[],
            )
            .map_err(db("read pg_stat_replication"))?;
        for row in rows {
            let name: String = row.get(0);
            let Some(i) = names.iter().position(|n| *n == name) else {
                continue;
            };
            for (k, h) in out[i].iter_mut().enumerate() {
                if let Some(v) = row.get::<_, Option<i64>>(k + 1) {
                    h.record(v.max(0) as u64);
                }
            }
        }
        sleep_unless_stopped(Duration::from_millis(200), stop);
    }
    Ok(out)
}

fn join<T>(r: std::thread::Result<Result<T, CalibrateError>>) -> Result<T, CalibrateError> {
    r.unwrap_or_else(|_| Err(CalibrateError::Config("a workload thread panicked".into())))
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// The primary's committed history of this run: per account, each version's
/// commit time (µs since the epoch, from `track_commit_timestamp`).
type History = BTreeMap<i32, BTreeMap<i64, i64>>;

fn commit_history(primary: SocketAddr, run: u32) -> Result<History, CalibrateError> {
    let mut c = connect(primary)?;
    let rows = c
        .query(
            "SELECT account, version,
                    (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000000)::bigint
               FROM ledger WHERE idem_key LIKE $1",
            &[&format!("r{run}-%")],
        )
        .map_err(db("read the committed history"))?;
    let mut h = History::new();
    for row in rows {
        if let Some(ts) = row.get::<_, Option<i64>>(2) {
            h.entry(row.get(0)).or_default().insert(row.get(1), ts);
        }
    }
    Ok(h)
}

/// How old the balance a read returned is: 0 if no entry of the account
/// committed before the read is missing from it, else the age of the oldest
/// missing one (the version after the one it saw).
fn data_age_us(history: &History, read: &Read) -> u64 {
    let next = history
        .get(&read.account)
        .and_then(|versions| versions.get(&(read.version + 1)));
    match next {
        Some(&committed) if committed < read.at_us => (read.at_us - committed) as u64,
        _ => 0,
    }
}

/// Median time of a durable 8 KiB write (`fdatasync`) in `dir`, µs: what the
/// model calls the commit's fsync, measured on the disk the servers use.
pub fn probe_fsync(dir: &std::path::Path, writes: u32) -> Result<u64, CalibrateError> {
    use std::io::Write as _;
    use std::os::unix::fs::FileExt as _;
    let path = dir.join("fsync-probe");
    let mut f =
        std::fs::File::create(&path).map_err(CalibrateError::io("create the fsync probe"))?;
    let block = [0u8; 8192];
    // Preallocated and overwritten in place, as WAL segments are (and as
    // pg_test_fsync does): no size change for the sync to carry.
    f.write_all(&block)
        .and_then(|_| f.sync_all())
        .map_err(CalibrateError::io("write the fsync probe"))?;
    let mut h = LatencyHistogram::new();
    for _ in 0..writes {
        let start = Instant::now();
        f.write_all_at(&block, 0)
            .and_then(|_| f.sync_data())
            .map_err(CalibrateError::io("write the fsync probe"))?;
        h.record(start.elapsed().as_micros() as u64);
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(h.value_at_quantile(0.5))
}
