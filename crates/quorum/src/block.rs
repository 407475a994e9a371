//! `simulate`'s engine: trials a block of [`BLOCK`] at a time, leg by leg.
//!
//! Why blocks: one trial at a time, each leg was a branchy scalar draw (two
//! serially dependent PCG steps, a ziggurat, the Pareto branch) followed by
//! an insertion sort; the profile was flat over that chain. Here every leg
//! type of every replica is drawn for a whole block into a column of
//! `BLOCK` values by straight-line, branch-free loops the compiler
//! vectorises ([`Leg::fill`]: four short passes rather than one long one,
//! so the out-of-order core overlaps iterations), from random words produced by [`LANES`]
//! independent xoshiro256++ generators stepped side by side (vector
//! instructions across the lanes, [`Lanes`]), and the quorums are found by
//! branch-free rank counting over the columns ([`quorum`]).
//!
//! Each leg costs one 64-bit word: its top 52 bits are a uniform `u`; the
//! leg takes the Pareto branch when `u < p`, and the branch's own uniform is
//! `u` rescaled within it (`(p − u)/p` or `(1 − u)/(1 − p)`, exactly uniform
//! given the branch), inverted through `ln` ([`ln_reduce`], [`ln_finish`])
//! and, for the Pareto branch, `exp` ([`exp_reduce`], [`exp_finish`]):
//! `E = −ln V`, Pareto `xm · exp(E/alpha)`, exponential `E · mean`.

use rand::RngCore;
use replication::rng::{substream, Rng};

use crate::{grid_index, Config, Dist, Sample, Tally, K_MAX};

/// Trials per block (a multiple of [`LANES`]).
pub(crate) const BLOCK: usize = 128;
/// Independent generators per chunk, stepped in turn.
pub(crate) const LANES: usize = 8;

type Col = [f64; BLOCK];
type Words = [u64; BLOCK];

/// [`LANES`] xoshiro256++ generators (Blackman and Vigna) stepped side by
/// side. A step is adds, shifts and xors on four words per lane, which the
/// compiler runs as vector instructions across the lanes: a word costs a
/// few instructions, where a 128-bit PCG step is a 64×64-bit multiply chain
/// of a dozen. Chunk `c`'s lane `l` is seeded with four words of
/// `substream(seed, "pbs-lanes", c · LANES + l)`; word `j` of a fill comes
/// from lane `j % LANES`, so the words depend on the chunk alone.
#[derive(Clone)]
pub(crate) struct Lanes {
    s: [[u64; LANES]; 4],
    /// The two rotations' left and right shift counts, one per lane
    /// (23, 41, 45, 19). Kept as data: written as constants, the compiler
    /// spots the rotations and, vector units having no 64-bit rotate, keeps
    /// the whole step scalar; as per-lane counts it uses variable shifts.
    rot: [[u64; LANES]; 4],
}

impl Lanes {
    pub(crate) fn new(seed: u64, chunk: u64) -> Lanes {
        let mut s = [[0u64; LANES]; 4];
        for l in 0..LANES {
            let mut g: Rng = substream(seed, "pbs-lanes", chunk * LANES as u64 + l as u64);
            for word in s.iter_mut() {
                word[l] = g.next_u64();
            }
            // The all-zero state is xoshiro's one fixed point.
            if s.iter().all(|w| w[l] == 0) {
                s[0][l] = 1;
            }
        }
        Lanes {
            s,
            rot: [23, 41, 45, 19].map(|k| [k; LANES]),
        }
    }

    /// Fills `out` with the next words.
    #[inline(always)]
    pub(crate) fn fill(&mut self, out: &mut Words) {
        // The states as locals, so they stay in registers.
        let [mut s0, mut s1, mut s2, mut s3] = self.s;
        let [a, b, c, d] = self.rot;
        for group in out.chunks_exact_mut(LANES) {
            for l in 0..LANES {
                let x = s0[l].wrapping_add(s3[l]);
                group[l] = ((x << a[l]) | (x >> b[l])).wrapping_add(s0[l]);
                let t = s1[l] << 17;
                s2[l] ^= s0[l];
                s3[l] ^= s1[l];
                s1[l] ^= s2[l];
                s0[l] ^= s3[l];
                s2[l] ^= t;
                s3[l] = (s3[l] << c[l]) | (s3[l] >> d[l]);
            }
        }
        self.s = [s0, s1, s2, s3];
    }
}

/// A [`Dist`] prepared for [`Leg::draw`]: reciprocals instead of divisions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leg {
    p: f64,
    inv_p: f64,
    inv_q: f64,
    xm: f64,
    inv_alpha: f64,
    mean: f64,
}

