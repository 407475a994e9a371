//! Times `quorum::simulate` without the CLI: `cargo run --release -p quorum
//! --example pbs_speed -- N R W TRIALS` (lnkd-ssd), printing wall time and
//! a fingerprint of the report to check byte-identity across changes.
fn main() {
    let a: Vec<u64> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap())
        .collect();
    let (n, r, w, trials) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3]);
    let cfg = quorum::Config {
        model: quorum::Model::preset("lnkd-ssd").unwrap(),
        n,
        r,
        w,
        trials,
        seed: 86,
        step_ms: 1.0,
        points: 101,
    };
    let t0 = std::time::Instant::now();
    let rep = quorum::simulate(&cfg).unwrap();
    let dt = t0.elapsed();
    println!(
        "{:?} {:?} {:?}",
        rep.read_ms, rep.write_ms, rep.t_visibility_ms
    );
    println!("{:?}", rep.k_staleness);
    println!("curve[0..3] {:?}", &rep.curve[..3]);
    println!(
        "{:.3} s, {:.1} ns/trial",
        dt.as_secs_f64(),
        dt.as_secs_f64() * 1e9 / trials as f64
    );
}
