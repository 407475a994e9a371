#!/usr/bin/env python3
"""A vectorised numpy WARS Monte Carlo: the model `kata86 pbs` runs.

The yardstick of issue #22 ("`kata86 pbs` reaches >= 10x a vectorised numpy
WARS Monte Carlo of the same model and trial count"). It implements the model
of crates/quorum (lib.rs, model.rs) trial for trial, in batches:

* every leg (W, A, R, S per replica) is a mixture: with probability p a
  Pareto(xm, alpha) draw, `xm * exp(E / alpha)`, otherwise `E / lambda`,
  E ~ Exp(1) (numpy's ziggurat, its fastest exponential; kata86 inverts one
  uniform per leg, the same distribution);
* the write commits at wt, the W-th smallest W_i + A_i; the read latency is
  the R-th smallest R_i + S_i; the read quorum is the R fastest responders;
* a trial's threshold is max(0, min over the read quorum of W_i - R_i - wt):
  the read at t sees the write iff t >= threshold;
* k-staleness: two more independent writes, hit_k if the read quorum meets
  the write quorum of one of the last k versions; each older write quorum is
  the W fastest ackers of fresh W and A legs or, when the replicas are
  exchangeable (every writer's site sees them at one delay, continuous legs:
  lnkd-ssd, lnkd-disk, ymmr), a uniform W-subset (the W smallest of N
  uniforms), exactly as kata86 draws it;
* the figures come from the very same counts kata86 keeps: the curve from the
  grid histogram (point j counts thresholds <= j * step), the t-visibility and
  latency quantiles from the same log-linear histogram (2^-8 wide buckets,
  nearest rank, reported as the bucket's upper edge).

Models: the PBS presets (lnkd-ssd, lnkd-disk, ymmr; wan with its 75 ms
one-way delays between datacenters) and, with --preset default, kata86's
default topology model (SG, US, JP placed round-robin from SG, half RTTs
from crates/topology's kata_with_jp).

Only the random streams differ (numpy's PCG64 here, kata86's xoshiro256++
lanes there), so the two agree within Monte Carlo error, not to the bit:
bench/pbs_check.py asserts that agreement.

Rerun (see bench/README.md):
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
      python3 bench/pbs_numpy.py --preset lnkd-ssd --n 3 --r 1 --w 1 --trials 10000000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

# --- the presets (crates/quorum/src/model.rs, PBS Table 3) -----------------
# (pareto_p, xm, alpha, lambda per ms)
LNKD_SSD = (0.9122, 0.235, 10.0, 1.66)
LNKD_DISK_W = (0.38, 1.05, 1.51, 0.183)
YMMR_W = (0.939, 3.0, 3.35, 0.0028)
YMMR_ARS = (0.982, 1.5, 3.8, 0.0217)
WAN_ONE_WAY_MS = 75.0
MAX_N = 16

# kata86's default world (no --preset): crates/topology's Topology::kata_with_jp.
# RTT in ms from each client site (VN, US) to each region (SG, US, JP); the
# replicas sit round-robin from the leader's region SG: SG, US, JP, SG, ...
# Every leg is RTT / 2 plus an LNKD-SSD draw.
DEFAULT_SITE_RTT = [[40.0, 220.0, 90.0], [220.0, 20.0, 150.0]]


def legs_of(preset: str, n: int):
    """(W, A, R, S) distributions and offsets[site][replica] of a preset."""
    ssd = LNKD_SSD
    if preset == "lnkd-ssd":
        return (ssd, ssd, ssd, ssd), [[0.0] * MAX_N]
    if preset == "lnkd-disk":
        return (LNKD_DISK_W, ssd, ssd, ssd), [[0.0] * MAX_N]
    if preset == "ymmr":
        return (YMMR_W, YMMR_ARS, YMMR_ARS, YMMR_ARS), [[0.0] * MAX_N]
    if preset == "default":
        if n > 9:
            raise SystemExit("the default world holds at most 9 replicas (3 per region)")
        off = [[row[i % 3] / 2.0 for i in range(n)] for row in DEFAULT_SITE_RTT]
        return (ssd, ssd, ssd, ssd), off
    if preset == "wan":
        off = [[0.0 if rep == site else WAN_ONE_WAY_MS for rep in range(3)] for site in range(3)]
        return (LNKD_DISK_W, ssd, ssd, ssd), off
    raise SystemExit(f"unknown preset {preset!r}")


# --- kata86's histogram (crates/quorum/src/hist.rs) -------------------------
SUB_BITS = 8
MIN_EXP = -20
MAX_EXP = 40
SHIFT = 52 - SUB_BITS
BUCKETS = 2 + ((MAX_EXP - MIN_EXP) << SUB_BITS)
MIN_V = 2.0 ** MIN_EXP
KEY_MIN = int(np.float64(MIN_V).view(np.uint64)) >> SHIFT


def hist_index(v: np.ndarray) -> np.ndarray:
    """Bucket of each value: 0 for <= 0, 1 below 2^-20, then log-linear."""
    k = (v.view(np.uint64) >> np.uint64(SHIFT)).astype(np.int64) - (KEY_MIN - 2)
    np.clip(k, 2, BUCKETS - 1, out=k)
    k[v < MIN_V] = 1
    k[v <= 0.0] = 0
    return k


def hist_upper(i: int) -> float:
    if i == 0:
        return 0.0
    if i == 1:
        return MIN_V
    return float(np.uint64((KEY_MIN + i - 1) << SHIFT).view(np.float64))


def hist_quantile(counts: np.ndarray, per_10k: int) -> float:
    total = int(counts.sum())
    if total == 0:
        return 0.0
    target = max(1, -(-total * per_10k // 10_000))
    i = int(np.searchsorted(np.cumsum(counts), target))
    return hist_upper(min(i, BUCKETS - 1))


def hist_cdf_at(counts: np.ndarray, v: float) -> float:
    """Fraction of values in buckets up to and including v's bucket."""
    i = int(hist_index(np.array([v], dtype=np.float64))[0])
    return float(counts[: i + 1].sum()) / float(counts.sum())


