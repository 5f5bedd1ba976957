"""``swarmsim lti``: learn stochastic LTI models from simulated data and check their error bounds.

For each trajectory length N of the scene's ``[lti.experiment]`` and each trial, a trajectory is
drawn from the true system of ``[lti.system]``, a posterior is learned from it (``[lti.learn]``)
and its bound (``[lti.bound]``) is compared with the posterior's exact expected loss E_rho L.
A scene with ``[lti.drone]`` instead learns from simulated quadrotor flight logs
(`apps.lti_drone`).
Writes ``DIR/summary.json`` and ``DIR/bound_vs_N.png``; one progress line per N on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from swarmsim.scene import SCENES_DIR, LTIConfig, SceneError, load_scene

if TYPE_CHECKING:
    from swarmsim.lti.experiment import StudyResult
    from swarmsim.lti.model import StochasticLTI

DEFAULT_SCENE = SCENES_DIR / "lti_siso.toml"
DEFAULT_OUT = Path("out/lti")

# --quick: the smallest and largest N only, with few trials and prior draws (tests, smoke runs).
QUICK_TRIALS = 5
QUICK_PSI_SAMPLES = 50

# Leading names of swarmsim.lti error messages -> the scene key to blame (these errors come
# from the pilot fit and the prior; a trial whose learner fails falls back on the prior mean).
_ERROR_KEYS = {
    "order": "lti.learn.order",
    "method": "lti.learn.method",
    "delta": "lti.bound.delta",
    "lam": "lti.bound.lambda",
    "form": "lti.bound.form",
    "prior": "lti.bound.prior_std",
    "support": "lti.bound.prior_std",
    "N": "lti.bound.pilot_N",  # trials never raise on N: a failed fit falls back on the prior
    "trials": "lti.experiment.trials",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``lti`` subcommand on an ``add_subparsers()`` object."""
    p = subparsers.add_parser(
        "lti", help="learn stochastic LTI models and check their PAC-Bayes error bounds"
    )
    p.add_argument(
        "scene",
        nargs="?",
        default=None,
        help="scene TOML with an [lti] section (default: scenes/lti_siso.toml)",
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scene key, e.g. lti.experiment.trials=50 (repeatable)",
    )
    p.add_argument("--seed", type=int, default=None, help="override lti.experiment.seed")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smallest and largest N only, at most {QUICK_TRIALS} trials and "
        f"{QUICK_PSI_SAMPLES} prior draws for Psi",
    )
    p.set_defaults(func=cmd_lti)
    return p


def cmd_lti(args: argparse.Namespace) -> int:
    """Run the scene's LTI study and write the summary and the plot."""
    from apps.common import UsageError
    from apps.images import write_text

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: expected a folder, got the file {str(out)!r}")
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"lti.experiment.seed={args.seed}")
    scene = load_scene(DEFAULT_SCENE if args.scene is None else args.scene, overrides=overrides)
    if scene.lti is None:
        raise SceneError(
            scene.source,
            "lti",
            "missing section; expected [lti.system] or "
            "[lti.drone] and the other [lti.*] tables (see scenes/lti_siso.toml, "
            "scenes/lti_drone.toml)",
        )
    cfg = quick(scene.lti) if args.quick else scene.lti
    if cfg.drone is not None:
        from apps import lti_drone

        summary = lti_drone.run(cfg, scene.source, quick=args.quick)
        write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
        lti_drone.write_plot(out / "bound_vs_N.png", summary)
        print(lti_drone.headline(summary, out))
        return 0
    results = _run(cfg, scene.source)
    summary = make_summary(cfg, results, scene=scene.source, quick=args.quick)
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_plot(out / "bound_vs_N.png", summary)
    last = summary["per_N"][-1]
    print(
        f"lti: {len(results)} N values, {cfg.experiment.trials} trials each -> {out}: at "
        f"N={last['N']} bound {last['mean_bound']:.4g} >= E_rho L {last['mean_true_loss']:.4g} "
        f"in {last['coverage']:.0%} of trials (optimal loss {summary['optimal_loss']:.4g})"
    )
    return 0


def quick(cfg: LTIConfig) -> LTIConfig:
    """The study shrunk for smoke tests: smallest and largest N, few trials and prior draws."""
    Ns = tuple(sorted({cfg.experiment.N[0], cfg.experiment.N[-1]}))
    experiment = dataclasses.replace(
        cfg.experiment, N=Ns, trials=min(cfg.experiment.trials, QUICK_TRIALS)
    )
    bound = dataclasses.replace(
        cfg.bound, psi_samples=min(cfg.bound.psi_samples, QUICK_PSI_SAMPLES)
    )
    return dataclasses.replace(cfg, experiment=experiment, bound=bound)


def _run(cfg: LTIConfig, source: str) -> list[StudyResult]:
    from swarmsim.lti.experiment import run_experiment
    from swarmsim.lti.model import LTIError

    b = cfg.bound
    try:
        with _single_threaded_blas():
            # The scene loader checked method, parametrization, lambda and form against their
            # choices ('sqrt-scaled' is refused without [lti.drone]).
            return run_experiment(
                _true_system(cfg),
                cfg.experiment.N,
                trials=cfg.experiment.trials,
                seed=cfg.experiment.seed,
                method=cast(Literal["n4sid", "pem", "gibbs"], cfg.learn.method),
                order=cfg.learn.order,
                pilot_N=b.pilot_N,
                std=b.prior_std,
                r_bar=b.r_bar,
                parametrization=cast(Literal["auto", "observer", "full"], b.parametrization),
                delta=b.delta,
                lam=cast(float | Literal["sqrt"], b.lam),
                form=cast(Literal["kl", "renyi2"], b.form),
                n_psi=b.psi_samples,
                n_posterior=b.posterior_samples,
                progress=_progress,
            )
    except LTIError as exc:
        name = str(exc).partition(":")[0]
        raise SceneError(source, _ERROR_KEYS.get(name, "lti"), str(exc)) from None