impl Leg {
    pub(crate) fn new(d: &Dist) -> Leg {
        let p = d.pareto_p.clamp(0.0, 1.0);
        Leg {
            p,
            inv_p: if p > 0.0 { 1.0 / p } else { 0.0 },
            inv_q: if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 },
            xm: d.xm,
            inv_alpha: 1.0 / d.alpha,
            mean: d.exp_mean,
        }
    }

    /// One leg from one random word, without a branch: both branches are
    /// computed and one is selected. The very operations [`Leg::fill`]
    /// runs on each word, in one go (tested to the bit); for the tests.
    #[cfg(test)]
    pub(crate) fn draw(&self, word: u64) -> f64 {
        let (k, f, s) = ln_reduce(self.v(word));
        let e = Self::e(k, f, s);
        let (r, sc) = exp_reduce(e * self.inv_alpha);
        self.select(word, e, r, sc)
    }

    /// The uniform `u` in [0, 1) of a word, a multiple of 2^-52.
    #[inline(always)]
    fn u(word: u64) -> f64 {
        f64::from_bits(word >> 12 | 0x3ff0_0000_0000_0000) - 1.0
    }

    /// The branch's own uniform `v`: given the branch, uniform on (0, 1]
    /// (never 0: u < p in the first case, u < 1 in the second).
    #[inline(always)]
    fn v(&self, word: u64) -> f64 {
        let u = Self::u(word);
        if u < self.p {
            (self.p - u) * self.inv_p
        } else {
            (1.0 - u) * self.inv_q
        }
    }

    /// `E = −ln v ~ Exp(1)` from [`ln_reduce`]`(v)`; the max clears the −0
    /// or −1e-16 a rounded v ≥ 1 gives.
    #[inline(always)]
    fn e(k: f64, f: f64, s: f64) -> f64 {
        (-ln_finish(k, f, s)).max(0.0)
    }

    /// The leg: Pareto `xm · e^(E/alpha)` (from [`exp_reduce`]`(E/alpha)`)
    /// when the word's `u < p`, else exponential `E · mean`.
    #[inline(always)]
    fn select(&self, word: u64, e: f64, r: f64, sc: f64) -> f64 {
        let par = self.xm * exp_finish(r, sc);
        let ex = e * self.mean;
        if Self::u(word) < self.p {
            par
        } else {
            ex
        }
    }

    /// One leg per word, in four passes over the block (`v` and `ln`'s
    /// reduction with its division; `E`; `exp`'s reduction; the leg), not
    /// one: a leg is a long chain of dependent operations, and with a
    /// quarter of the chain per loop body the out-of-order core overlaps
    /// several iterations (about 30 % less CPU a trial than one pass).
    /// Same operations in the same order as [`Leg::draw`], so the same bits.
    #[inline(always)]
    fn fill(&self, words: &Words, out: &mut Col) {
        let (mut a, mut b) = ([0.0; BLOCK], [0.0; BLOCK]);
        for (((k, f), s), &x) in out
            .iter_mut()
            .zip(a.iter_mut())
            .zip(b.iter_mut())
            .zip(words)
        {
            (*k, *f, *s) = ln_reduce(self.v(x));
        }
        for ((k, &f), &s) in out.iter_mut().zip(&a).zip(&b) {
            *k = Self::e(*k, f, s);
        }
        for ((r, sc), &e) in a.iter_mut().zip(b.iter_mut()).zip(out.iter()) {
            (*r, *sc) = exp_reduce(e * self.inv_alpha);
        }
        for (((o, &x), &r), &sc) in out.iter_mut().zip(words).zip(&a).zip(&b) {
            *o = self.select(x, *o, r, sc);
        }
    }
}

/// `ln 2` split so that `k · LN2_HI` is exact for any exponent `k`.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// Natural log of a positive normal `x`, branch-free (so it vectorises).
///
/// `x = 2^k · m` with `m` in `[√½, √2)`; with `f = m − 1` and
/// `s = f / (2 + f)`, `ln m = 2 atanh s = f − f²/2 + s (f²/2 + R)`,
/// `R = Σ_{j ≥ 1} 2 s^{2j} / (2j + 1)`; `|s| ≤ 0.1716`, so the series cut
/// after `j = 9` errs by under 3·10^-17 relative. Within 2 ulp of libm
/// (tested). Zero, negatives, subnormals, infinities and NaN are not
/// handled (a leg never asks: its argument lies in `[2^-60, 1]`).
///
/// [`Leg::fill`] runs it as its two halves, [`ln_reduce`] and
/// [`ln_finish`], in separate passes; this is them composed, for the tests.
#[cfg(test)]
pub(crate) fn ln(x: f64) -> f64 {
    let (k, f, s) = ln_reduce(x);
    ln_finish(k, f, s)
}

