"""Impact and uplift simulation speed (issue 6), printed as JSON lines.

Goal: a 100k-customer scenario with 1,000 bootstrap resamples in under 5 s. Each line gives
LiftLab's time and, in the same run, the reference: the previous implementation, which drew a
Poisson weight for every customer of every resample and cumulated the whole population
(``_full_poisson_reference`` below, same statistics). Timings are the best of ``--repeats``.

Usage: ``python bench/impact.py [--rows 100000] [--bootstrap 1000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.impact import Decision, ScenarioInputs, simulate_scenario
from core.specs import Economics
from core.uplift import simulate_uplift


def _full_poisson_reference(y_sorted: np.ndarray, fraction: float, n_boot: int, seed: int):
    """The pre-issue-6 bootstrap: (chunk × n) Poisson weights, full cumulative sums."""
    n = y_sorted.size
    targeted = max(1, int(round(fraction * n)))
    rng = np.random.default_rng(seed)
    conv = []
    chunk = max(1, min(n_boot, 2_000_000 // n))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        w = rng.poisson(1.0, size=(b, n)).astype(np.int32)
        total = np.maximum(w.sum(axis=1), 1)
        t_b = np.maximum(1, np.round(fraction * total)).astype(np.int64)
        cw = np.cumsum(w, axis=1)
        cy = np.cumsum(w * y_sorted, axis=1)
        k = np.argmax(cw >= t_b[:, None], axis=1)
        over = cw[np.arange(b), k] - t_b
        c = cy[np.arange(b), k] - over * y_sorted[k]
        conv.append(c * targeted / t_b)
        done += b
    return np.percentile(np.concatenate(conv), [2.5, 97.5])


def _best(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    n = a.rows
    score = rng.random(n)
    y = (rng.random(n) < 0.03 + 0.2 * score).astype(int)
    spend = rng.gamma(2.0, 50.0, n)
    policy = rng.random(n) < 0.3
    base = ScenarioInputs(Decision("fraction", 0.2), Economics(5, 100, 1000), None, a.bootstrap, 1)
    ref_s, ref_ci = _best(lambda: _full_poisson_reference(y[np.argsort(-score)], 0.2,
                                                          a.bootstrap, 1), a.repeats)
    cases = {
        "scenario_top20_cost_value": (base, {}),
        "scenario_with_policy": (ScenarioInputs(base.decision, base.economics, "rule",
                                                a.bootstrap, 1), {"policy_mask": policy}),
        "scenario_value_column": (ScenarioInputs(Decision("budget", 50_000),
                                                 Economics(5, 100, 1000, value_column="spend"),
                                                 None, a.bootstrap, 1), {"values": spend}),
        "scenario_payoff_threshold": (ScenarioInputs(Decision("threshold", 0.5),
                                                     Economics(payoff=(95, -5, 0, -2)), None,
                                                     a.bootstrap, 1), {}),
    }
    for name, (inputs, extra) in cases.items():
        secs, r = _best(lambda: simulate_scenario(y, score, inputs, **extra), a.repeats)
        line = {"bench": name, "rows": n, "bootstrap": a.bootstrap, "seconds": round(secs, 3),
                "goal_s": 5.0, "reference_full_poisson_s": round(ref_s, 3),
                "speedup": round(ref_s / secs, 1),
                "conversions_ci95": [round(v, 1) for v in r.ci95["conversions_model"]]}
        if name == "scenario_top20_cost_value":  # same statistic as the reference: compare
            line["reference_conversions_ci95"] = [round(v, 1) for v in ref_ci]
        print(json.dumps(line))
    secs, _ = _best(lambda: simulate_scenario(score * 0.3, score, base, expected=True), a.repeats)
    print(json.dumps({"bench": "scenario_expected_outcomes", "rows": n, "bootstrap": a.bootstrap,
                      "seconds": round(secs, 3), "goal_s": 5.0,
                      "reference_full_poisson_s": round(ref_s, 3),
                      "speedup": round(ref_s / secs, 1)}))
    t = rng.integers(0, 2, n)
    yu = (rng.random(n) < 0.05 + 0.1 * t * score).astype(int)
    share = ScenarioInputs.top_share(0.3, Economics(1.0, 50.0), n_bootstrap=a.bootstrap, seed=1)
    secs, _ = _best(lambda: simulate_uplift(yu, t, score, share, propensity=rng.random(n)),
                    a.repeats)
    print(json.dumps({"bench": "uplift_top30_with_propensity", "rows": n,
                      "bootstrap": a.bootstrap, "seconds": round(secs, 3), "goal_s": 5.0,
                      "reference_full_poisson_s": round(ref_s, 3),
                      "speedup": round(ref_s / secs, 1)}))


if __name__ == "__main__":
    main()
