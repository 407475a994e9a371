//! Verdicts per site and phase (issue #19): the indicators add up to what
//! the windows counted, failed requests are bad events, and the error budget
//! a fault consumes matches its closed form.

use engine::drill::sli::{Phase, Verdict};
use engine::drill::{run_drill, run_drills, DrillConfig, JpRole, Policy, Replication};
use metrics::Series;
use topology::{ms, Micros};

fn builtin(name: &str) -> DrillConfig {
    DrillConfig::builtin(name.parse().expect("built-in drill"), JpRole::Replica)
}

fn index(cfg: &DrillConfig, name: &str) -> usize {
    cfg.slos
        .iter()
        .position(|s| s.name == name)
        .expect("a default objective")
}

fn verdict<'a>(vs: &'a [Verdict], site: &str, slo: &str, fault: bool) -> &'a Verdict {
    vs.iter()
        .find(|v| v.site == site && v.slo == slo && matches!(v.phase, Phase::Fault { .. }) == fault)
        .unwrap_or_else(|| panic!("no verdict {site} {slo} fault={fault}"))
}

/// Every read sent is a valid read-availability event in exactly one phase
/// (one fault, so the phases do not overlap), and the valid and good counts
/// equal what the drill's windows counted, read by read.
#[test]
fn indicators_add_up_to_the_windows_counts() {
    for seed in [1, 86] {
        let cfg = builtin("region-down");
        let r = run_drill(&cfg, seed).expect("valid drill");
        let avail = index(&cfg, "read_availability");
        for (s, sli) in r.sli.iter().enumerate() {
            let (d, o) = (&r.during.sites[s], &r.outside.sites[s]);
            let sent = d.reads + d.failed_reads + o.reads + o.failed_reads;
            let answered = d.reads + o.reads;
            let valid = sli.steady[avail].valid + sli.faults[0].tallies[avail].valid;
            let good = sli.steady[avail].good + sli.faults[0].tallies[avail].good;
            assert_eq!(valid, sent, "site {s} seed {seed}");
            assert_eq!(good, answered, "site {s} seed {seed}");
            assert_eq!(sli.valid_total[avail], sent);
        }
        // Charges: one valid event per charge sent, whatever its fate.
        let charge = index(&cfg, "charge_availability");
        let all: u64 = r
            .sli
            .iter()
            .map(|x| x.steady[charge].valid + x.faults[0].tallies[charge].valid)
            .sum();
        assert_eq!(all, r.charges.sent, "seed {seed}");
        let answered: u64 = r
            .sli
            .iter()
            .map(|x| x.steady[charge].good + x.faults[0].tallies[charge].good)
            .sum();
        assert_eq!(
            answered,
            r.charges.sent - r.charges.rejected - r.charges.unknown_outcome,
            "seed {seed}: a charge is answered unless refused or timed out"
        );
    }
}

/// A latency objective's good events are the answered requests under its
/// target: checked against the histograms, which may place a value in a
/// bucket reaching across the target (3 significant digits), so the exact
/// count lies between the buckets wholly below and those reaching above.
#[test]
fn latency_good_events_match_the_histogram() {
    let cfg = builtin("region-down");
    let r = run_drill(&cfg, 7).expect("valid drill");
    let j = index(&cfg, "charge_p95");
    let target: Micros = ms(500.0);
    for (s, sli) in r.sli.iter().enumerate() {
        let good = sli.steady[j].good + sli.faults[0].tallies[j].good;
        let mut h = r.during.sites[s].write.clone();
        h.merge(&r.outside.sites[s].write);
        let below = h.count_at_most(target - 1);
        let slack = h.count_at_most(target + 1000) - h.count_at_most(target - 1000);
        assert!(
            good + slack >= below && good <= below + slack,
            "site {s}: {good} good against {below} under 500 ms (slack {slack})"
        );
    }
}

/// `kata86 drill region-down` (the default design of the built-in drill):
/// VN's reads and charges fail their objectives inside the impact window
/// because requests failed, the fault consumed a budget that is reported,
/// and every objective passes in steady state.
#[test]
fn region_down_fails_inside_the_window_and_passes_in_steady_state() {
    let cfg = builtin("region-down");
    let runs = run_drills(&cfg, 86, 6, &|| {}).expect("valid drill");
    let vs = &runs.verdicts;
    for slo in [
        "read_availability",
        "charge_availability",
        "read_p95",
        "charge_p95",
    ] {
        let v = verdict(vs, "VN", slo, true);
        assert!(!v.share_met, "{slo}: {v:?}");
        assert!(v.good < v.valid);
        let b = v.budget.expect("a fault judges its budget");
        assert!(b.consumed_ppm.p50.is_some_and(|p| p > 0), "{slo}: {b:?}");
    }
    for v in vs.iter().filter(|v| v.phase == Phase::Steady) {
        assert!(v.pass, "steady state must pass: {v:?}");
    }
    for v in vs {
        assert_eq!(v.pass, v.rejudged(), "{v:?}");
        assert!(v.good <= v.valid);
    }
    // The default read objective is VN's only.
    assert!(vs.iter().all(|v| v.slo != "read_p95" || v.site == "VN"));
    assert!(runs.not_applied.is_empty());
}