/// [`ln`]'s first half: `x = 2^k (1 + f)`, and `s = f / (2 + f)`.
#[inline(always)]
fn ln_reduce(x: f64) -> (f64, f64, f64) {
    const SQRT_HALF: u64 = 0x3fe6_a09e_667f_3bcd;
    // Shift so that the exponent field of t is k + 1023 when m ≥ √½.
    let t = x.to_bits().wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF);
    let m = f64::from_bits((t & 0x000f_ffff_ffff_ffff) + SQRT_HALF);
    // k as a double without an integer conversion: 2^52 + (k + 1023), less both.
    let k = f64::from_bits(0x4330_0000_0000_0000 | (t >> 52)) - (4_503_599_627_370_496.0 + 1023.0);
    let f = m - 1.0;
    (k, f, f / (2.0 + f))
}

/// [`ln`]'s second half: `k ln 2 + ln(1 + f)`.
#[inline(always)]
fn ln_finish(k: f64, f: f64, s: f64) -> f64 {
    let hf = 0.5 * f * f;
    let z = s * s;
    let z2 = z * z;
    let z4 = z2 * z2;
    const C: [f64; 9] = [
        2.0 / 3.0,
        2.0 / 5.0,
        2.0 / 7.0,
        2.0 / 9.0,
        2.0 / 11.0,
        2.0 / 13.0,
        2.0 / 15.0,
        2.0 / 17.0,
        2.0 / 19.0,
    ];
    let r = z
        * ((C[0] + z * C[1])
            + z2 * (C[2] + z * C[3])
            + z4 * ((C[4] + z * C[5]) + z2 * (C[6] + z * C[7]))
            + (z4 * z4) * C[8]);
    k * LN2_HI - ((hf - (s * (hf + r) + k * LN2_LO)) - f)
}

/// `e^x`, branch-free and table-free (so it vectorises): `2^(k/2) · e^r`
/// with `k` the nearest integer to `2x / ln 2`, `|r| ≤ ln 2 / 4`, and the
/// Taylor series of `e^r` to degree 11 (truncation under 2·10^-18); an odd
/// `k` multiplies by √2. Within 3 ulp of libm (tested). `x` is clamped to
/// ±700 (a leg's argument is `E / alpha` with `E ≤ 37`).
///
/// [`Leg::fill`] runs it as its two halves, [`exp_reduce`] and
/// [`exp_finish`], in separate passes; this is them composed, for the tests.
#[cfg(test)]
pub(crate) fn exp(x: f64) -> f64 {
    let (r, s) = exp_reduce(x);
    exp_finish(r, s)
}

/// [`exp`]'s first half: `x = r + (k/2) ln 2`, returning `r` and `2^(k/2)`.
#[inline(always)]
fn exp_reduce(x: f64) -> (f64, f64) {
    let x = x.clamp(-700.0, 700.0);
    // 1.5 · 2^52: adding it rounds to the nearest integer, left in the low bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    const TWO_OVER_LN2: f64 = f64::from_bits(0x4007_1547_652b_82fe);
    let z = x * TWO_OVER_LN2 + SHIFT;
    let kd = z - SHIFT;
    // k + 4096 ≥ 0 for |x| ≤ 700 (|k| ≤ 2020), so halving it is a logical shift.
    let kp = z.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(4096);
    // Biased exponent of 2^floor(k/2): floor(k/2) + 1023 = (k + 4096)/2 − 1025.
    let scale = f64::from_bits(((kp >> 1).wrapping_sub(1025)) << 52);
    let odd = if kp & 1 == 1 {
        std::f64::consts::SQRT_2
    } else {
        1.0
    };
    let r = (x - kd * (0.5 * LN2_HI)) - kd * (0.5 * LN2_LO);
    (r, scale * odd)
}

/// [`exp`]'s second half: `s · e^r`.
#[inline(always)]
fn exp_finish(r: f64, s: f64) -> f64 {
    let r2 = r * r;
    let r4 = r2 * r2;
    let p = r
        + r2 * (1.0 / 2.0 + r * (1.0 / 6.0))
        + r4 * ((1.0 / 24.0 + r * (1.0 / 120.0)) + r2 * (1.0 / 720.0 + r * (1.0 / 5040.0)))
        + (r4 * r4)
            * ((1.0 / 40_320.0 + r * (1.0 / 362_880.0))
                + r2 * (1.0 / 3_628_800.0 + r * (1.0 / 39_916_800.0)));
    s + s * p
}

