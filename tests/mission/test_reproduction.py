"""The paper-reproduction script's aggregation, on hand-made traces with known answers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "paper_reproduction.py"
_SPEC = importlib.util.spec_from_file_location("paper_reproduction", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
repro = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(repro)


def _run(visibility: list[float], views: list[float], **extra: float) -> dict:
    n = len(visibility)
    trace = {
        "time": [0.5 * i for i in range(n)],
        "visibility": visibility,
        "integral": [v / 2 for v in visibility],
        "detection": [1.0] * n,
        "views": views,
        "history": list(range(n)),
    }
    return {"trace": trace, "max_visibility": max(visibility), "detected": True, **extra}


def test_wide_maxima_skip_glimpses_through_few_views() -> None:
    # A 100 % glimpse through one view, then a 40 % aperture of 12 views, ending at 30 %.
    run = _run([1.0, 0.4, 0.3], [1.0, 12.0, 20.0])
    figures = repro.aperture_figures(run, min_views=10)
    assert figures["wide_max_visibility"] == pytest.approx(0.4)
    assert figures["time_to_wide_max_visibility_s"] == pytest.approx(0.5)
    assert figures["wide_max_integral"] == pytest.approx(0.2)
    assert figures["final_visibility"] == pytest.approx(0.3)
    none = repro.aperture_figures(run, min_views=50)
    assert none["wide_max_visibility"] is None and none["time_to_wide_max_visibility_s"] is None


def test_paired_table_counts_seed_by_seed_wins() -> None:
    runs = {
        "a": [_run([0.5], [10.0]), _run([0.2], [10.0]), _run([0.9], [10.0])],
        "b": [_run([0.4], [10.0]), _run([0.3], [10.0]), _run([0.1], [10.0])],
    }
    table = repro.paired_table(runs, min_views=10)
    row = next(line for line in table.splitlines() if line.startswith("| a > b"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    # optical visibility, and the same through >= 10 views: a wins seeds 0 and 2.
    assert cells[1].startswith("2/3,") and cells[3].startswith("2/3,")


def test_paired_table_gives_the_exact_wilcoxon_p_value() -> None:
    # Three positive differences of distinct sizes: of the 2^3 equally likely sign patterns
    # under the null, one is as extreme on each side, so the two-sided p is 2/8.
    runs = {
        "a": [_run([0.5], [10.0]), _run([0.6], [10.0]), _run([0.9], [10.0])],
        "b": [_run([0.4], [10.0]), _run([0.3], [10.0]), _run([0.1], [10.0])],
    }
    row = next(line for line in repro.paired_table(runs, min_views=10).splitlines()
               if line.startswith("| a > b"))  # fmt: skip
    assert [c.strip() for c in row.strip("|").split("|")][2] == "3/3, p = 0.250"


def test_aggregate_reports_mean_and_sd_over_seeds() -> None:
    runs = [_run([0.2, 0.4], [10.0, 10.0]), _run([0.6, 0.5], [10.0, 10.0])]
    agg = repro.aggregate(runs, min_views=10)
    assert agg["wide_max_visibility"]["mean"] == pytest.approx(0.5)
    assert agg["wide_max_visibility"]["sd"] == pytest.approx(0.1414213562, rel=1e-6)
    assert agg["detected_runs"] == 2
