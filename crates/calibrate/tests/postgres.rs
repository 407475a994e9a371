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
#[test]
fn out_of_sample_predictions_hold() {
    if !postgres_available() {
        return;
    }
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
                "{:6} {:10} {:11} {:3} {:4} measured {:9.3} predicted {:>9} {}",
                c.world,
                c.mode.name(),
                r.metric.name(),
                r.at,
                r.quantile,
                r.measured_ms,
                r.predicted_ms.map(|p| format!("{p:.3}")).unwrap_or_default(),
                match r.within {
                    Some(true) => "ok",
                    Some(false) => "MISS",
                    None => "",
                }
            );
            if r.within == Some(false) {
                misses.push(format!(
                    "{} {} {} {} {}: measured {:.1} ms, predicted {:.1} ms (tolerance {:.1} ms)",
                    c.world,
                    c.mode.name(),
                    r.metric.name(),
                    r.at,
                    r.quantile,
                    r.measured_ms,
                    r.predicted_ms.unwrap_or(f64::NAN),
                    r.tolerance_ms.unwrap_or(f64::NAN)
                ));
            }
        }
    }
    eprintln!("fitted: {:?}", report.fitted);
    assert!(report.judged > 0);
    assert!(misses.is_empty(), "out of tolerance:\n{}", misses.join("\n"));
    assert_eq!(report.configurations.iter().filter(|c| c.in_sample).count(), 1);
}