/// With writes refused for the whole outage, each second of it spends a
/// second of charges: the budget consumed is the window's length over
/// `(1 − 0.999) × 30 days`, times the share of its charges that failed.
#[test]
fn refused_writes_spend_the_budget_of_their_closed_form() {
    let mut cfg = builtin("region-down");
    cfg.policy = Policy::RejectWrites;
    cfg.replication = Replication::Async;
    let r = run_drill(&cfg, 86).expect("valid drill");
    let j = index(&cfg, "charge_availability");
    let budget_s = 0.001 * cfg.budget.period as f64 / 1e6;
    for (s, sli) in r.sli.iter().enumerate() {
        let w = &sli.faults[0];
        let t = &w.tallies[j];
        let window_s = (w.to_s - w.from_s) as f64;
        let rate = sli.valid_total[j] as f64 / sli.seconds as f64;
        // The closed form, from the window's length and bad share alone.
        let expected = window_s * (t.bad() as f64 / t.valid as f64) / budget_s;
        let measured = t.bad() as f64 / (0.001 * rate * cfg.budget.period as f64 / 1e6);
        assert!(
            (measured / expected - 1.0).abs() < 0.10,
            "site {s}: consumed {measured} against {expected}"
        );
        // The outage (120 s) is most of the window, and nearly every charge
        // in it failed.
        assert!(t.bad() as f64 > 0.5 * t.valid as f64, "site {s}: {t:?}");
    }
    let runs = run_drills(&cfg, 86, 3, &|| {}).expect("valid drill");
    let v = verdict(&runs.verdicts, "VN", "charge_availability", true);
    let p = v.budget.expect("budget").consumed_ppm.p50.expect("finite") as f64 / 1e6;
    // 120 s of refused charges of a 2,592 s budget, plus the wait for
    // recovery: between 4.6 % and 10 %.
    assert!((0.046..0.10).contains(&p), "{p}");
}

/// A staleness objective on the reported measure judges the watermark age,
/// on data_age the true one: a lag spike under `local` reads moves both,
/// and the counts differ where the two ages do.
#[test]
fn a_staleness_objective_names_its_measure() {
    let mut cfg = builtin("lag-spike");
    cfg.strategy = routing::ReadStrategy::Local;
    let base = cfg.slos[index(&cfg, "staleness_p95")].clone();
    assert_eq!(base.series, Series::Staleness);
    let mut reported = base
        .clone()
        .with_measure(metrics::StalenessMeasure::Reported);
    reported.name = "reported_p95".into();
    cfg.slos.push(reported);
    let runs = run_drills(&cfg, 86, 2, &|| {}).expect("valid drill");
    let a = verdict(&runs.verdicts, "US", "staleness_p95", true);
    let b = verdict(&runs.verdicts, "US", "reported_p95", true);
    assert_eq!(a.valid, b.valid, "both count the answered reads");
    assert!(a.good < a.valid && b.good < b.valid, "{a:?} {b:?}");
    assert_eq!(b.measure, Some(metrics::StalenessMeasure::Reported));
}

/// "Charges not completed" (compare's figure) against its closed form:
/// with writes refused for the whole outage, every charge a site sends while
/// SG is down fails, so the count is the site's charge rate times the
/// outage, within Poisson noise.
#[test]
fn refused_writes_leave_every_charge_of_the_outage_undone() {
    let mut cfg = builtin("region-down");
    cfg.policy = Policy::RejectWrites;
    let outage = cfg.faults[0].end - cfg.faults[0].start;
    let expected = cfg.rate * cfg.workload.mix.charge * outage as f64 / 1e6;
    for seed in [1, 86] {
        let r = run_drill(&cfg, seed).expect("valid drill");
        for (s, &n) in r.recovery.not_completed_by_site.iter().enumerate() {
            // 4 sigma of a Poisson count, plus the charges of the fault's
            // first second that the entry region answered before it knew.
            let slack = 4.0 * expected.sqrt() + cfg.rate;
            assert!(
                (n as f64 - expected).abs() < slack,
                "site {s} seed {seed}: {n} undone, {expected} expected"
            );
        }
    }
}
