//! Calibrations against real PostgreSQL. They need the server binaries: when
//! these are missing each test prints why and passes, unless
//! `KATA86_REQUIRE_POSTGRES=1` (CI), in which case it fails.

use std::time::Duration;

use calibrate::{calibrate, cluster, Mode, Options, World};

/// `true` when the test may run; prints the reason it skips otherwise.
fn postgres_available() -> bool {
    match cluster::find_bin(None) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("KATA86_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("KATA86_REQUIRE_POSTGRES=1 but: {e}");
            }
            eprintln!("skipped: {e}");
            false
        }
    }
}

fn seconds(var: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// Fitted on three replicas async; semi-sync and majority on three and five
/// replicas (and async on five) predicted out of sample, each within its
/// tolerance.
///
/// A prediction is judged against the measured quantile's order-statistic
/// interval, from the fit's own interval (`calibrate::model::within`): one
/// site's semi-sync charges in a 10 s window are about 30, whose p95 is
/// their second largest, which one stall of the shared machine moves.
/// These are still wall-clock measurements of real servers beside other
/// work (a parallel build, another test binary), so a calibration that misses is
/// measured once more from scratch (fresh clusters, fresh fit), and the test
/// fails when the second misses too; both attempts' misses are printed.
#[test]
fn out_of_sample_predictions_hold() {
    if !postgres_available() {
        return;
    }
    let mut failures = Vec::new();
    for attempt in 1..=2 {
        match calibrate_once() {
            Ok(()) => {
                if attempt > 1 {
                    eprintln!("attempt 1 missed, attempt 2 held:\n{}", failures.join("\n"));
                }
                return;
            }
            Err(misses) => {
                eprintln!("attempt {attempt} out of tolerance:\n{misses}");
                failures.push(format!("attempt {attempt}:\n{misses}"));
            }
        }
    }
    panic!("out of tolerance twice:\n{}", failures.join("\n"));
}

/// One calibration: `Err` lists the predictions out of tolerance.
fn calibrate_once() -> Result<(), String> {
    let opts = Options {
        worlds: vec![World::three(), World::five()],
        modes: Mode::ALL.to_vec(),
        duration: seconds("KATA86_CALIBRATE_SECONDS", 10),
        ..Options::default()
    };
    let report = calibrate(&opts, &mut |line| eprintln!("{line}")).expect("calibration runs");
    let mut misses = Vec::new();
    for c in &report.configurations {
        for r in &c.rows {
            eprintln!(
                "{:6} {:10} {:11} {:3} {:4} n {:6} measured {:9.3} ({:.1}–{:.1}) predicted {:>9} {}",
                c.world,
                c.mode.name(),
                r.metric.name(),
                r.at,
                r.quantile,
                r.samples,
                r.measured_ms,
                r.measured_interval_ms[0],
                r.measured_interval_ms[1],
                r.predicted_ms
                    .map(|p| format!("{p:.3}"))
                    .unwrap_or_default(),
                match r.within {
                    Some(true) => "ok",
                    Some(false) => "MISS",
                    None => "",
                }
            );
            if r.within == Some(false) {
                misses.push(format!(
                    "{} {} {} {} {}: measured {:.1} ms ({:.1}–{:.1}, {} samples), predicted {:.1} ms \
                     ({:.1}–{:.1}), tolerance {:.1} ms",
                    c.world,
                    c.mode.name(),
                    r.metric.name(),
                    r.at,
                    r.quantile,
                    r.measured_ms,
                    r.measured_interval_ms[0],
                    r.measured_interval_ms[1],
                    r.samples,
                    r.predicted_ms.unwrap_or(f64::NAN),
                    r.predicted_interval_ms.map_or(f64::NAN, |p| p[0]),
                    r.predicted_interval_ms.map_or(f64::NAN, |p| p[1]),
                    r.tolerance_ms.unwrap_or(f64::NAN)
                ));
            }
        }
    }
    eprintln!("fitted: {:?}", report.fitted);
    assert!(report.judged > 0);
    assert_eq!(
        report.configurations.iter().filter(|c| c.in_sample).count(),
        1
    );
    if misses.is_empty() {
        Ok(())
    } else {
        Err(misses.join("\n"))
    }
}

/// Dropping a cluster stops every server and removes its directory.
#[test]
fn drop_stops_servers_and_removes_the_directory() {
    if !postgres_available() {
        return;
    }
    let bin = cluster::find_bin(None).unwrap();
    let specs = [cluster::StandbySpec {
        region: "US".into(),
        one_way: Duration::from_millis(5),
    }];
    let c = cluster::Cluster::start(&bin, "SG", &specs).expect("cluster starts");
    let dir = c.dir().to_path_buf();
    let pids: Vec<u32> = std::iter::once(c.primary())
        .chain(c.standbys())
        .filter_map(|s| s.pid())
        .collect();
    let ports: Vec<u16> = std::iter::once(c.primary())
        .chain(c.standbys())
        .map(|s| s.port)
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(dir.join("primary").is_dir());
    drop(c);
    assert!(!dir.exists(), "{} left behind", dir.display());
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "postmaster {pid} still there"
        );
    }
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still open"
        );
    }
}
