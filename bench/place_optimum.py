#!/usr/bin/env python3
"""The optimum of an exported placement problem, by an exact MILP solver (HiGHS), and
how far svcmodel's placement is from it.

    python3 -m venv /tmp/highs && /tmp/highs/bin/pip install -r bench/requirements.txt
    mkdir -p /tmp/place && BENCH_PLACE=500x12 BENCH_RUNS=1 BENCH_EXPORT=/tmp/place \\
        cargo bench -p svcmodel-compiler --bench place
    /tmp/highs/bin/python bench/place_optimum.py /tmp/place/place-500x12.json

The model is the one svcmodel searches (compiler/src/place/problem.rs):
- x[i][e] = 1 when item i runs in environment e, for the environments its unary
  rules allow; each item in exactly one;
- capacity: cpu and memory per environment;
- near: both items in the same environment;
- a dependency with a latency budget or a bandwidth: where the dependency runs in f,
  the consumer runs in f or in an environment whose link to f meets the budget;
- spread groups: at most one member in an environment with fewer than two domains;
- link bandwidth is not modelled: the file is refused if a dependency needs bandwidth
  over a link that limits it.
Objective: cost plus unmet preference weights, per item and environment.
"""

import json
import sys
import time

import highspy
import numpy as np


def solve(problem, time_limit):
    envs = problem["envs"]
    items = problem["items"]
    k = len(envs)
    links = {}
    for link in problem["links"]:
        links[(link["a"], link["b"])] = link
        links[(link["b"], link["a"])] = link
    for edge in problem["edges"]:
        if edge["bandwidth"] is None:
            continue
        if any(l["bandwidth"] is not None for l in problem["links"]):
            sys.exit("link bandwidth is not modelled here: export a problem without it")

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-7)
    h.setOptionValue("threads", 1)

    var = {}
    costs = []
    for i, item in enumerate(items):
        for e in range(k):
            if item["allowed"][e]:
                var[(i, e)] = len(costs)
                costs.append(item["objective"][e])
    n = len(costs)
    inf = highspy.kHighsInf
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(costs))
    h.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n)
    )

    def row(lower, upper, entries):
        if not entries:
            if lower > 0:
                raise ValueError("an empty row that must hold")
            return
        index = np.array([c for c, _ in entries], dtype=np.int32)
        value = np.array([v for _, v in entries], dtype=np.double)
        h.addRow(lower, upper, len(entries), index, value)

    for i, item in enumerate(items):
        row(1, 1, [(var[(i, e)], 1.0) for e in range(k) if (i, e) in var])
    for e, env in enumerate(envs):
        for key in ("cpu", "memory"):
            cap = env[f"{key}_cap"]
            if cap is None:
                continue
            entries = [
                (var[(i, e)], float(item[key][e]))
                for i, item in enumerate(items)
                if (i, e) in var and item[key][e] > 0
            ]
            row(-inf, float(cap), entries)
    for near in problem["nears"]:
        a, b = near["item"], near["target"]
        for e in range(k):
            entries = []
            if (a, e) in var:
                entries.append((var[(a, e)], 1.0))
            if (b, e) in var:
                entries.append((var[(b, e)], -1.0))
            if entries:
                row(0, 0, entries)
    for edge in problem["edges"]:
        if edge["latency"] is None and edge["bandwidth"] is None:
            continue
        a, b = edge["from"], edge["to"]
        for f in range(k):
            if (b, f) not in var:
                continue
            entries = [(var[(b, f)], 1.0)]
            for e in range(k):
                if (a, e) not in var:
                    continue
                if e == f:
                    ok = True
                else:
                    link = links.get((e, f))
                    ok = link is not None and (
                        edge["latency"] is None or (link["latency"] or 0) <= edge["latency"]
                    )
                if ok:
                    entries.append((var[(a, e)], -1.0))
            row(-inf, 0, entries)
    for group in problem["groups"]:
        for e in range(k):
            if group["domains"][e] >= 2:
                continue
            entries = [(var[(i, e)], 1.0) for i in group["items"] if (i, e) in var]
            if len(entries) > 1:
                row(-inf, 1, entries)

    start = time.time()
    h.run()
    solution = h.getSolution().col_value
    env_of = [None] * len(items)
    for (i, e), c in var.items():
        if solution[c] > 0.5:
            env_of[i] = e
    problem["highs_env_of"] = env_of
    seconds = time.time() - start
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    return status, info.objective_function_value, info.mip_dual_bound, seconds, n


def main():
    time_limit = float(next((a.split('=')[1] for a in sys.argv if a.startswith('--time-limit=')), 600))
    for path in [a for a in sys.argv[1:] if not a.startswith("--")]:
        with open(path) as f:
            problem = json.load(f)
        status, optimum, bound, seconds, n = solve(problem, time_limit)
        ours = problem.get("svcmodel_objective")
        print(f"{path}: {len(problem['items'])} items, {len(problem['envs'])} environments, {n} variables")
        print(f"  HiGHS: {status}, objective {optimum:.4f}, bound {bound:.4f}, {seconds:.1f} s")
        if ours is not None:
            gap = (ours - optimum) / optimum * 100 if optimum else 0.0
            print(f"  svcmodel: objective {ours:.4f}, {gap:+.3f}% against HiGHS")
        if "--save" in sys.argv:
            with open(path + ".solved.json", "w") as f:
                json.dump(problem, f)


if __name__ == "__main__":
    main()
