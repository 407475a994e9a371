//! The long-run share of time a follower stream is more than 2 s stale, under
//! the default episodic lag, against the renewal-reward closed form.

use replication::rng::{exponential, substream};
use replication::{EpisodicLag, FollowerStream, LagModel, LagProcess, Link, Normal};
use topology::ms;

#[test]
fn share_of_time_over_two_seconds_stale_matches_renewal_reward() {
    // Default episodes (gap ~ Exp(180 s), stall D ~ U[2, 8] s, k = 3), normal
    // apply 60 ms without jitter, on a 90 ms link with 5 ms fsync.
    let m = EpisodicLag {
        normal: Normal {
            base: ms(60.0),
            jitter: 0,
        },
        ..EpisodicLag::default()
    };
    let link = Link {
        one_way: ms(90.0),
        jitter: 0,
        fsync: ms(5.0),
    };
    let heartbeat = ms(20.0);
    let span = 200_000_000_000u64; // 2e11 µs: about 1070 episodes
    let mean_read_gap = ms(20.0); // Poisson reads: about 1e7 samples
    let x = ms(2000.0);

    let lag = LagProcess::new(LagModel::Episodic(m), substream(17, "lag", 0));
    let mut s = FollowerStream::new(link, lag, heartbeat, substream(17, "net", 0));
    let mut reads = substream(17, "reads", 0);
    let (mut t, mut n, mut over) = (0u64, 0u64, 0u64);
    loop {
        t += exponential(&mut reads, mean_read_gap as f64) as u64;
        if t >= span {
            break;
        }
        s.advance(t);
        n += 1;
        over += (s.staleness(t) > x) as u64;
    }
    let share = over as f64 / n as f64;

    // Closed form, in seconds. Outside episodes a reader sees the constant
    // c = one_way + apply = 0.15 s plus the heartbeat's age, so it is never
    // over 2 s. In an episode of stall D the delay of an item sent at s falls
    // linearly from D at the onset to 0 at the drain end, over D·k/(k−1), so
    // the staleness exceeds x for (D − y)·k/(k−1) of the episode, y = x − c,
    // when heartbeats are dense. With heartbeats every h at a uniform phase,
    // averaging the heartbeat's age over each window adds h/2:
    // reward = (D − y + h/2)·k/(k−1) (D ≥ 2 s > y always). The cycle is the
    // episode plus a quiet gap: D·k/(k−1) + G. Renewal-reward:
    // share = E[reward] / E[cycle].
    let k = m.catch_up;
    let f = k / (k - 1.0);
    let (c, h, y) = (0.15, heartbeat as f64 / 1e6, 2.0 - 0.15);
    let (dmin, dmax) = (m.stall_min as f64 / 1e6, m.stall_max as f64 / 1e6);
    let g = m.mean_gap as f64 / 1e6;
    let ed = (dmin + dmax) / 2.0;
    assert!(dmin > y && y > h && c < x as f64 / 1e6);
    let cycle = ed * f + g;
    let expected = (ed - y + h / 2.0) * f / cycle;

    // Error: renewal-reward CLT over the cycles in the span. Per cycle the
    // noise is R − πL = (1 − π)·f·D − π·G + const, with Var(D) = (dmax −
    // dmin)²/12 and Var(G) = g²; the share's sd is sqrt(Var/cycles)/E[L].
    // Sampling the path at n Poisson points adds π(1 − π)/n.
    let cycles = span as f64 / 1e6 / cycle;
    let var_cycle =
        ((1.0 - expected) * f).powi(2) * (dmax - dmin).powi(2) / 12.0 + (expected * g).powi(2);
    let sd_renewal = (var_cycle / cycles).sqrt() / cycle;
    let sd_sampling = (expected * (1.0 - expected) / n as f64).sqrt();
    let sd = (sd_renewal.powi(2) + sd_sampling.powi(2)).sqrt();
    let tolerance = 4.0 * sd;
    assert!(
        (share - expected).abs() <= tolerance,
        "share {share:.5}, renewal-reward {expected:.5}, 4 sd = {tolerance:.5} \
         ({n} reads, {cycles:.0} cycles)"
    );
    // The old stream (staleness climbing at 0.5 s/s for 2D, then dropping at
    // once) spends 2(D − y) over x per episode: this test tells them apart.
    let old_law = 2.0 * (ed - y) / cycle;
    assert!((old_law - expected).abs() > 2.0 * tolerance, "{old_law}");
    eprintln!(
        "share {share:.5}, expected {expected:.5}, sd {sd:.5}, old law {old_law:.5}, \
         {n} reads, {cycles:.0} cycles"
    );
}
