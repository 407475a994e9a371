//! The PBS model against closed forms, exact oracles and its own monotonicity.

use proptest::prelude::*;
use quorum::{samples, simulate, Config, Dist, Legs, Model, Report, K_MAX};

fn cfg(model: Model, n: usize, r: usize, w: usize, trials: u64, seed: u64) -> Config {
    Config {
        model,
        n,
        r,
        w,
        trials,
        seed,
        step_ms: 0.5,
        points: 201,
    }
}

fn preset(name: &str) -> Model {
    Model::preset(name).expect("a preset")
}

fn kata(n: usize) -> Model {
    let topo = topology::Topology::kata_with_jp();
    let sg = topo.region("SG").unwrap();
    let placement = quorum::round_robin(&topo, sg, n).unwrap();
    Model::topology("kata", &topo, &placement).unwrap()
}

fn run(c: &Config) -> Report {
    simulate(c).expect("a valid config")
}

/// Each trial's k-staleness hit is a Bernoulli draw, independent across
/// trials, with success probability p = the closed form when replicas are
/// identically distributed (every W-subset is equally likely to ack first and
/// every R-subset to answer first, independently). The simulated fraction is
/// then Binomial(T, p)/T with standard error sqrt(p(1−p)/T); 5 standard
/// errors leave a false alarm about once in 1.7 million runs (and the seed is
/// fixed, so the test is deterministic).
#[test]
fn k_staleness_matches_the_closed_form_within_five_standard_errors() {
    let trials = 200_000;
    for (name, n, r, w) in [
        ("lnkd-ssd", 3, 1, 1),
        ("lnkd-disk", 5, 2, 2),
        ("ymmr", 5, 1, 2),
    ] {
        let rep = run(&cfg(preset(name), n, r, w, trials, 7));
        assert_eq!(rep.k_staleness.len(), K_MAX);
        for k in &rep.k_staleness {
            let p = k.closed_form;
            let se = (p * (1.0 - p) / trials as f64).sqrt();
            assert!(
                (k.simulated - p).abs() <= 5.0 * se,
                "{name} N={n} R={r} W={w} k={}: {} vs {p} (5 SE = {})",
                k.k,
                k.simulated,
                5.0 * se
            );
        }
    }
}

#[test]
fn closed_form_is_one_for_strict_quorums_and_the_paper_value_otherwise() {
    assert_eq!(quorum::k_staleness_closed_form(3, 2, 2, 1), 1.0);
    // N=3, R=W=1: a random read replica misses the one acked replica 2/3 of the time.
    assert!((quorum::k_staleness_closed_form(3, 1, 1, 1) - 1.0 / 3.0).abs() < 1e-15);
    assert!((quorum::k_staleness_closed_form(3, 1, 1, 2) - (1.0 - 4.0 / 9.0)).abs() < 1e-15);
}

/// R + W > N: the read quorum contains a replica that acked, and that replica
/// received the write before the commit, so every read is consistent at t = 0.
#[test]
fn strict_quorums_are_consistent_at_t_zero() {
    let cases = [
        (preset("lnkd-ssd"), 3, 2, 2),
        (preset("ymmr"), 5, 3, 3),
        (preset("wan"), 3, 1, 3),
        (kata(3), 3, 2, 2),
        (kata(5), 5, 4, 2),
    ];
    for (m, n, r, w) in cases {
        let name = m.name.clone();
        let rep = run(&cfg(m, n, r, w, 50_000, 3));
        assert_eq!(rep.curve[0].p_consistent, 1.0, "{name} N={n} R={r} W={w}");
        assert_eq!(rep.t_visibility_ms, [0.0; 3], "{name} N={n} R={r} W={w}");
    }
}

/// Two exponential legs with a closed form. N = 2, R = W = 1; write legs
/// W_i ~ Exp(λ), response legs S_i ~ Exp(μ), A = R = 0.
///
/// The write commits at wt = min(W_1, W_2) (the ack is instant). The read goes
/// to the replica j with the smaller S_j, which is independent of the W's and
/// uniform over {1, 2}. With probability 1/2 it is the replica that acked
/// (W_j = wt: consistent at t = 0). Otherwise it is consistent iff
/// wt + t ≥ W_j = max(W_1, W_2), and by memorylessness max − min ~ Exp(λ):
///
///     P(consistent at t) = 1/2 + 1/2 (1 − e^{−λt}) = 1 − e^{−λt} / 2,
///     t-visibility at p = ln(1 / (2 (1 − p))) / λ.
///
/// Tolerances: each curve point is a binomial fraction (5 standard errors);
/// the quantile's standard error is sqrt(p(1−p)/T) / f(t_p) with density
/// f(t_p) = λ(1 − p), plus the histogram's 2^-8 relative bucket width.
#[test]
fn two_exponential_legs_match_their_closed_form() {
    let lambda = 0.5;
    let model = Model {
        name: "two-exp".into(),
        legs: Legs {
            w: Dist::exp(lambda),
            a: Dist::ZERO,
            r: Dist::ZERO,
            s: Dist::exp(2.0),
        },
        offsets: vec![vec![0.0, 0.0]],
    };
    let trials = 400_000u64;
    let rep = run(&cfg(model, 2, 1, 1, trials, 11));
    for &quorum::CurvePoint {
        t_ms: t,
        p_consistent: p,
    } in &rep.curve
    {
        let exact = 1.0 - (-lambda * t).exp() / 2.0;
        let se = (exact * (1.0 - exact) / trials as f64).sqrt();
        assert!(
            (p - exact).abs() <= 5.0 * se + 1e-12,
            "t={t}: {p} vs {exact}"
        );
    }
    for (p, got) in [0.99f64, 0.999].into_iter().zip(rep.t_visibility_ms) {
        let exact = (1.0 / (2.0 * (1.0 - p))).ln() / lambda;
        let se = (p * (1.0 - p) / trials as f64).sqrt() / (lambda * (1.0 - p));
        let tol = 5.0 * se + exact / 256.0;
        assert!(
            (got - exact).abs() <= tol,
            "p={p}: {got} vs {exact} ± {tol}"
        );
    }
}

