#!/usr/bin/env python3
"""Asserts that `kata86 pbs` and bench/pbs_numpy.py agree within Monte Carlo error.

Runs `kata86 pbs ... --format json` and the numpy Monte Carlo (different random
streams, same model) with the same N, R, W, trials, grid, and checks:

* the t-visibility curve: at every grid point where either side is strictly
  between 0 and 1, |p_kata - p_numpy| <= 4 standard errors of the difference,
  sqrt(p(1-p)/n_kata + p(1-p)/n_numpy);
* k-staleness (k = 1, 2, 3), the same way;
* every quantile kata86 reports (read/write p50, p99, p99.9; t-visibility at
  99, 99.9, 99.99 %): kata86 prints the upper edge of a 2^-8-wide histogram
  bucket rounded to the µs, so numpy's fraction of values at or below that edge
  (one bucket of slack for the rounding) must reach q - 4 SE, and its fraction
  below the edge two buckets down must not exceed q + 4 SE.

Exits 1 on any disagreement. Usage:
    python3 bench/pbs_check.py --kata86 target/release/kata86 --preset lnkd-ssd \
        --n 3 --r 1 --w 1 --trials 1000000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pbs_numpy as pn  # noqa: E402

Z = 4.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kata86", default="target/release/kata86")
    ap.add_argument("--preset", default="lnkd-ssd")
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--r", type=int, default=1)
    ap.add_argument("--w", type=int, default=1)
    ap.add_argument("--trials", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=86)
    ap.add_argument("--numpy-seed", type=int, default=12345)
    ap.add_argument("--step-ms", type=float, default=1.0)
    ap.add_argument("--points", type=int, default=101)
    a = ap.parse_args(argv)

    cmd = [a.kata86, "pbs", "--n", str(a.n), "--r", str(a.r), "--w", str(a.w),
           "--trials", str(a.trials), "--seed", str(a.seed), "--step-ms", str(a.step_ms),
           "--points", str(a.points), "--format", "json", "-q"]
    if a.preset != "default":
        cmd[2:2] = ["--preset", a.preset]
    kata = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    tally = pn.simulate(a.preset, a.n, a.r, a.w, a.trials, a.numpy_seed, a.step_ms, a.points)
    npy = pn.summarise(tally, a.n, a.r, a.w, a.trials, a.step_ms, a.points)
    nk = nn = a.trials
    fails = []
    checked = 0
    worst = 0.0

    def prop(what, pk, pnp):
        nonlocal checked, worst
        p = 0.5 * (pk + pnp)
        se = math.sqrt(max(p * (1 - p), 0.25 / nk) * (1 / nk + 1 / nn))
        z = abs(pk - pnp) / se
        checked += 1
        worst = max(worst, z)
        if z > Z:
            fails.append(f"{what}: kata86 {pk:.6f}, numpy {pnp:.6f} ({z:.1f} SE)")

    for ck, cn in zip(kata["curve"], npy["curve"]):
        assert abs(ck["t_ms"] - cn["t_ms"]) < 1e-9
        pk, pnp = ck["p_consistent"], cn["p_consistent"]
        if 0 < pk < 1 or 0 < pnp < 1:
            prop(f"P(consistent at t = {ck['t_ms']} ms)", pk, pnp)
    for kk, kn in zip(kata["k_staleness"], npy["k_staleness"]):
        prop(f"k-staleness k = {kk['k']}", kk["simulated"], kn["simulated"])

    def quantile(what, value, q, counts):
        nonlocal checked, worst
        i = int(pn.hist_index(np.array([value]))[0])
        total = float(counts.sum())
        hi = float(counts[: min(i + 2, pn.BUCKETS)].sum()) / total  # F at the next bucket's edge
        lo = float(counts[: max(i - 1, 0)].sum()) / total  # F two buckets down
        se = math.sqrt(q * (1 - q) * (1 / nk + 1 / nn))
        checked += 1
        worst = max(worst, (q - hi) / se, (lo - q) / se)
        if hi < q - Z * se or lo > q + Z * se:
            fails.append(f"{what} = {value} ms: numpy has {lo:.6f}..{hi:.6f} of values "
                         f"around it, kata86 says {q}")

    for leg in ("read", "write"):
        for key, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
            quantile(f"{leg} {key}", kata[f"{leg}_ms"][key], q, tally[leg])
    for lab, v in kata["t_visibility_ms"].items():
        quantile(f"t-visibility {lab}", v, float(lab), tally["threshold"])

    print(f"kata86 pbs vs numpy, {a.preset} N={a.n} R={a.r} W={a.w}, {a.trials} trials each: "
          f"{checked} figures compared, worst {worst:.2f} SE (limit {Z})")
    print(f"  kata86 t-visibility {kata['t_visibility_ms']}, numpy {npy['t_visibility_ms']}")
    print(f"  kata86 read {kata['read_ms']} write {kata['write_ms']}")
    print(f"  numpy  read {npy['read_ms']} write {npy['write_ms']}")
    for f in fails:
        print("DISAGREE:", f)
    if fails:
        sys.exit(1)
    print("agreement: OK")


if __name__ == "__main__":
    main()
