"""``swarmsim lti`` on a scene with ``[lti.drone]``: a stochastic LTI model of a quadrotor's
closed-loop horizontal velocity, learned from simulated flight logs, with its PAC-Bayes bound.

One batch of drones flies in velocity-command mode (`swarmsim.dynamics.flightlog`): drone 0 gives
the held-out pilot log that fixes order, prior and lambda; then one training and one validation
log per trial. For each N the first N samples of every training log are learned from, and the
bound is compared with the posterior's loss on the fresh validation log. The controller comes
from `controllers.flight` (swarmsim itself never imports it). Writes ``DIR/summary.json`` and
``DIR/bound_vs_N.png``; one progress line per N on stderr.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from swarmsim.scene import LTIConfig, SceneError

if TYPE_CHECKING:
    from swarmsim.lti.fromdata import LogResult

# Leading names of swarmsim.lti error messages -> the scene key to blame.
_ERROR_KEYS = {
    "order": "lti.learn.order",
    "orders": "lti.learn.order",
    "method": "lti.learn.method",
    "delta": "lti.bound.delta",
    "lam": "lti.bound.lambda",
    "prior": "lti.bound.prior_std",
    "cov": "lti.bound.prior_std",
    "support": "lti.bound.prior_std",
    "N": "lti.bound.pilot_N",
}
STEP_SECONDS = 5.0  # long enough for the velocity loop to settle (time constant < 1 s)


def run(cfg: LTIConfig, source: str, *, quick: bool = False) -> dict[str, Any]:
    """Fly the logs, learn and bound; returns the summary (plain JSON types)."""
    from controllers.flight import flight_controller
    from swarmsim.dynamics.flightlog import Excitation, fly_velocity_logs, velocity_step
    from swarmsim.lti.fromdata import LogDesign, LogStudy, ar1_filter
    from swarmsim.lti.model import LTIError
    from swarmsim.lti.response import response_summary, rise_time

    d, b, ex = cfg.drone, cfg.bound, cfg.experiment
    if d is None:
        raise ValueError("lti_drone.run: expected an [lti] config with [lti.drone]")
    start = time.perf_counter()
    excitation = Excitation(
        rate=d.rate,
        amplitude=d.amplitude,
        bandwidth=d.bandwidth,
        noise_std=d.noise_std,
        gust_std=d.gust_std,
        gust_time=d.gust_time,
    )
    controller = flight_controller(d.controller, airframe=d.airframe, ctrl_hz=d.ctrl_hz)
    trials, longest = ex.trials, max(ex.N)
    log = fly_velocity_logs(
        controller,
        1 + 2 * trials,
        max(longest, b.pilot_N),
        np.random.default_rng([ex.seed, 3]),
        excitation=excitation,
        airframe=d.airframe,
        altitude=d.altitude,
        ctrl_hz=d.ctrl_hz,
    )
    if np.any(log.crashed):
        raise SceneError(
            source,
            "lti.drone",
            f"{int(log.crashed.sum())} drones crashed while logging; lower amplitude or gust_std",
        )
    u_pilot, y_pilot = log.axis(0, d.axis)
    train = [log.axis(1 + i, d.axis) for i in range(trials)]
    validation = [
        (u[:longest], y[:longest])
        for u, y in (log.axis(1 + trials + i, d.axis) for i in range(trials))
    ]
    flown = time.perf_counter() - start
    try:
        design = LogDesign.from_pilot(
            u_pilot[: b.pilot_N],
            y_pilot[: b.pilot_N],
            np.random.default_rng([ex.seed, 0]),
            order=cfg.learn.order,
            std=b.prior_std,
            # The scene loader checked these against their choices (and learn.method against
            # 'n4sid' / 'pem' for [lti.drone]).
            prior_cov=cast(Literal["diagonal", "pilot"], b.prior_cov),
            r_bar=b.r_bar,
            parametrization=cast(Literal["auto", "observer", "full"], b.parametrization),
            n_generators=d.generators,
            input_filter=ar1_filter(excitation.pole, d.amplitude),
            delta=b.delta,
            lam=b.lam,
            n_psi=b.psi_samples,
            n_posterior=b.posterior_samples,
        )
        method = cast(Literal["n4sid", "pem"], cfg.learn.method)
        results = []
        for N in ex.N:
            study = LogStudy.at(design, N, np.random.default_rng([ex.seed, 1, N]))
            result = study.run(
                train, validation, np.random.default_rng([ex.seed, 2, N]), method=method
            )
            _progress(result)
            results.append(result)
    except LTIError as exc:
        name = str(exc).partition(":")[0]
        raise SceneError(source, _ERROR_KEYS.get(name, "lti"), str(exc)) from None
    t, v = velocity_step(
        flight_controller(d.controller, airframe=d.airframe, ctrl_hz=d.ctrl_hz),
        duration=STEP_SECONDS,
        airframe=d.airframe,
        altitude=d.altitude,
        ctrl_hz=d.ctrl_hz,
        axis=d.axis,
    )
    k = controller.velocity_gain
    return {
        "scene": source,
        "quick": quick,
        "data": "flight-log",
        # A flight log has no true LTI system: Psi is the worst case over candidate generators.
        "true_system": None,
        "psi_source": results[0].psi.source,
        "note": "No true LTI system generated these logs. Psi is the largest value over "
        f"{len(design.generators)} candidate stochastic LTI generators (the pilot model "
        "and prior draws, innovation variance raised to a 3-sigma upper value); the bound "
        "holds with probability >= 1 - delta if the log's generator is among them, which "
        "the validation logs check.",
        "method": cfg.learn.method,
        "order": design.order,
        "order_scores": {str(n): s for n, s in design.order_scores.items()},
        "form": b.form,
        "delta": b.delta,
        "lambda": b.lam,
        "loss_scale": design.loss_scale,
        "parametrization": design.param.form,
        "prior_cov": b.prior_cov,
        "prior_std": b.prior_std,
        "pilot_N": b.pilot_N,
        "psi_samples": b.psi_samples,
        "posterior_samples": b.posterior_samples,
        "seed": ex.seed,
        "trials": trials,
        "flight": {
            "airframe": d.airframe,
            "controller": d.controller,
            "axis": d.axis,
            "rate": d.rate,
            "ctrl_hz": d.ctrl_hz,
            "altitude": d.altitude,
            "amplitude": d.amplitude,
            "bandwidth": d.bandwidth,
            "noise_std": d.noise_std,
            "gust_std": d.gust_std,
            "gust_time": d.gust_time,
            "seconds_flown": max(longest, b.pilot_N) / d.rate,
        },
        # What the controller design implies: a velocity loop with gain k (1/s) is a first-order
        # lag of time constant 1/k if the attitude loop inside it is much faster.
        "controller_design": {
            "velocity_gain": k,
            "time_constant": 1.0 / k,
            "bandwidth_hz": k / (2.0 * math.pi),
        },
        "measured_step": {
            "rise_time_63": rise_time(t, v, float(v[-1])),
            "final": float(v[-1]),
            "t": t[::4].tolist(),
            "v": v[::4].tolist(),
        },
        # White sensor noise is unpredictable: no predictor's loss is below its variance.
        "noise_floor": d.noise_std**2,
        "pilot_model": response_summary(design.pilot, d.rate),
        "per_N": [r.summary(d.rate) for r in results],
        "seconds": time.perf_counter() - start,
        "seconds_flying": flown,
    }


def _progress(result: LogResult) -> None:
    print(
        f"lti: N={result.N}: bound {np.mean(result.bounds):.4g}, validation loss "
        f"{np.mean(result.validation_losses):.4g}, E_rho V_N "
        f"{np.mean(result.empirical_losses):.4g}, held in {result.held:.0%} of logs "
        f"({result.seconds:.1f} s)",
        file=sys.stderr,
        flush=True,
    )


def headline(summary: dict[str, Any], out: Path) -> str:
    """The one-line result printed by the CLI."""
    last = summary["per_N"][-1]
    f = summary["flight"]
    return (
        f"lti: {f['airframe']}/{f['controller']} velocity loop, order {summary['order']}, "
        f"{len(summary['per_N'])} N values, {summary['trials']} logs each -> {out}: at "
        f"N={last['N']} bound {last['mean_bound']:.4g} >= validation loss "
        f"{last['mean_validation_loss']:.4g} in {last['bound_held']:.0%} of logs; gain "
        f"{last['mean_steady_state_gain']:.3f}, rise time {last['mean_rise_time_63']:.3f} s "
        f"(measured step {summary['measured_step']['rise_time_63']:.3f} s)"
    )


def write_plot(path: Path, summary: dict[str, Any]) -> None:
    """Bound, validation and training loss against N, and the step responses, as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from apps.images import log_ticks, write_png
    from swarmsim.lti.model import Predictor
    from swarmsim.lti.response import step_response

    rows = summary["per_N"]
    Ns = np.array([r["N"] for r in rows], float)
    fig = Figure(figsize=(10.0, 4.2), dpi=110, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    bound = np.array([r["mean_bound"] for r in rows])
    left.loglog(Ns, bound, "o-", color="C3", label="PAC-Bayes bound")
    left.loglog(
        Ns,
        [r["mean_validation_loss"] for r in rows],
        "s-",
        color="C0",
        label=r"validation $E_\rho V$ (fresh log)",
    )
    left.loglog(
        Ns,
        [r["mean_empirical_loss"] for r in rows],
        "^--",
        color="C2",
        label=r"training $E_\rho V_N$",
    )
    floor = summary["noise_floor"]
    left.axhline(floor, color="0.4", ls=":", label=f"sensor-noise floor ({floor:.3g})")
    for n, b, r in zip(Ns, bound, rows, strict=True):
        left.annotate(
            f"{r['bound_held']:.0%}",
            (n, b),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=8,
            color="C3",
        )
    left.set(
        xlabel="N (samples)",
        ylabel="one-step prediction error (m/s)²",
        title="bound vs loss on a fresh log (labels: bound held)",
    )
    left.legend(fontsize=8)
    log_ticks(left, Ns)
    step = summary["measured_step"]
    right.plot(step["t"], step["v"], color="k", lw=2.0, label="quadrotor (noise-free step)")
    rate = summary["flight"]["rate"]
    for i, r in enumerate(rows):
        m = r.get("model")
        if m is None:
            continue
        model = _model_from_summary(m, Predictor)
        if model is None:
            continue
        t, y = step_response(model, rate, step["t"][-1])
        right.step(t, y, where="post", color=f"C{i}", lw=1.0, label=f"identified, N={r['N']}")
    tau = summary["controller_design"]["time_constant"]
    right.axvline(tau, color="0.5", ls=":", label=f"design 1/k_v = {tau:.2f} s")
    right.set(
        xlabel="time after the step (s)",
        ylabel="velocity (m/s)",
        title="unit step of the commanded velocity",
    )
    right.legend(fontsize=8)
    f = summary["flight"]
    fig.suptitle(
        f"{f['airframe']} / {f['controller']}, {f['rate']:g} Hz log, order "
        f"{summary['order']}, δ = {summary['delta']:g}; Ψ over candidate generators "
        "(no true system)",
        fontsize=10,
    )
    canvas.draw()
    write_png(path, np.asarray(canvas.buffer_rgba())[..., :3])


def _model_from_summary(stats: dict[str, Any], predictor: type) -> Any:
    """The stored model's (A, B, C, D) when the summary carries them, else None."""
    mats = stats.get("matrices")
    if mats is None:
        return None
    n = len(mats["A"])
    return predictor(A=mats["A"], B=mats["B"], C=mats["C"], D=mats["D"], K=np.zeros((n, 1)))