# --- the Monte Carlo ---------------------------------------------------------
def draw_legs(rng: np.random.Generator, dist, shape, u, e, out):
    """One mixture draw per entry into `out` (u and e are scratch)."""
    p, xm, alpha, lam = dist
    rng.random(out=u)
    rng.standard_exponential(out=e)  # ziggurat
    if p <= 0.0:
        np.multiply(e, 1.0 / lam, out=out)
        return out
    np.multiply(e, 1.0 / alpha, out=out)
    np.exp(out, out=out)
    out *= xm
    if p < 1.0:
        e *= 1.0 / lam
        np.copyto(out, e, where=u >= p)
    return out


def continuous(dist) -> bool:
    """Whether a leg mixture has no atom (quorum::Dist::is_continuous)."""
    p, xm, alpha, lam = dist
    exp_ok = math.isfinite(lam) and 0.0 < lam
    par_ok = xm > 0.0 and 0.0 < alpha < math.inf
    if p <= 0.0:
        return exp_ok
    if p >= 1.0:
        return par_ok
    return exp_ok and par_ok


def w_smallest(keys: np.ndarray, w: int) -> np.ndarray:
    """Per row, a mask of the w smallest entries."""
    n = keys.shape[1]
    if w == 1:
        kth = keys.min(axis=1)
    elif w == n:
        return np.ones(keys.shape, dtype=bool)
    else:
        kth = np.partition(keys, w - 1, axis=1)[:, w - 1]
    return keys <= kth[:, None]