/// For every trial of the block: the bitmask of the `q` replicas with the
/// smallest `key` (ties go to the lower replica, as a stable sort would)
/// and the largest key among them, the q-th smallest. Branch-free rank
/// counting: replica i is in when fewer than q replicas come before it.
/// Ranks and masks are 64-bit, as wide as the keys, so the compares need
/// no narrowing in the vector loops.
#[inline(always)]
fn quorum(key: &[Col], q: usize, mask: &mut [u64; BLOCK], kth: &mut Col, rank: &mut [u64; BLOCK]) {
    let n = key.len();
    if q == 1 || q == n {
        // One pass a replica: the running minimum (strictly smaller wins,
        // so a tie keeps the lower replica) or everyone and the maximum.
        let one = q == 1;
        kth.fill(if one {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        });
        mask.fill(if one { 0 } else { (1u64 << n) - 1 });
        for (i, ki) in key.iter().enumerate() {
            for ((m, k), &v) in mask.iter_mut().zip(kth.iter_mut()).zip(ki) {
                if one {
                    let better = v < *k;
                    *m = if better { 1 << i } else { *m };
                    *k = if better { v } else { *k };
                } else {
                    *k = if v > *k { v } else { *k };
                }
            }
        }
        return;
    }
    mask.fill(0);
    kth.fill(f64::NEG_INFINITY);
    let q = q as u64;
    for (i, ki) in key.iter().enumerate() {
        rank.fill(0);
        for (j, kj) in key.iter().enumerate() {
            if j < i {
                for ((r, a), b) in rank.iter_mut().zip(kj).zip(ki) {
                    *r += u64::from(a <= b);
                }
            } else if j > i {
                for ((r, a), b) in rank.iter_mut().zip(kj).zip(ki) {
                    *r += u64::from(a < b);
                }
            }
        }
        for (((m, k), &r), &v) in mask.iter_mut().zip(kth.iter_mut()).zip(rank.iter()).zip(ki) {
            let inq = r < q;
            *m |= u64::from(inq) << i;
            *k = if inq && v > *k { v } else { *k };
        }
    }
}

/// Whether AVX2 is there to use (x86-64 only).
fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether an older version's write quorum may be drawn as a uniform
/// W-subset of the N replicas, exactly in distribution: when, from every
/// writer's site, the replicas' one-way delays are all equal and an ack
/// time `W_i + A_i` has no atom (some leg is continuous). The N ack times
/// are then independent and identically distributed with no ties, so their
/// order is a uniformly random permutation and its W first a uniform
/// W-subset, independent of the rest of the trial (each version draws its
/// own legs). Otherwise (`wan`, topologies) every leg is drawn.
pub(crate) fn uniform_older(cfg: &Config) -> bool {
    let m = &cfg.model;
    let flat = m
        .offsets
        .iter()
        .all(|row| row[..cfg.n].iter().all(|&o| o == row[0]));
    flat && (m.legs.w.is_continuous() || m.legs.a.is_continuous())
}

/// One block's outcomes, trial by trial.
pub(crate) struct Block {
    /// Thresholds, clamped at 0.
    pub thr: Col,
    /// Read latencies.
    pub read: Col,
    /// Write latencies.
    pub write: Col,
    /// `hits[k-1][b]`.
    pub hits: [[bool; BLOCK]; K_MAX],
}