@contextlib.contextmanager
def _single_threaded_blas():
    """One BLAS thread while the study runs, when threadpoolctl is installed.

    The study makes many LAPACK calls on tiny matrices, which threaded BLAS slows down several
    times over; numba kernels do the heavy loops single-threaded anyway.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _progress(result: StudyResult) -> None:
    print(
        f"lti: N={result.N}: bound {result.mean_bound:.4g}, E_rho L "
        f"{result.mean_true_loss:.4g}, E_rho V_N {result.mean_empirical_loss:.4g}, coverage "
        f"{result.coverage:.0%} ({result.seconds:.1f} s)",
        file=sys.stderr,
        flush=True,
    )


def _true_system(cfg: LTIConfig) -> StochasticLTI:
    """The data generator of a simulation study ([lti.system])."""
    if cfg.system is None:
        raise ValueError("lti: expected an [lti] config with [lti.system]")
    return cfg.system.to_system()


def make_summary(
    cfg: LTIConfig, results: Sequence[StudyResult], *, scene: str, quick: bool = False
) -> dict[str, Any]:
    """The settings and per-N figures written to summary.json (plain JSON types)."""
    b = cfg.bound
    system = _true_system(cfg)
    return {
        "scene": scene,
        "quick": quick,
        "method": cfg.learn.method,
        "order": system.n if cfg.learn.order is None else cfg.learn.order,
        "form": b.form,
        "delta": b.delta,
        "lambda": b.lam,
        # Psi (KL form) or M2 (Renyi-2 form) from the true system; with real data an upper
        # bound that does not need the system would replace it.
        "psi_source": results[0].psi_source,
        "complexity_term": "Psi" if b.form == "kl" else "M2",
        "parametrization": b.parametrization,
        "prior_std": b.prior_std,
        "pilot_N": b.pilot_N,
        "r_bar": b.r_bar,
        "psi_samples": b.psi_samples,
        "posterior_samples": b.posterior_samples,
        "seed": cfg.experiment.seed,
        "trials": cfg.experiment.trials,
        # The true system's own predictor: the least loss any predictor can have.
        "optimal_loss": float(np.trace(system.noise_cov)),
        "per_N": [r.summary() for r in results],
        "seconds": float(sum(r.seconds for r in results)),
    }


def write_plot(path: Path, summary: dict[str, Any]) -> None:
    """Log-log plot of bound, true loss and empirical loss against N, and of the gap, as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from apps.images import log_ticks, write_png

    rows = summary["per_N"]
    Ns = np.array([r["N"] for r in rows], float)
    bound = np.array([r["mean_bound"] for r in rows])
    true = np.array([r["mean_true_loss"] for r in rows])
    emp = np.array([r["mean_empirical_loss"] for r in rows])
    fig = Figure(figsize=(10.0, 4.2), dpi=110, layout="constrained")
    canvas = FigureCanvasAgg(fig)  # Agg without pyplot: no global backend state
    left, right = fig.subplots(1, 2)
    left.loglog(Ns, bound, "o-", color="C3", label="PAC-Bayes bound")
    left.loglog(Ns, true, "s-", color="C0", label=r"true $E_\rho L$")
    left.loglog(Ns, emp, "^--", color="C2", label=r"empirical $E_\rho V_N$")
    best = summary["optimal_loss"]
    left.axhline(best, color="0.4", ls=":", label=f"optimal predictor ({best:.3g})")
    for n, b, r in zip(Ns, bound, rows, strict=True):
        left.annotate(
            f"{r['coverage']:.0%}",
            (n, b),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=8,
            color="C3",
        )
    left.set(
        xlabel="N (samples)",
        ylabel="one-step prediction error (mean over trials)",
        title=f"coverage of the bound per N (goal ≥ {1 - summary['delta']:.0%})",
    )
    left.legend(fontsize=8)
    gap = bound - true
    right.loglog(Ns, gap, "o-", color="C3", label=r"bound $-$ true $E_\rho L$")
    if np.all(gap > 0):
        right.loglog(
            Ns, gap[-1] * np.sqrt(Ns[-1] / Ns), ":", color="0.4", label=r"$\propto 1/\sqrt{N}$"
        )
    right.set(xlabel="N (samples)", ylabel="gap (mean over trials)", title="gap of the bound")
    right.legend(fontsize=8)
    for ax in (left, right):
        log_ticks(ax, Ns)
    lam = "√N" if summary["lambda"] == "sqrt" else f"{summary['lambda']:g}"
    lam = f", λ = {lam}" if summary["form"] == "kl" else ""
    term = "Ψ" if summary["form"] == "kl" else "M₂"
    source = {"true-system": "the true system"}.get(summary["psi_source"], "an upper bound")
    fig.suptitle(
        f"{summary['method']} learner, {summary['form']} form, δ = {summary['delta']:g}"
        f"{lam}, {summary['trials']} trials per N; {term} from {source}",
        fontsize=10,
    )
    canvas.draw()
    write_png(path, np.asarray(canvas.buffer_rgba())[..., :3])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m apps.lti [SCENE] [...]``: the subcommand on its own; returns the exit status."""
    from apps.common import EXIT_USAGE, Parser, UsageError

    parser = Parser(prog="swarmsim")
    add_parser(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
    try:
        args = parser.parse_args(["lti", *(sys.argv[1:] if argv is None else argv)])
        return args.func(args)
    except (UsageError, SceneError) as exc:
        print(f"swarmsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