def simulate(preset, n, r, w, trials, seed, step_ms=1.0, points=101, batch=100_000,
             offsets=None, legs=None):
    """Returns the raw counts: threshold/read/write histograms, grid, stale hits."""
    if legs is None:
        legs, offsets = legs_of(preset, n)
    offsets = np.asarray(offsets, dtype=np.float64)[:, :n]
    sites = offsets.shape[0]
    rng = np.random.Generator(np.random.PCG64(seed))
    # The older versions' write quorums as uniform W-subsets, as kata86 draws
    # them (crates/quorum/src/block.rs, uniform_older): exact in distribution
    # when every writer's site sees all replicas at the same one-way delay
    # and an ack time W_i + A_i has no atom (i.i.d. continuous ack times
    # order the replicas as a uniform random permutation).
    uniform_older = bool(np.all(offsets == offsets[:, :1])) and (
        continuous(legs[0]) or continuous(legs[1]))
    h_thr = np.zeros(BUCKETS, dtype=np.int64)
    h_read = np.zeros(BUCKETS, dtype=np.int64)
    h_write = np.zeros(BUCKETS, dtype=np.int64)
    grid = np.zeros(points + 1, dtype=np.int64)
    hits = np.zeros(3, dtype=np.int64)
    f = np.float64
    bmax = min(batch, trials)
    # Scratch buffers, reused every batch.
    u = np.empty((bmax, n), f)
    e = np.empty((bmax, n), f)
    legw = np.empty((bmax, n), f)
    lega = np.empty((bmax, n), f)
    legr = np.empty((bmax, n), f)
    legs_ = np.empty((bmax, n), f)
    done = 0
    while done < trials:
        b = min(bmax, trials - done)
        done += b
        U, E = u[:b], e[:b]
        Wl, Al, Rl, Sl = legw[:b], lega[:b], legr[:b], legs_[:b]
        if sites > 1:
            ws = rng.integers(0, sites, size=b)
            rs = rng.integers(0, sites, size=b)
            woff = offsets[ws]
            roff = offsets[rs]
        else:
            woff = roff = None

        def write(Wl, Al):
            draw_legs(rng, legs[0], None, U, E, Wl)
            draw_legs(rng, legs[1], None, U, E, Al)
            if woff is not None:
                Wl += woff
                Al += woff
            ack = Al
            ack += Wl  # ack time W_i + A_i (+ 2 offsets)
            if w == 1:
                wt = ack.min(axis=1)
            elif w == n:
                wt = ack.max(axis=1)
            else:
                wt = np.partition(ack, w - 1, axis=1)[:, w - 1]
            in_write = ack <= wt[:, None]
            return wt, in_write

        wt, in_write = write(Wl, Al)
        # The read's legs.
        draw_legs(rng, legs[2], None, U, E, Rl)
        draw_legs(rng, legs[3], None, U, E, Sl)
        if roff is not None:
            Rl += roff
            Sl += roff
        resp = Sl
        resp += Rl
        if r == 1:
            rl = resp.min(axis=1)
        elif r == n:
            rl = resp.max(axis=1)
        else:
            rl = np.partition(resp, r - 1, axis=1)[:, r - 1]
        in_read = resp <= rl[:, None]
        # Threshold: min over the read quorum of W_i - R_i - wt, clamped at 0.
        gap = Wl - Rl
        gap[~in_read] = np.inf
        thr = gap.min(axis=1)
        thr -= wt
        np.maximum(thr, 0.0, out=thr)
        # k-staleness: the read quorum against the last 1, 2, 3 write quorums.
        hit = (in_read & in_write).any(axis=1)
        hits[0] += int(hit.sum())
        for k in (1, 2):
            if uniform_older:
                older = w_smallest(rng.random((b, n)), w)
            else:
                _, older = write(Wl, Al)
            hit |= (in_read & older).any(axis=1)
            hits[k] += int(hit.sum())
        # Counts.
        h_thr += np.bincount(hist_index(thr), minlength=BUCKETS)
        h_read += np.bincount(hist_index(rl), minlength=BUCKETS)
        h_write += np.bincount(hist_index(wt), minlength=BUCKETS)
        j = np.ceil(thr / step_ms)
        np.minimum(j, points, out=j)
        grid += np.bincount(j.astype(np.int64), minlength=points + 1)
    return {"threshold": h_thr, "read": h_read, "write": h_write, "grid": grid, "hits": hits}