/// The engine over one chunk's lanes: fixed scratch, nothing allocated per block.
pub(crate) struct Engine<'a> {
    cfg: &'a Config,
    lanes: Lanes,
    legs: [Leg; 4],
    /// `offsets[site · n + i]`.
    offsets: Vec<f64>,
    words: Words,
    ws: [usize; BLOCK],
    rs: [usize; BLOCK],
    /// Per replica: the writer's and the reader's one-way delay.
    woff: Vec<Col>,
    roff: Vec<Col>,
    /// Per replica: this version's arrivals W_i, the read's arrivals R_i,
    /// ack or response times, and a scratch leg.
    arrive: Vec<Col>,
    read_arrive: Vec<Col>,
    back: Vec<Col>,
    scratch: Vec<Col>,
    leg: Col,
    wt: Col,
    wmask: [u64; BLOCK],
    rmask: [u64; BLOCK],
    omask: [u64; BLOCK],
    rank: [u64; BLOCK],
    kth: Col,
    /// Older versions' quorums as uniform W-subsets ([`uniform_older`]).
    pub(crate) uniform_older: bool,
    /// Run [`Engine::block`] compiled for AVX2.
    pub(crate) avx2: bool,
    pub(crate) out: Block,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(cfg: &'a Config, chunk: u64) -> Box<Engine<'a>> {
        let n = cfg.n;
        let m = &cfg.model;
        let col = || vec![[0.0; BLOCK]; n];
        let mut e = Box::new(Engine {
            cfg,
            lanes: Lanes::new(cfg.seed, chunk),
            legs: [m.legs.w, m.legs.a, m.legs.r, m.legs.s].map(|d| Leg::new(&d)),
            offsets: m.offsets.iter().flat_map(|row| row[..n].to_vec()).collect(),
            words: [0; BLOCK],
            ws: [0; BLOCK],
            rs: [0; BLOCK],
            woff: col(),
            roff: col(),
            arrive: col(),
            read_arrive: col(),
            back: col(),
            scratch: col(),
            leg: [0.0; BLOCK],
            wt: [0.0; BLOCK],
            wmask: [0; BLOCK],
            rmask: [0; BLOCK],
            omask: [0; BLOCK],
            rank: [0; BLOCK],
            kth: [0.0; BLOCK],
            uniform_older: uniform_older(cfg),
            avx2: avx2(),
            out: Block {
                thr: [0.0; BLOCK],
                read: [0.0; BLOCK],
                write: [0.0; BLOCK],
                hits: [[false; BLOCK]; K_MAX],
            },
        });
        if m.sites() == 1 {
            for (i, (wo, ro)) in e.woff.iter_mut().zip(e.roff.iter_mut()).enumerate() {
                wo.fill(m.offsets[0][i]);
                ro.fill(m.offsets[0][i]);
            }
        }
        e
    }

    /// Draws the sites of the block's writers and readers (when there is a
    /// choice) and gathers their one-way delays.
    #[inline(always)]
    fn sites(&mut self) {
        let sites = self.cfg.model.sites();
        if sites == 1 {
            return;
        }
        let n = self.cfg.n;
        for which in [&mut self.ws, &mut self.rs] {
            self.lanes.fill(&mut self.words);
            for (s, &x) in which.iter_mut().zip(self.words.iter()) {
                *s = ((x as u128 * sites as u128) >> 64) as usize;
            }
        }
        for i in 0..n {
            for ((wo, ro), (&w, &r)) in self.woff[i]
                .iter_mut()
                .zip(self.roff[i].iter_mut())
                .zip(self.ws.iter().zip(self.rs.iter()))
            {
                *wo = self.offsets[w * n + i];
                *ro = self.offsets[r * n + i];
            }
        }
    }

    /// Draws a round trip to every replica: `there[i] = off + go`, `back[i]
    /// = there[i] + off + reply` (go's word, then reply's, per replica).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn round_trips(
        lanes: &mut Lanes,
        words: &mut Words,
        leg: &mut Col,
        go: &Leg,
        reply: &Leg,
        off: &[Col],
        there: &mut [Col],
        back: &mut [Col],
    ) {
        for ((o, th), bk) in off.iter().zip(there.iter_mut()).zip(back.iter_mut()) {
            lanes.fill(words);
            go.fill(words, th);
            lanes.fill(words);
            reply.fill(words, leg);
            for (((t, b), &o), &l) in th.iter_mut().zip(bk.iter_mut()).zip(o).zip(leg.iter()) {
                *t += o;
                *b = *t + o + l;
            }
        }
    }

    /// Plays `trials` trials, block after block, into `tally` (the last
    /// block's extra trials are drawn and dropped). Dispatched as
    /// [`Engine::block`] is, so the counting runs in the same build.
    pub(crate) fn tally(&mut self, trials: usize, tally: &mut Tally) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as in `Engine::block`.
            #[allow(unsafe_code)]
            unsafe {
                self.tally_avx2(trials, tally);
            }
            return;
        }
        self.tally_impl(trials, tally);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn tally_avx2(&mut self, trials: usize, tally: &mut Tally) {
        self.tally_impl(trials, tally);
    }

    #[inline(always)]
    fn tally_impl(&mut self, trials: usize, tally: &mut Tally) {
        let (step, points) = (self.cfg.step_ms, self.cfg.points);
        let mut left = trials;
        while left > 0 {
            self.block_impl();
            let take = left.min(BLOCK);
            let out = &self.out;
            for b in 0..take {
                let thr = out.thr[b];
                tally.threshold.record(thr);
                tally.read.record(out.read[b]);
                tally.write.record(out.write[b]);
                tally.grid[grid_index(thr, step, points)] += 1;
            }
            for (a, h) in tally.stale_hits.iter_mut().zip(&out.hits) {
                *a += h[..take].iter().map(|&x| u64::from(x)).sum::<u64>();
            }
            left -= take;
        }
    }

    /// Plays the next block of trials into `self.out`. The words drawn do
    /// not depend on R or W: common random numbers.
    ///
    /// On an x86-64 with AVX2 (checked at run time) the same code is
    /// compiled for AVX2: four lanes a vector instead of two. Rust never
    /// fuses a multiply and an add on its own, and every operation here is
    /// an IEEE one, so both give the very same bits (tested).
    pub(crate) fn block(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only if `is_x86_feature_detected!("avx2")`
            // said so when the engine was built (`Engine::new`).
            #[allow(unsafe_code)]
            unsafe {
                self.block_avx2();
            }
            return;
        }
        self.block_impl();
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn block_avx2(&mut self) {
        self.block_impl();
    }

    #[inline(always)]
    fn block_impl(&mut self) {
        let (r, w) = (self.cfg.r, self.cfg.w);
        self.sites();
        let [lw, la, lr, ls] = self.legs;
        // This version's write.
        Self::round_trips(
            &mut self.lanes,
            &mut self.words,
            &mut self.leg,
            &lw,
            &la,
            &self.woff,
            &mut self.arrive,
            &mut self.back,
        );
        quorum(&self.back, w, &mut self.wmask, &mut self.wt, &mut self.rank);
        // The read.
        Self::round_trips(
            &mut self.lanes,
            &mut self.words,
            &mut self.leg,
            &lr,
            &ls,
            &self.roff,
            &mut self.read_arrive,
            &mut self.back,
        );
        quorum(
            &self.back,
            r,
            &mut self.rmask,
            &mut self.out.read,
            &mut self.rank,
        );
        // Threshold: min over the read quorum of W_i − R_i − wt, clamped at 0.
        self.kth.fill(f64::INFINITY);
        for (i, (a, ra)) in self.arrive.iter().zip(self.read_arrive.iter()).enumerate() {
            for (((k, &m), &x), &y) in self.kth.iter_mut().zip(self.rmask.iter()).zip(a).zip(ra) {
                let g = x - y;
                *k = if m >> i & 1 == 1 && g < *k { g } else { *k };
            }
        }
        for ((t, &k), &wt) in self
            .out
            .thr
            .iter_mut()
            .zip(self.kth.iter())
            .zip(self.wt.iter())
        {
            *t = (k - wt).max(0.0);
        }
        self.out.write = self.wt;
        // k-staleness: the versions before this one, each with its own
        // write quorum (a version lives only on the replicas that acked it).
        for ((h, &a), &b) in self.out.hits[0]
            .iter_mut()
            .zip(self.rmask.iter())
            .zip(self.wmask.iter())
        {
            *h = a & b != 0;
        }
        for k in 1..K_MAX {
            if self.uniform_older {
                // Exchangeable replicas: the W fastest ackers are the W
                // smallest of N independent uniforms (one word each).
                for key in self.back.iter_mut() {
                    self.lanes.fill(&mut self.words);
                    for (x, &b) in key.iter_mut().zip(self.words.iter()) {
                        *x = f64::from_bits(b >> 12 | 0x3ff0_0000_0000_0000);
                    }
                }
            } else {
                Self::round_trips(
                    &mut self.lanes,
                    &mut self.words,
                    &mut self.leg,
                    &lw,
                    &la,
                    &self.woff,
                    &mut self.scratch,
                    &mut self.back,
                );
            }
            quorum(
                &self.back,
                w,
                &mut self.omask,
                &mut self.kth,
                &mut self.rank,
            );
            let (done, rest) = self.out.hits.split_at_mut(k);
            for (((h, &prev), &a), &b) in rest[0]
                .iter_mut()
                .zip(done[k - 1].iter())
                .zip(self.rmask.iter())
                .zip(self.omask.iter())
            {
                *h = prev || a & b != 0;
            }
        }
    }

    /// Trial `b` of the last block.
    pub(crate) fn sample(&self, b: usize) -> Sample {
        Sample {
            threshold_ms: self.out.thr[b],
            read_ms: self.out.read[b],
            write_ms: self.out.write[b],
            hits: std::array::from_fn(|k| self.out.hits[k][b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LNKD_DISK_W, LNKD_SSD, YMMR_W};

    fn ulp(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn ln_is_within_two_ulp_of_libm() {
        let mut worst = 0;
        // Every binade a leg's argument can fall in, and across √½ and 1.
        let mut x = 2f64.powi(-62);
        while x <= 1.0 {
            for j in 0..4000 {
                let y = x * (1.0 + j as f64 / 4000.0);
                if y <= 1.0 {
                    worst = worst.max(ulp(ln(y), y.ln()));
                }
            }
            x *= 2.0;
        }
        let mut g = substream(1, "ln", 0);
        for _ in 0..1_000_000 {
            let y = f64::from_bits(g.next_u64() >> 12 | 0x3ff0_0000_0000_0000) - 1.0;
            if y > 0.0 {
                worst = worst.max(ulp(ln(y), y.ln()));
            }
        }
        for y in [
            1.0,
            0.5,
            0.25,
            1.0 - 1e-16,
            std::f64::consts::FRAC_1_SQRT_2,
            0.7071067811865475,
            2.0,
            3.5e7,
        ] {
            worst = worst.max(ulp(ln(y), y.ln()));
        }
        assert!(worst <= 2, "{worst} ulp");
        assert_eq!(ln(1.0), 0.0);
    }

    #[test]
    fn exp_is_within_three_ulp_of_libm() {
        let mut worst = 0;
        for i in -200_000..=200_000 {
            let x = i as f64 * 0.003_456_789;
            worst = worst.max(ulp(exp(x), x.exp()));
        }
        for x in [0.0, 1e-300, -1e-300, 1.0, -1.0, 0.5, 699.9, -699.9, 37.0] {
            worst = worst.max(ulp(exp(x), x.exp()));
        }
        assert!(worst <= 3, "{worst} ulp");
        assert_eq!(exp(0.0), 1.0);
    }

    /// The inversion is exact: a word's leg equals the closed-form inverse
    /// CDF of its branch at the branch's uniform, computed with libm.
    #[test]
    fn a_leg_is_the_inverse_cdf_of_its_branch() {
        let mut g = substream(2, "leg", 0);
        for d in [LNKD_SSD, LNKD_DISK_W, YMMR_W, Dist::exp(0.5)] {
            let leg = Leg::new(&d);
            for _ in 0..100_000 {
                let x = g.next_u64();
                let u = (x >> 12) as f64 * 2f64.powi(-52);
                let want = if u < d.pareto_p {
                    d.xm * ((d.pareto_p - u) / d.pareto_p).powf(-1.0 / d.alpha)
                } else {
                    -((1.0 - u) / (1.0 - d.pareto_p)).ln() * d.exp_mean
                };
                let got = leg.draw(x);
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1e-3),
                    "{d:?} u={u}: {got} vs {want}"
                );
            }
        }
        assert_eq!(Leg::new(&Dist::ZERO).draw(u64::MAX), 0.0);
        assert_eq!(Leg::new(&Dist::ZERO).draw(0), 0.0);
    }

    /// A block's legs by [`Leg::fill`] (four passes) are [`Leg::draw`]'s
    /// (one word at a time) to the bit, in both builds.
    #[test]
    fn fill_gives_draws_bits() {
        let mut lanes = Lanes::new(6, 1);
        let mut words = [0u64; BLOCK];
        let mut out = [0.0; BLOCK];
        for d in [LNKD_SSD, LNKD_DISK_W, YMMR_W, Dist::exp(0.5), Dist::ZERO] {
            let leg = Leg::new(&d);
            for round in 0..200 {
                lanes.fill(&mut words);
                if round == 0 {
                    words[0] = 0;
                    words[1] = u64::MAX;
                }
                leg.fill(&words, &mut out);
                for (&x, &o) in words.iter().zip(out.iter()) {
                    assert_eq!(o.to_bits(), leg.draw(x).to_bits(), "{d:?} {x:#x}");
                }
            }
        }
    }

    /// The mixture's CDF, `p · (1 − (xm/x)^alpha) [x ≥ xm] + (1 − p)(1 −
    /// e^{−x/mean})`, against the fraction of 10^6 drawn legs at or below
    /// x, at the closed form's own quantiles (each a binomial fraction:
    /// 5 standard errors).
    #[test]
    fn drawn_legs_match_the_mixture_cdf() {
        let words = 1_000_000usize;
        for d in [LNKD_SSD, LNKD_DISK_W, YMMR_W] {
            let leg = Leg::new(&d);
            let mut lanes = Lanes::new(3, 0);
            let mut w = [0u64; BLOCK];
            let mut v = Vec::with_capacity(words);
            while v.len() < words {
                lanes.fill(&mut w);
                v.extend(w.iter().map(|&x| leg.draw(x)));
            }
            v.truncate(words);
            let cdf = |x: f64| {
                let par = if x >= d.xm {
                    1.0 - (d.xm / x).powf(d.alpha)
                } else {
                    0.0
                };
                d.pareto_p * par + (1.0 - d.pareto_p) * (1.0 - (-x / d.exp_mean).exp())
            };
            for x in [0.01, 0.1, 0.3, d.xm * 1.01, 1.0, 3.0, 10.0, 100.0, 1000.0] {
                let p = cdf(x);
                let got = v.iter().filter(|&&y| y <= x).count() as f64 / words as f64;
                let se = (p * (1.0 - p) / words as f64).sqrt().max(1e-7);
                assert!(
                    (got - p).abs() <= 5.0 * se,
                    "{d:?} at {x}: {got} vs {p} (5 SE = {})",
                    5.0 * se
                );
            }
        }
    }

    fn config(model: crate::Model, n: usize, r: usize, w: usize) -> Config {
        Config {
            model,
            n,
            r,
            w,
            trials: 1,
            seed: 86,
            step_ms: 1.0,
            points: 11,
        }
    }

    fn kata(n: usize) -> crate::Model {
        let topo = topology::Topology::kata_with_jp();
        let sg = topo.region("SG").unwrap();
        let placement = crate::round_robin(&topo, sg, n).unwrap();
        crate::Model::topology("kata", &topo, &placement).unwrap()
    }

    /// The AVX2 build and the plain one give the very same bits.
    #[test]
    fn avx2_and_plain_builds_agree_to_the_bit() {
        if !avx2() {
            eprintln!("no AVX2 here: nothing to compare");
            return;
        }
        for (m, n, r, w) in [
            (crate::Model::preset("lnkd-ssd").unwrap(), 5, 2, 2),
            (crate::Model::preset("wan").unwrap(), 3, 1, 2),
            (crate::Model::preset("ymmr").unwrap(), 4, 1, 1),
            (kata(6), 6, 3, 2),
        ] {
            let c = config(m, n, r, w);
            let (mut a, mut b) = (Engine::new(&c, 3), Engine::new(&c, 3));
            a.avx2 = true;
            b.avx2 = false;
            for _ in 0..20 {
                a.block();
                b.block();
                for t in 0..BLOCK {
                    let (x, y) = (a.sample(t), b.sample(t));
                    assert_eq!(x.threshold_ms.to_bits(), y.threshold_ms.to_bits());
                    assert_eq!(x.read_ms.to_bits(), y.read_ms.to_bits());
                    assert_eq!(x.write_ms.to_bits(), y.write_ms.to_bits());
                    assert_eq!(x.hits, y.hits);
                }
            }
        }
    }

    /// Older versions' quorums drawn as uniform W-subsets against the full
    /// path (fresh W and A legs, the W fastest ackers), on presets where
    /// the shortcut applies: the k-staleness fractions agree within 5
    /// standard errors of their difference.
    #[test]
    fn uniform_w_subsets_match_the_full_path() {
        let blocks = 2_000;
        for (name, n, r, w) in [
            ("lnkd-ssd", 3, 1, 1),
            ("lnkd-disk", 5, 2, 2),
            ("ymmr", 4, 1, 3),
        ] {
            let c = config(crate::Model::preset(name).unwrap(), n, r, w);
            assert!(uniform_older(&c), "{name}");
            let hits = |shortcut: bool| {
                let mut e = Engine::new(&c, 7);
                e.uniform_older = shortcut;
                let mut h = [0u64; K_MAX];
                for _ in 0..blocks {
                    e.block();
                    for (k, hk) in h.iter_mut().enumerate() {
                        *hk += e.out.hits[k].iter().filter(|&&x| x).count() as u64;
                    }
                }
                h
            };
            let (fast, full) = (hits(true), hits(false));
            let t = (blocks * BLOCK) as f64;
            for k in 0..K_MAX {
                let (a, b) = (fast[k] as f64 / t, full[k] as f64 / t);
                let p = (a + b) / 2.0;
                let se = (2.0 * p * (1.0 - p) / t).sqrt();
                assert!((a - b).abs() <= 5.0 * se, "{name} k={}: {a} vs {b}", k + 1);
            }
        }
        // Not where the replicas differ, nor with atoms in the ack time.
        assert!(!uniform_older(&config(
            crate::Model::preset("wan").unwrap(),
            3,
            1,
            1
        )));
        assert!(!uniform_older(&config(kata(3), 3, 1, 1)));
        let mut zero = crate::Model::preset("lnkd-ssd").unwrap();
        zero.legs.w = Dist::ZERO;
        zero.legs.a = Dist::ZERO;
        assert!(!uniform_older(&config(zero, 3, 1, 1)));
    }

    /// The lanes give a plain xoshiro256++ stream each.
    #[test]
    fn lanes_are_xoshiro256_plus_plus() {
        let mut lanes = Lanes::new(5, 2);
        let mut seeds = lanes.s;
        let mut words = [0u64; BLOCK];
        lanes.fill(&mut words);
        for l in 0..LANES {
            let s = &mut seeds;
            for j in 0..BLOCK / LANES {
                let want = s[0][l]
                    .wrapping_add(s[3][l])
                    .rotate_left(23)
                    .wrapping_add(s[0][l]);
                let t = s[1][l] << 17;
                s[2][l] ^= s[0][l];
                s[3][l] ^= s[1][l];
                s[1][l] ^= s[2][l];
                s[0][l] ^= s[3][l];
                s[2][l] ^= t;
                s[3][l] = s[3][l].rotate_left(45);
                assert_eq!(words[j * LANES + l], want);
            }
        }
    }

    /// The rank counting picks what a stable sort picks, ties included.
    #[test]
    fn quorum_matches_a_stable_sort() {
        let mut g = substream(4, "quorum", 0);
        for n in 1..=7 {
            #[allow(clippy::needless_range_loop)]
            let mut key = vec![[0.0; BLOCK]; n];
            for c in key.iter_mut() {
                for x in c.iter_mut() {
                    // Few distinct values: many ties.
                    *x = (g.next_u64() % 4) as f64;
                }
            }
            for q in 1..=n {
                let (mut mask, mut kth, mut rank) = ([0; BLOCK], [0.0; BLOCK], [0; BLOCK]);
                quorum(&key, q, &mut mask, &mut kth, &mut rank);
                for b in 0..BLOCK {
                    let mut order: Vec<usize> = (0..n).collect();
                    order.sort_by(|&i, &j| key[i][b].total_cmp(&key[j][b]));
                    let want = order[..q].iter().fold(0u64, |m, &i| m | 1 << i);
                    assert_eq!(mask[b], want, "n={n} q={q}");
                    assert_eq!(kth[b], key[order[q - 1]][b]);
                }
            }
        }
    }
}
