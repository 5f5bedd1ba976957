"""Reproduce the AOS swarm paper's comparison: adaptive PSO vs brute force vs parallel sampling.

Each strategy flies its paper scene (``scenes/paper_static.toml``, ``brute_force.toml``,
``parallel.toml``: 300 trees/ha, person lying at (0, 10) m, 512² thermal + RGB) over several
seeds; a seed changes the forest, the sensor noise and the PSO's random steps. ``pso-agreement``
is the PSO with the history option ``strategy.agreement = 0.3`` (the objective counts only
pixels that at least 30 % of the covering history views flag; not the paper's). Per run we keep the
summary of ``swarmsim run`` plus the time at which the detection coverage peaked. The table gives,
per strategy, mean ± sd over the seeds of

* the maximum **detection coverage** (the share of the person covered by the detected blob: what
  we take the paper's "visibility" to be) and the time it is first reached;
* the maximum **optical visibility** (1 − occlusion density through the integrated views) and the
  time it is first reached;
* the maximum **integral visibility** (the result's integral image of anomaly masks averaged over
  the person: the fraction of integrated views that flag it) and the time it is first reached;
* how many runs detected the person (estimate within the scene's detection radius) and when;
* simulated seconds per wall second.

A second table repeats both visibilities counting only iterations whose result integrates at
least ``--min-views`` views over the person (a maximum reached through one or two views is a
glimpse, not a synthetic aperture), and the optical visibility at the end of the mission; a last one
counts, seed by seed, how often one strategy's maximum beats another's (same forest).

Runs are written one JSON file each under ``--out`` as they finish, and existing files are
reused, so an interrupted reproduction resumes where it stopped. ``--workers`` runs missions in
parallel processes.

Usage::

    .venv/bin/python benchmarks/paper_reproduction.py --json benchmarks/paper_reproduction.json
    .venv/bin/python benchmarks/paper_reproduction.py --seeds 0 1 --strategies parallel  # quick
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from apps.bench import machine, publish
from apps.images import write_text

#: Strategy -> (scene file, the paper's result: visibility %, seconds).
PAPER = {
    "pso": ("paper_static.toml", 72.0, 14.0),
    "pso-agreement": ("paper_static.toml", 72.0, 14.0),
    "brute-force": ("brute_force.toml", 51.0, 75.0),
    "parallel": ("parallel.toml", 19.0, 3.0),
}
#: Scene overrides that make a strategy variant (before ``--set``'s).
VARIANTS = {"pso-agreement": ["strategy.agreement=0.3"]}
DEFAULT_OUT = Path("out/paper_reproduction")


def run_one(strategy: str, seed: int, overrides: list[str], backend: str | None) -> dict[str, Any]:
    """One mission of ``strategy`` on its paper scene with ``run.seed = seed``."""
    from controllers.registry import make_mission
    from swarmsim.scene import SCENES_DIR, load_scene

    overrides = [*VARIANTS.get(strategy, []), *overrides]
    scene = load_scene(SCENES_DIR / PAPER[strategy][0], [f"run.seed={seed}", *overrides])
    result = make_mission(scene, backend=backend).run()
    summary = dict(result.summary)
    detection = np.array([r.detection for r in result.records], np.float64)
    summary["time_to_max_detection_s"] = None
    if len(detection) and np.isfinite(detection).any():
        best = result.records[int(np.nanargmax(detection))]
        summary["time_to_max_detection_s"] = float(best.time)
    summary["realtime_factor"] = summary["sim_time_s"] / max(summary["wall_time_s"], 1e-9)
    summary["trace"] = {
        key: [float(getattr(r, key)) for r in result.records]
        for key in ("time", "visibility", "integral_visibility", "detection", "views", "history")
    }
    summary["scene"] = PAPER[strategy][0]
    summary["overrides"] = overrides
    return summary


def _mean_sd(values: list[float | None]) -> dict[str, Any]:
    a = np.array([v for v in values if v is not None and math.isfinite(v)], np.float64)
    if a.size == 0:
        return {"n": 0, "mean": None, "sd": None}
    return {"n": int(a.size), "mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1
            else 0.0}  # fmt: skip


def aperture_figures(run: dict[str, Any], min_views: float) -> dict[str, float | None]:
    """Both visibilities' maxima over the iterations whose result covers the person with at
    least ``min_views`` views, the times they are reached, and the optical one at the end."""
    trace = run["trace"]
    time_s = np.asarray(trace["time"], np.float64)
    wide = np.asarray(trace["views"], np.float64) >= min_views
    out: dict[str, float | None] = {}
    for key, name in (("visibility", "visibility"), ("integral", "integral_visibility")):
        # Runs written before the record field was renamed keep it as "integral".
        values = np.asarray(trace.get(name, trace.get(key)), np.float64)
        ok = wide & np.isfinite(values)
        k = int(np.argmax(np.where(ok, values, -np.inf))) if ok.any() else None
        out[f"wide_max_{key}"] = None if k is None else float(values[k])
        out[f"time_to_wide_max_{key}_s"] = None if k is None else float(time_s[k])
    # The optical visibility is measured from above the person whatever the result's view, so
    # its last value is the aperture a strategy ends with; the integral's is not (a baseline's
    # last view may not contain the person).
    out["final_visibility"] = float(trace["visibility"][-1]) if len(time_s) else None
    return out


def with_aperture(run: dict[str, Any], min_views: float) -> dict[str, Any]:
    """The run with its `aperture_figures` merged in (once: an enriched run is returned as is;
    a run without a trace gains nothing)."""
    if "trace" not in run or "wide_max_visibility" in run:
        return run
    return {**run, **aperture_figures(run, min_views)}


def aggregate(runs: list[dict[str, Any]], min_views: float = 10.0) -> dict[str, Any]:
    """Mean ± sd over the runs of one strategy."""
    keys = (
        "max_detection", "time_to_max_detection_s", "max_visibility", "time_to_max_visibility_s",
        "max_integral_visibility", "time_to_max_integral_visibility_s", "time_to_detection_s",
        "sim_time_s", "realtime_factor",
    )  # fmt: skip
    runs = [with_aperture(r, min_views) for r in runs]
    keys += tuple(k for k in runs[0] if k.startswith(("wide_", "time_to_wide_", "final_")))
    out: dict[str, Any] = {k: _mean_sd([r.get(k) for r in runs]) for k in keys}
    out["runs"] = len(runs)
    out["detected_runs"] = sum(bool(r["detected"]) for r in runs)
    return out


def _pm(stat: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    if not stat["n"]:
        return "—"
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['sd'] * scale:.{digits}f}"


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table of the aggregated results next to the paper's."""
    lines = [
        "| strategy | paper | detection coverage, max % | at s | optical visibility, max % "
        "| at s | integral visibility, max % | at s | detected | first detection, s "
        "| sim s per wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, agg in results.items():
        _, vis, at = PAPER[name]
        lines.append(
            f"| {name} | {vis:.0f} % at {at:.0f} s | {_pm(agg['max_detection'], 100)} "
            f"| {_pm(agg['time_to_max_detection_s'])} | {_pm(agg['max_visibility'], 100)} "
            f"| {_pm(agg['time_to_max_visibility_s'])} "
            f"| {_pm(agg['max_integral_visibility'], 100)} "
            f"| {_pm(agg['time_to_max_integral_visibility_s'])} "
            f"| {agg['detected_runs']}/{agg['runs']} "
            f"| {_pm(agg['time_to_detection_s'])} | {_pm(agg['realtime_factor'], digits=2)} |"
        )
    return "\n".join(lines)


def aperture_table(results: dict[str, dict[str, Any]], min_views: float) -> str:
    """Markdown table of the visibilities through at least ``min_views`` views, and at the end."""
    lines = [
        f"| strategy | optical visibility through ≥ {min_views:g} views, max % | at s "
        f"| integral visibility through ≥ {min_views:g} views, max % | at s "
        "| optical visibility at the end, % |",
        "|---|---|---|---|---|---|",
    ]
    for name, agg in results.items():
        if "wide_max_visibility" not in agg:
            continue
        lines.append(
            f"| {name} | {_pm(agg['wide_max_visibility'], 100)} "
            f"| {_pm(agg['time_to_wide_max_visibility_s'])} "
            f"| {_pm(agg['wide_max_integral'], 100)} | {_pm(agg['time_to_wide_max_integral_s'])} "
            f"| {_pm(agg['final_visibility'], 100)} |"
        )
    return "\n".join(lines)


def _wilcoxon(differences: list[float]) -> str:
    """Two-sided Wilcoxon signed-rank p-value of paired differences, as a table cell suffix."""
    from scipy.stats import wilcoxon

    d = np.asarray(differences, np.float64)
    if not np.any(d != 0.0):
        return ""
    p = float(wilcoxon(d).pvalue)
    return ", p < 0.001" if p < 0.001 else f", p = {p:.3f}"


def paired_table(runs: dict[str, list[dict[str, Any]]], min_views: float) -> str:
    """Markdown table: in how many seeds (same forest) the first strategy's maximum beats the
    second's, per metric, with the two-sided Wilcoxon signed-rank p-value of the differences."""
    metrics = {
        "detection coverage": lambda r: r.get("max_detection"),
        "optical visibility": lambda r: r.get("max_visibility"),
        "integral visibility": lambda r: r.get("max_integral_visibility"),
        f"optical visibility, ≥ {min_views:g} views": lambda r: r.get("wide_max_visibility"),
        f"integral visibility, ≥ {min_views:g} views": lambda r: r.get("wide_max_integral"),
    }
    runs = {name: [with_aperture(r, min_views) for r in rs] for name, rs in runs.items()}
    names = list(runs)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    lines = ["| seeds where | " + " | ".join(metrics) + " |",
             "|---|" + "---|" * len(metrics)]  # fmt: skip
    for a, b in pairs:
        cells = []
        for value in metrics.values():
            differences = []
            for ra, rb in zip(runs[a], runs[b], strict=True):
                va, vb = value(ra), value(rb)
                if va is not None and vb is not None:
                    differences.append(va - vb)
            wins = sum(d > 0 for d in differences)
            cells.append(f"{wins}/{len(differences)}{_wilcoxon(differences)}")
        lines.append(f"| {a} > {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--strategies", nargs="+", default=list(PAPER), choices=list(PAPER))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="scene override for every run (repeatable)")  # fmt: skip
    parser.add_argument("--backend", default=None, help="backend (default: the scenes')")
    parser.add_argument("--workers", type=int, default=1, help="missions run in parallel")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="per-run JSON folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--min-views", type=float, default=10.0,
                        help="views over the person for the second table's maxima")  # fmt: skip
    args = parser.parse_args(argv)

    start = time.perf_counter()
    todo = []
    for strategy in args.strategies:
        for seed in args.seeds:
            path = args.out / strategy / f"seed{seed}.json"
            if not path.exists():
                todo.append((strategy, seed, path))
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
            futures = {pool.submit(run_one, s, seed, args.set, args.backend): (s, seed, path)
                       for s, seed, path in todo}  # fmt: skip
            for future, (strategy, seed, path) in futures.items():
                summary = future.result()
                write_text(path, json.dumps(summary, indent=1) + "\n")
                sys.stderr.write(
                    f"{strategy} seed {seed}: detection {summary['max_detection']}, visibility "
                    f"{summary['max_visibility']}, {summary['wall_time_s']:.0f} s wall\n"
                )
    runs = {strategy: [json.loads((args.out / strategy / f"seed{seed}.json").read_text())
                       for seed in args.seeds] for strategy in args.strategies}  # fmt: skip
    runs = {name: [with_aperture(r, args.min_views) for r in rs] for name, rs in runs.items()}
    results = {strategy: aggregate(r, args.min_views) for strategy, r in runs.items()}
    tables = [table(results), aperture_table(results, args.min_views),
              paired_table(runs, args.min_views)]  # fmt: skip
    sys.stderr.write("\n\n".join(tables) + "\n")
    figures = {"bench": "paper_reproduction", "seeds": args.seeds, "overrides": args.set,
               "min_views": args.min_views, "results": results, "tables": tables,
               "wall_time_s": time.perf_counter() - start, **machine()}  # fmt: skip
    publish(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