def miss_probability(n, r, w):
    if r + w > n:
        return 0.0
    p = 1.0
    for i in range(r):
        p *= (n - w - i) / (n - i)
    return p


def summarise(tally, n, r, w, trials, step_ms, points):
    def pct(h):
        return {"p50": hist_quantile(h, 5000), "p99": hist_quantile(h, 9900),
                "p999": hist_quantile(h, 9990)}

    seen = np.cumsum(tally["grid"][:points])
    return {
        "read_ms": pct(tally["read"]),
        "write_ms": pct(tally["write"]),
        "t_visibility_ms": {l: hist_quantile(tally["threshold"], q)
                            for l, q in (("0.99", 9900), ("0.999", 9990), ("0.9999", 9999))},
        "k_staleness": [{"k": k, "simulated": int(tally["hits"][k - 1]) / trials,
                         "closed_form": 1.0 - miss_probability(n, r, w) ** k} for k in (1, 2, 3)],
        "curve": [{"t_ms": j * step_ms, "p_consistent": int(seen[j]) / trials}
                  for j in range(points)],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="lnkd-ssd",
                    choices=["lnkd-ssd", "lnkd-disk", "ymmr", "wan", "default"],
                    help="a PBS preset, or `default`: kata86 pbs without --preset")
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--r", type=int, default=1)
    ap.add_argument("--w", type=int, default=1)
    ap.add_argument("--trials", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=86)
    ap.add_argument("--step-ms", type=float, default=1.0)
    ap.add_argument("--points", type=int, default=101)
    ap.add_argument("--batch", type=int, default=100_000,
                    help="trials per vectorised batch (10^5: faster than 10^6 here, the arrays stay in cache)")
    ap.add_argument("--format", choices=["table", "json"], default="table")
    a = ap.parse_args(argv)
    if not (1 <= a.r <= a.n and 1 <= a.w <= a.n and a.n <= MAX_N):
        raise SystemExit("need 1 <= R, W <= N <= 16")
    t0 = time.perf_counter()
    tally = simulate(a.preset, a.n, a.r, a.w, a.trials, a.seed, a.step_ms, a.points, a.batch)
    rep = summarise(tally, a.n, a.r, a.w, a.trials, a.step_ms, a.points)
    secs = time.perf_counter() - t0
    if a.format == "json":
        json.dump({"preset": a.preset, "n": a.n, "r": a.r, "w": a.w, "trials": a.trials,
                   "seed": a.seed, "step_ms": a.step_ms, "points": a.points, **rep,
                   "seconds": secs}, sys.stdout)
        print()
        return
    print(f"pbs-numpy {a.preset}: N = {a.n}, R = {a.r}, W = {a.w}, {a.trials} trials, "
          f"seed {a.seed}, numpy {np.__version__}, {secs:.3f} s")
    for what in ("read", "write"):
        p = rep[f"{what}_ms"]
        print(f"  {what} latency ms: p50 {p['p50']:.3f}  p99 {p['p99']:.3f}  p99.9 {p['p999']:.3f}")
    for l, t in rep["t_visibility_ms"].items():
        print(f"  t-visibility p >= {l}: {t:.3f} ms")
    for k in rep["k_staleness"]:
        print(f"  k = {k['k']}: simulated {k['simulated']:.6f}  closed form {k['closed_form']:.6f}")
    every = max(1, -(-len(rep["curve"]) // 10))
    for j, c in enumerate(rep["curve"]):
        if j % every == 0 or j + 1 == len(rep["curve"]):
            print(f"  P(consistent at t = {c['t_ms']:g} ms) = {c['p_consistent']:.6f}")


if __name__ == "__main__":
    main()