/// Nearest-rank order statistic of `v` at `per_10k` / 10000.
fn exact_quantile(v: &mut [f64], per_10k: u64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = (v.len() as u64 * per_10k).div_ceil(10_000).max(1);
    v[rank as usize - 1]
}

/// The histogram's figures against the exact order statistics of the same
/// trials: never below, and above by less than one bucket (2^-8 relative).
#[test]
fn percentiles_match_an_exact_oracle_on_small_runs() {
    for (m, n, r, w, trials) in [
        (preset("lnkd-disk"), 3, 1, 2, 997u64),
        (preset("wan"), 3, 2, 1, 5_000),
        (kata(4), 4, 2, 1, 70_001),
    ] {
        let c = cfg(m, n, r, w, trials, 5);
        let rep = run(&c);
        let all = samples(&c).unwrap();
        assert_eq!(all.len() as u64, trials);
        let check = |mut v: Vec<f64>, per_10k: u64, got: f64, what: &str| {
            let exact = exact_quantile(&mut v, per_10k);
            assert!(
                got >= exact && got <= exact * (1.0 + 1.0 / 256.0),
                "{what} at {per_10k}: {got} vs exact {exact}"
            );
        };
        let reads: Vec<f64> = all.iter().map(|s| s.read_ms).collect();
        let writes: Vec<f64> = all.iter().map(|s| s.write_ms).collect();
        let ths: Vec<f64> = all.iter().map(|s| s.threshold_ms).collect();
        for (q, got_r, got_w) in [
            (5_000, rep.read_ms.p50, rep.write_ms.p50),
            (9_900, rep.read_ms.p99, rep.write_ms.p99),
            (9_990, rep.read_ms.p999, rep.write_ms.p999),
        ] {
            check(reads.clone(), q, got_r, "read");
            check(writes.clone(), q, got_w, "write");
        }
        for (q, got) in [9_900, 9_990, 9_999].into_iter().zip(rep.t_visibility_ms) {
            if got == 0.0 {
                assert_eq!(exact_quantile(&mut ths.clone(), q), 0.0);
            } else {
                check(ths.clone(), q, got, "threshold");
            }
        }
        // The curve is exact: the fraction of thresholds at or below t.
        for &quorum::CurvePoint {
            t_ms: t,
            p_consistent: p,
        } in &rep.curve
        {
            let below = ths.iter().filter(|&&x| x <= t + 1e-9 * t).count();
            assert_eq!(p, below as f64 / trials as f64, "curve at t={t}");
        }
    }
}

#[test]
fn the_thread_count_does_not_change_the_report() {
    let c = cfg(preset("ymmr"), 5, 1, 2, 300_000, 9);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run(&c));
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| run(&c));
    assert_eq!(one, three);
}

fn any_model() -> impl Strategy<Value = (Model, usize)> {
    prop_oneof![
        Just((preset("lnkd-ssd"), 7)),
        Just((preset("lnkd-disk"), 5)),
        Just((preset("ymmr"), 6)),
        Just((preset("wan"), 3)),
        Just((kata(6), 6)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        rng_seed: proptest::test_runner::RngSeed::Fixed(86),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Common random numbers: a larger R or W sees the very same delays, so
    /// every trial's threshold can only fall (a larger read quorum is a
    /// superset; a later commit leaves less to propagate). The quantiles and
    /// the curve then move the right way exactly, not just statistically.
    #[test]
    fn more_r_or_w_never_needs_more_time(
        (model, n) in any_model(),
        r in 1usize..7,
        w in 1usize..7,
        seed in 0u64..1000,
    ) {
        let (r, w) = (r.min(n), w.min(n));
        let base = run(&cfg(model.clone(), n, r, w, 20_000, seed));
        let mut more = Vec::new();
        if r < n {
            more.push(run(&cfg(model.clone(), n, r + 1, w, 20_000, seed)));
        }
        if w < n {
            more.push(run(&cfg(model, n, r, w + 1, 20_000, seed)));
        }
        for m in &more {
            for (a, b) in m.t_visibility_ms.iter().zip(base.t_visibility_ms) {
                prop_assert!(*a <= b, "{a} > {b}");
            }
            for (a, b) in m.curve.iter().zip(&base.curve) {
                prop_assert!(a.p_consistent >= b.p_consistent);
            }
        }
        for pair in base.curve.windows(2) {
            prop_assert!(pair[1].p_consistent >= pair[0].p_consistent, "curve falls: {pair:?}");
        }
    }
}
