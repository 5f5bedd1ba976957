"""Scene files: a validated TOML schema for everything one run needs.

A scene is a TOML file whose sections map onto frozen dataclasses (``[run]`` -> `RunConfig`,
``[forest]`` -> `ForestConfig`, ``[[targets]]`` -> `TargetConfig`, ...). Every key has a default,
a unit and its constraints in the field metadata; one generic converter walks the dataclass fields,
so a new section is added by declaring a dataclass and one field on `Scene`.

Conventions: metres, seconds, degrees and °C; world frame x east, y north, z up, ground at z = 0.

Example:
    scene = load_scene("scenes/default.toml", overrides=["forest.density=400"])
    scene.forest.density  # 400.0
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import numbers
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from swarmsim.errors import SwarmsimError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from swarmsim.lti.model import StochasticLTI

__all__ = [
    "DEFAULT_SCENE",
    "SCENES_DIR",
    "CameraConfig",
    "DynamicsConfig",
    "EmissivityConfig",
    "ForestConfig",
    "LTIBoundConfig",
    "LTIConfig",
    "LTIDroneConfig",
    "LTIExperimentConfig",
    "LTILearnConfig",
    "LTISystemConfig",
    "MissionConfig",
    "RunConfig",
    "Scene",
    "SceneError",
    "StrategyConfig",
    "SwarmConfig",
    "TargetConfig",
    "ThermalConfig",
    "generated_block",
    "key_table",
    "load_scene",
    "parse_scene",
    "parse_section",
    "scene_key",
    "schema_keys",
    "schema_markdown",
    "suggest",
    "update_markdown",
]

SCENES_DIR = Path(__file__).resolve().parents[1] / "scenes"
DEFAULT_SCENE = SCENES_DIR / "default.toml"

# Temperatures below absolute zero are always a typo (usually a missing digit or a Kelvin value).
_ABS_ZERO_C = -273.15


# --------------------------------------------------------------------------------------------
# Errors


class SceneError(SwarmsimError):
    """A scene file, scene dict or override is invalid.

    Attributes:
        file: Path of the scene file as given, or "<dict>".
        key: Dotted key at fault (e.g. "targets[1].pose"), None for file-level problems.
        detail: What was expected and what was found.
    """

    def __init__(self, file: str, key: str | None, detail: str) -> None:
        self.file = str(file)
        self.key = key
        self.detail = detail
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduce would call __init__ with the message only; sweeps pickle errors.
        return (type(self), (self.file, self.key, self.detail))


class _Problem(Exception):
    """Internal: a problem at a dotted key, before the file name is known."""

    def __init__(self, key: str | None, detail: str) -> None:
        super().__init__(key, detail)
        self.key = key
        self.detail = detail


def _show(value: Any) -> str:
    """Short repr of a user value, lists shown as lists (not the tuples we store)."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        return v

    text = repr(plain(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _expected(key: str | None, what: str, got: Any) -> _Problem:
    return _Problem(key, f"expected {what}, got {_show(got)}")


def suggest(word: str, valid: Iterable[str]) -> str:
    """'did you mean ...?' for the closest valid word, else the list of valid words."""
    valid = list(valid)
    close = difflib.get_close_matches(word, valid, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid: " + ", ".join(repr(v) for v in valid)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# --------------------------------------------------------------------------------------------
# Field declaration


def _meta(
    doc: str,
    *,
    unit: str = "",
    choices: Sequence[str] = (),
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    ordered: str | None = None,
    finite: bool = True,
    name: str | None = None,
) -> dict[str, Any]:
    """Metadata of one scene key.

    Args:
        doc: One-line description for the reference.
        unit: Unit of the value (of each element for lists), "" when unitless.
        choices: Allowed strings.
        ge, gt, le, lt: Numeric bounds (closed / open), applied to every number in the value.
        ordered: "<=" or "<": elements of a fixed-size list (or the first column of a list of
            rows) must be ordered this way, e.g. [low, high] pairs.
        finite: Reject NaN and infinities.
        name: The key in the file when it cannot be the field name (e.g. "lambda").
    """
    return {
        "doc": doc,
        "unit": unit,
        "choices": tuple(choices),
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "ordered": ordered,
        "finite": finite,
        "name": name,
    }


def _key(default: Any = MISSING, doc: str = "", **constraints: Any) -> Any:
    """Declare one scene key; leave out `default` for a required key. See `_meta`.

    Sub-tables use `field(default_factory=Section, metadata=_meta(doc))` directly.
    """
    return field(default=default, metadata=_meta(doc, **constraints))


# --------------------------------------------------------------------------------------------
# Schema


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """[run]: seed and compute backend."""

    seed: int = _key(0, "Master seed; every random stream of the run derives from it.", ge=0)
    backend: str = _key("auto", "Compute backend.", choices=("cpu", "cuda", "auto"))
    memory_limit: float | None = _key(
        None,
        "Most memory a run may plan to use; unset: the memory available when it starts. A scene "
        "whose estimated need is larger is refused before anything is built.",
        unit="GiB",
        gt=0,
    )


@dataclass(frozen=True, kw_only=True)
class ForestConfig:
    """[forest]: procedural forest or random occluders over a rectangular area."""

    kind: str = _key(
        "procedural",
        "Procedural trees, random spheres (controlled experiments) or open ground.",
        choices=("procedural", "random-occluders", "none"),
    )
    area: tuple[float, float] = _key(
        (100.0, 100.0), "Extent [x, y] of the forest, centred on the origin.", unit="m", gt=0
    )
    density: float = _key(300.0, "Tree density.", unit="trees/ha", ge=0)
    species: str = _key(
        "broadleaf", "Crown shape family.", choices=("broadleaf", "conifer", "mixed")
    )
    seed: int | None = _key(None, "Forest seed; unset: derived from run.seed.", ge=0)
    height: tuple[float, float] = _key(
        (20.0, 23.0), "Tree height range [low, high].", unit="m", gt=0, ordered="<="
    )
    crown_radius: tuple[float, float] = _key(
        (5.0, 7.5), "Crown radius range [low, high].", unit="m", gt=0, ordered="<="
    )
    crown_base: tuple[float, float] = _key(
        (2.0, 6.0),
        "Height of the lowest foliage [low, high].",
        unit="m",
        ge=0,
        ordered="<=",
    )
    trunk_radius: tuple[float, float] = _key(
        (0.15, 0.30), "Trunk radius range [low, high].", unit="m", gt=0, ordered="<="
    )
    branch_levels: int = _key(2, "Levels of branch recursion (0: trunk only).", ge=0, le=3)
    foliage_density: float = _key(
        0.2, "Twigs per cubic metre of crown volume.", unit="twigs/m³", gt=0
    )
    twig_radius: float = _key(0.35, "Radius of one twig (leaf cluster) disc.", unit="m", gt=0)
    leaf_fill: float = _key(0.6, "Fraction of a twig disc covered by leaves.", gt=0, le=1)
    occluder_density: float = _key(
        0.01, "Random occluders per cubic metre (random-occluders).", unit="occluders/m³", ge=0
    )
    occluder_radius: float = _key(0.5, "Radius of one random occluder.", unit="m", gt=0)
    occluder_height: tuple[float, float] = _key(
        (5.0, 15.0),
        "Height band [low, high] holding the random occluders.",
        unit="m",
        ge=0,
        ordered="<=",
    )


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """[[targets]]: one person to find."""

    pose: str = _key("lying", "Body pose.", choices=("lying", "sitting", "standing"))
    position: tuple[float, float] = _key(doc="Ground position [x, y] (required).", unit="m")
    heading: float = _key(
        0.0,
        "Heading of the body (lying: feet to head), counter-clockwise from north.",
        unit="deg",
    )
    temperature: float = _key(34.0, "Body surface temperature.", unit="°C", ge=-50, le=100)
    clothing: tuple[float, float, float] = _key(
        (0.55, 0.12, 0.10), "Clothing colour [r, g, b] in the RGB image.", ge=0, le=1
    )
    motion: str = _key("static", "Motion model.", choices=("static", "waypoints", "random-walk"))
    waypoints: tuple[tuple[float, float, float], ...] = _key(
        (),
        'Trajectory rows [t, x, y]; required, non-empty, when motion = "waypoints".',
        unit="s, m, m",
        ordered="<",
    )
    speed: float = _key(1.0, "Walking speed (random-walk).", unit="m/s", gt=0)
    turn_rate: float = _key(30.0, "Heading diffusion of the random walk.", unit="deg/√s", ge=0)

    def _check(self) -> None:
        if self.motion == "waypoints" and not self.waypoints:
            raise _expected("waypoints", 'at least one [t, x, y] row when motion = "waypoints"', [])


@dataclass(frozen=True, kw_only=True)
class CameraConfig:
    """[camera]: the thermal/RGB camera of every drone."""

    fov: float = _key(50.0, "Full field of view across the image width.", unit="deg", gt=0, lt=180)
    resolution: tuple[int, int] = _key((512, 512), "Image size [width, height].", unit="px", ge=1)
    pitch: float = _key(
        0.0, "Tilt from nadir toward the forward direction.", unit="deg", ge=0, lt=90
    )


@dataclass(frozen=True, kw_only=True)
class EmissivityConfig:
    """[thermal.emissivity]: emissivity per material."""

    ground: float = _key(0.95, "Emissivity of the ground.", gt=0, le=1)
    wood: float = _key(0.95, "Emissivity of trunks and branches.", gt=0, le=1)
    foliage: float = _key(0.98, "Emissivity of leaves.", gt=0, le=1)
    target: float = _key(0.98, "Emissivity of persons.", gt=0, le=1)


@dataclass(frozen=True, kw_only=True)
class ThermalConfig:
    """[thermal]: temperatures, sun, sensor noise and 8-bit mapping."""

    air: float = _key(20.0, "Air temperature.", unit="°C", gt=_ABS_ZERO_C)
    ground_sunlit: float = _key(26.0, "Temperature of sunlit ground.", unit="°C", gt=_ABS_ZERO_C)
    ground_shaded: float = _key(16.0, "Temperature of shaded ground.", unit="°C", gt=_ABS_ZERO_C)
    foliage: float = _key(19.0, "Temperature of shaded foliage.", unit="°C", gt=_ABS_ZERO_C)
    foliage_sun_gain: float = _key(4.0, "Extra warmth of sunlit foliage.", unit="K", ge=0)
    wood: float = _key(18.0, "Temperature of trunks and branches.", unit="°C", gt=_ABS_ZERO_C)
    variation: float = _key(1.0, "Std of the spatial temperature variation.", unit="K", ge=0)
    sky: float = _key(
        -20.0,
        "Apparent sky temperature reflected by non-black surfaces.",
        unit="°C",
        gt=_ABS_ZERO_C,
    )
    sun_elevation: float = _key(50.0, "Sun elevation above the horizon.", unit="deg", gt=0, le=90)
    sun_azimuth: float = _key(150.0, "Sun azimuth, clockwise from north.", unit="deg", ge=0, lt=360)
    netd: float = _key(
        0.05, "Sensor noise (noise-equivalent temperature difference; cameras: 0.03-0.1 K).",
        unit="K", ge=0, le=100,
    )  # fmt: skip
    quantize: bool = _key(False, "Quantize thermal images to 8 bits over `range`.")
    range: tuple[float, float] = _key(
        (0.0, 40.0), "Temperatures [low, high] mapped to 0 and 255.", unit="°C", ordered="<"
    )
    emissivity: EmissivityConfig = field(
        default_factory=EmissivityConfig, metadata=_meta("Emissivity per material.")
    )


# Names in swarmsim.lti error messages -> keys of [lti.system]; an unstable predictor
# A - K C is blamed on K, since A alone was already checked.
_LTI_KEYS = {
    "A": "A",
    "B": "B",
    "C": "C",
    "D": "D",
    "K": "K",
    "A - K C": "K",
    "noise_cov": "noise_cov",
    "input_cov": "input_cov",
}


def _lti_problem(message: str) -> _Problem:
    """A swarmsim.lti error message as a problem at the [lti.system] key it names."""
    name, _, detail = message.partition(": ")
    key = _LTI_KEYS.get(name)
    if key is None:
        return _Problem(None, message)
    return _Problem(key, detail if key == name else message)


@dataclass(frozen=True, kw_only=True)
class LTISystemConfig:
    """[lti.system]: the true system, x(t+1) = A x + B u + K e, y = C x + D u + e, u white."""

    A: tuple[tuple[float, ...], ...] = _key(doc="State matrix (n × n), Schur stable (required).")
    B: tuple[tuple[float, ...], ...] = _key(doc="Input matrix (n × nu) (required).")
    C: tuple[tuple[float, ...], ...] = _key(doc="Output matrix (ny × n) (required).")
    D: tuple[tuple[float, ...], ...] | None = _key(None, "Feed-through (ny × nu); unset: zeros.")
    K: tuple[tuple[float, ...], ...] | None = _key(
        None, "Kalman gain (n × ny) with A − K C Schur stable (minimum phase); unset: zeros."
    )
    noise_cov: tuple[tuple[float, ...], ...] | None = _key(
        None, "Innovation covariance of e (ny × ny), positive definite; unset: identity."
    )
    input_cov: tuple[tuple[float, ...], ...] | None = _key(
        None, "Covariance of the white Gaussian input u (nu × nu); unset: identity."
    )

    def to_system(self) -> StochasticLTI:
        """The system as a `swarmsim.lti.StochasticLTI` (raises `swarmsim.lti.LTIError`)."""
        from swarmsim.lti.model import StochasticLTI

        return StochasticLTI(
            A=self.A,
            B=self.B,
            C=self.C,
            D=self.D,
            K=self.K,
            noise_cov=self.noise_cov,
            input_cov=self.input_cov,
        )

    def _check(self) -> None:
        # Shapes, stability and minimum phase are the library's checks; run them at load time
        # so a bad matrix is reported against its key before any work starts.
        from swarmsim.lti.model import LTIError

        try:
            self.to_system()
        except LTIError as exc:
            raise _lti_problem(str(exc)) from None


@dataclass(frozen=True, kw_only=True)
class LTILearnConfig:
    """[lti.learn]: the learning algorithm."""

    method: str = _key(
        "pem",
        "Subspace identification (N4SID), N4SID refined by prediction-error minimisation, or "
        "the Gibbs posterior ∝ exp(−λ V_N) · prior.",
        choices=("n4sid", "pem", "gibbs"),
    )
    order: int | None = _key(
        None,
        "State dimension of the learned models; unset: the true one ([lti.system]) or the BIC "
        "choice on the pilot log ([lti.drone]).",
        ge=1,
    )


@dataclass(frozen=True, kw_only=True)
class LTIBoundConfig:
    """[lti.bound]: the PAC-Bayes bound, its prior and its Monte-Carlo estimates."""

    delta: float = _key(
        0.05, "The bound holds with probability ≥ 1 − delta over the data.", gt=0, le=1
    )
    lam: float | str = _key(
        "sqrt",
        'λ of the KL form, fixed before the data: a number, "sqrt" for √N, or "sqrt-scaled" '
        "for √N / ℓ₀ with ℓ₀ the pilot model's prediction error ([lti.drone] only: makes the "
        "bound independent of the output's units).",
        choices=("sqrt", "sqrt-scaled"),
        gt=0,
        name="lambda",
    )
    form: str = _key("kl", "KL form (with Ψ) or Rényi-2 form (with M₂).", choices=("kl", "renyi2"))
    parametrization: str = _key(
        "auto",
        "Parameters of prior and posterior: observer canonical form (one output only), every "
        "matrix entry (full), or observer for one output and full otherwise (auto).",
        choices=("auto", "observer", "full"),
    )
    prior_std: float = _key(
        0.03,
        "Standard deviation of the Gaussian prior per parameter (prior_cov = diagonal), or its "
        "scale relative to the pilot estimate's standard errors (prior_cov = pilot).",
        gt=0,
    )
    prior_cov: str = _key(
        "diagonal",
        "Prior covariance: prior_std² · I, or prior_std² times the asymptotic covariance of the "
        "pilot estimate ([lti.drone] only).",
        choices=("diagonal", "pilot"),
    )
    pilot_N: int = _key(
        2000,
        "Samples of the independent pilot trajectory (or held-out pilot log) that centres the "
        "prior.",
        ge=100,
    )
    r_bar: float = _key(
        0.95, "Prior and posteriors are truncated to ρ(A − K C) ≤ r_bar.", gt=0, lt=1
    )
    psi_samples: int = _key(200, "Prior draws for Ψ (or M₂).", ge=1)
    posterior_samples: int = _key(150, "Posterior draws for E_ρ V_N and E_ρ L.", ge=10)


@dataclass(frozen=True, kw_only=True)
class LTIExperimentConfig:
    """[lti.experiment]: trajectory lengths, trials and seed."""

    N: tuple[int, ...] = _key(
        (500, 1000, 2000, 4000, 8000), "Trajectory lengths to study.", ge=100, ordered="<"
    )
    trials: int = _key(20, "Independent training trajectories per N.", ge=1)
    seed: int = _key(0, "Seed of the pilot run, the trajectories and the Monte-Carlo draws.", ge=0)

    def _check(self) -> None:
        if not self.N:
            raise _expected("N", "at least one trajectory length", [])


@dataclass(frozen=True, kw_only=True)
class LTIDroneConfig:
    """[lti.drone]: simulated quadrotor flight logs, commanded → measured horizontal velocity."""

    airframe: str = _key(
        "sar_quad", "Airframe flown: a URDF name in assets/ (cf2x, sar_quad) or a path."
    )
    controller: str = _key(
        "pid", "Flight controller, flown in velocity-command mode.", choices=("pid", "lqr")
    )
    axis: str = _key("x", "Horizontal axis identified (x east, y north).", choices=("x", "y"))
    rate: float = _key(20.0, "Sampling rate of the log and of the commands.", unit="Hz", gt=0)
    ctrl_hz: float = _key(
        240.0, "Control rate of the flight controller; a multiple of rate.", unit="Hz", gt=0
    )
    altitude: float = _key(20.0, "Hover altitude held during the flights.", unit="m", gt=0)
    amplitude: float = _key(
        1.0, "Standard deviation of the commanded velocity, per axis.", unit="m/s", gt=0
    )
    bandwidth: float = _key(
        0.5, "-3 dB bandwidth of the first-order filtered random commands.", unit="Hz", gt=0
    )
    noise_std: float = _key(
        0.05, "Standard deviation of the velocity sensor noise.", unit="m/s", gt=0
    )
    gust_std: float = _key(
        0.3, "Standard deviation of the Gauss-Markov wind, per axis (0: calm).", unit="m/s", ge=0
    )
    gust_time: float = _key(2.0, "Correlation time of the wind.", unit="s", gt=0)
    generators: int = _key(
        8, "Candidate data generators (pilot model + prior draws) for the bound on Ψ.", ge=1
    )

    def _check(self) -> None:
        if self.bandwidth >= 0.5 * self.rate:
            raise _expected(
                "bandwidth", f"less than rate / 2 = {0.5 * self.rate:g} Hz", self.bandwidth
            )
        sub = self.ctrl_hz / self.rate
        if abs(sub - round(sub)) > 1e-9 or round(sub) < 1:
            raise _expected("rate", f"a divisor of ctrl_hz = {self.ctrl_hz:g} Hz", self.rate)
        from swarmsim.dynamics.airframe import AirframeError, load_airframe

        try:
            load_airframe(self.airframe)
        except AirframeError as exc:
            raise _Problem("airframe", str(exc)) from None


@dataclass(frozen=True, kw_only=True)
class LTIConfig:
    """[lti]: PAC-Bayes bounds for learned LTI models: [lti.system] or [lti.drone], not both."""

    system: LTISystemConfig | None = field(
        default=None, metadata=_meta("The true data generator (a simulation study).")
    )
    drone: LTIDroneConfig | None = field(
        default=None,
        metadata=_meta("Flight logs of a quadrotor instead: there is no true LTI system."),
    )
    learn: LTILearnConfig = field(
        default_factory=LTILearnConfig, metadata=_meta("Learning algorithm.")
    )
    bound: LTIBoundConfig = field(
        default_factory=LTIBoundConfig, metadata=_meta("Bound, prior and Monte-Carlo sizes.")
    )
    experiment: LTIExperimentConfig = field(
        default_factory=LTIExperimentConfig, metadata=_meta("Trajectory lengths and trials.")
    )

    def _check(self) -> None:
        if (self.system is None) == (self.drone is None):
            raise _Problem(
                None,
                "expected exactly one of [lti.system] (a known system) and [lti.drone] "
                "(flight logs)",
            )
        if self.drone is not None:
            self._check_drone()
        else:
            for key, value, ok in (
                ("bound.lambda", self.bound.lam, "a number or 'sqrt'"),
                ("bound.prior_cov", self.bound.prior_cov, "'diagonal'"),
            ):
                if value in ("sqrt-scaled", "pilot"):
                    raise _Problem(
                        key,
                        f"expected {ok} with [lti.system] ({value!r} needs "
                        f"the pilot log of [lti.drone]), got {value!r}",
                    )
        if self.learn.method == "gibbs" and self.bound.form != "kl":
            raise _Problem(
                "bound.form",
                f"expected 'kl' with learn.method = 'gibbs' (the Gibbs posterior's bound has "
                f"the KL form), got {self.bound.form!r}",
            )
        ny = 1 if self.system is None else len(self.system.C)
        if self.bound.parametrization == "observer" and ny != 1:
            raise _Problem(
                "bound.parametrization",
                f"expected 'auto' or 'full' for {ny} outputs (the observer form needs one), "
                "got 'observer'",
            )

    def _check_drone(self) -> None:
        if self.learn.method not in ("n4sid", "pem"):
            raise _Problem(
                "learn.method",
                f"expected 'n4sid' or 'pem' with [lti.drone], got {self.learn.method!r}",
            )
        if self.bound.form != "kl":
            raise _Problem(
                "bound.form",
                f"expected 'kl' with [lti.drone] (Ψ is bounded over "
                f"candidate generators), got {self.bound.form!r}",
            )


@dataclass(frozen=True, kw_only=True)
class SwarmConfig:
    """[swarm]: the drones, their start formation and their staggered flight altitudes."""

    drones: int = _key(10, "Number of drones.", ge=1)
    altitude: float = _key(35.0, "Lowest flight altitude h1 above the ground.", unit="m", gt=0)
    altitude_step: float = _key(
        1.0, "Altitude step Δh between drones (lowest in the middle of the line).", unit="m", ge=0
    )
    start: tuple[float, float] = _key(
        (0.0, -12.0), "Centre [x, y] of the start line formation.", unit="m"
    )
    heading: float = _key(
        0.0, "Initial scan direction, counter-clockwise from north (+y).", unit="deg"
    )
    spacing: float = _key(
        4.2,
        "Slot spacing of the start line of missions without a strategy, and of strategies "
        "that have no line spacing of their own (the PSO and the parallel line use their c4).",
        unit="m",
        gt=0,
    )


@dataclass(frozen=True, kw_only=True)
class StrategyConfig:
    """[strategy]: the swarm strategy by name; its other keys are the strategy's own parameters."""

    # The simulator knows no strategy: `name` is resolved and the other keys are validated
    # against the chosen strategy's parameter dataclass when a mission is made
    # (controllers.registry.make_mission); until then they are kept as given in `options`.

    name: str = _key(
        "pso",
        "A registered strategy (see Strategy parameters below) or an import path "
        "'package.module:attr' of a factory or class (docs/strategies.md). Every other key of "
        "the table is a parameter of that strategy.",
    )
    options: tuple[tuple[str, Any], ...] = field(default=(), metadata={"internal": True})

    #: Keys not in the schema are collected in `options` instead of being refused.
    _open: ClassVar[str] = "options"

    def option_table(self) -> dict[str, Any]:
        """The strategy's parameters as given (lists as lists), for its own validation."""
        return {key: _to_plain(value) for key, value in self.options}


@dataclass(frozen=True, kw_only=True)
class MissionConfig:
    """[mission]: the search loop: duration, detection and time accounting."""

    max_time: float = _key(60.0, "Simulated flight time after which the mission ends.", unit="s",
                           gt=0)  # fmt: skip
    max_iterations: int = _key(1000, "Iterations after which the mission ends.", ge=1)
    quantile: float = _key(
        0.9998, "RX score quantile thresholding every image's anomaly mask.", gt=0, lt=1
    )
    min_score: float = _key(
        0.0,
        "RX score every flagged pixel must also exceed (0: the paper's quantile-only rule, "
        "which flags pixels in every image, target or not); calibrate with "
        "benchmarks/calibrate_threshold.py.",
        ge=0,
    )
    channels: str = _key(
        "all", "RX input: B, G, R + thermal (the paper) or thermal only.",
        choices=("all", "thermal"),
    )  # fmt: skip
    sampling: str = _key(
        "bilinear",
        "Sampling of the masks registered on the focal plane; bilinear dilates each flagged "
        "pixel by about one pixel, nearest keeps masks binary.",
        choices=("bilinear", "nearest"),
    )
    latency: float = _key(
        0.0, "Capture and processing time added to every iteration (the paper: 0).", unit="s",
        ge=0,
    )  # fmt: skip
    detection_radius: float = _key(
        3.0, "A detection counts when its position estimate is this close to the target.",
        unit="m", gt=0,
    )  # fmt: skip
    confirm: int = _key(
        0,
        "Consecutive iterations with a detection (within detection_radius) that confirm the "
        "target and end the mission; 0: never, the swarm keeps integrating until max_time "
        "(the paper's experiment).",
        ge=0,
    )


@dataclass(frozen=True, kw_only=True)
class DynamicsConfig:
    """[dynamics]: how the drones fly between waypoints."""

    model: str = _key(
        "kinematic",
        "Flight model: straight lines at constant speed (the paper's time accounting), batched "
        "rigid-body quadrotors (numba), or the same airframes in pybullet (trunks crash drones).",
        choices=("kinematic", "quadrotor", "pybullet"),
    )
    speed: float = _key(10.0, "Ground speed between waypoints.", unit="m/s", gt=0)
    airframe: str = _key(
        "sar_quad",
        "Airframe of the quadrotor models: a URDF name in assets/ (cf2x, sar_quad) or a path.",
    )
    controller: str = _key(
        "pid",
        "Flight controller of the quadrotor models: pid, lqr (registered names) or an import "
        "path 'package.module:attr' of a factory f(*, airframe) -> FlightController.",
    )


@dataclass(frozen=True, kw_only=True)
class Scene:
    """A validated scene: one instance per section plus the targets.

    Equality and hashing ignore `source`, so the same content loaded from two places is equal.
    """

    run: RunConfig = field(default_factory=RunConfig, metadata=_meta("Seed and compute backend."))
    forest: ForestConfig = field(
        default_factory=ForestConfig,
        metadata=_meta("Forest (or random occluders) over a rectangle centred on the origin."),
    )
    targets: tuple[TargetConfig, ...] = _key(
        (), "Persons to find: zero or more [[targets]] tables."
    )
    camera: CameraConfig = field(
        default_factory=CameraConfig, metadata=_meta("Camera carried by every drone.")
    )
    thermal: ThermalConfig = field(
        default_factory=ThermalConfig, metadata=_meta("Thermal radiometry, sun and sensor.")
    )
    swarm: SwarmConfig = field(
        default_factory=SwarmConfig, metadata=_meta("Drones, start formation and altitudes.")
    )
    strategy: StrategyConfig = field(
        default_factory=StrategyConfig, metadata=_meta("Swarm strategy and its constants.")
    )
    mission: MissionConfig = field(
        default_factory=MissionConfig, metadata=_meta("Search loop and detection.")
    )
    dynamics: DynamicsConfig = field(
        default_factory=DynamicsConfig, metadata=_meta("Flight model between waypoints.")
    )
    lti: LTIConfig | None = field(
        default=None,
        metadata=_meta("Stochastic LTI learning study run by `swarmsim lti`; unset elsewhere."),
    )
    source: str = field(default="<dict>", compare=False, metadata={"internal": True})
    #: (dotted key, override text) of the overrides applied, for errors found after loading.
    applied: tuple[tuple[str, str], ...] = field(
        default=(), compare=False, metadata={"internal": True}
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every key (unset optionals as None); no `source`."""
        return _to_plain(self)

    def with_overrides(self, *overrides: str) -> Scene:
        """Copy with "dotted.key=value" overrides applied and validated like a file."""
        scene = parse_scene(self.to_dict(), source=self.source, overrides=overrides)
        return dataclasses.replace(scene, applied=self.applied + scene.applied)


# --------------------------------------------------------------------------------------------
# Type introspection


def _file_key(f: dataclasses.Field[Any]) -> str:
    """The key of a field in scene files: its name unless the metadata renames it."""
    return f.metadata.get("name") or f.name


@cache
def _hints(cls: type) -> dict[str, Any]:
    """Resolved field types of a dataclass, by file key."""
    hints = typing.get_type_hints(cls)
    return {_file_key(f): hints[f.name] for f in dataclasses.fields(cls)}


@cache
def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """Schema fields of a section dataclass by file key (internal fields excluded)."""
    return {_file_key(f): f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def _optional_inner(tp: Any) -> Any | None:
    """T for `T | None`, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _strip_optional(tp: Any) -> Any:
    inner = _optional_inner(tp)
    return tp if inner is None else inner


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    """(A, B, ...) for a union of value types such as `float | str` (not `T | None`)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and _optional_inner(tp) is None:
        return tuple(a for a in typing.get_args(tp) if a is not type(None))
    return None


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _tuple_args(tp: Any) -> tuple[Any, ...] | None:
    return typing.get_args(tp) if typing.get_origin(tp) is tuple else None


def _variadic_item(tp: Any) -> Any | None:
    """T for `tuple[T, ...]`, else None."""
    args = _tuple_args(tp)
    if args and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _is_matrix(tp: Any) -> bool:
    """`tuple[tuple[T, ...], ...]`: a list of rows that must all have the same length."""
    item = _variadic_item(tp)
    return item is not None and _variadic_item(item) is not None


def _table_list_item(tp: Any) -> type | None:
    """The dataclass of an array of tables (`tuple[Section, ...]`), else None."""
    item = _variadic_item(tp)
    return item if _is_section(item) else None


def _is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


# --------------------------------------------------------------------------------------------
# Descriptions shared by error messages and the generated reference


def _num(x: float) -> str:
    return f"{x:g}"


def _bounds_text(meta: Mapping[str, Any]) -> str:
    """'> 0', 'in (0, 1]', ... or ''."""
    lo = ("(", meta["gt"]) if meta.get("gt") is not None else None
    if lo is None and meta.get("ge") is not None:
        lo = ("[", meta["ge"])
    hi = (")", meta["lt"]) if meta.get("lt") is not None else None
    if hi is None and meta.get("le") is not None:
        hi = ("]", meta["le"])
    if lo and hi:
        return f"in {lo[0]}{_num(lo[1])}, {_num(hi[1])}{hi[0]}"
    if lo:
        return f"{'>' if lo[0] == '(' else '>='} {_num(lo[1])}"
    if hi:
        return f"{'<' if hi[0] == ')' else '<='} {_num(hi[1])}"
    return ""


def _order_text(tp: Any, meta: Mapping[str, Any]) -> str:
    op = meta.get("ordered")
    if not op:
        return ""
    item = _variadic_item(tp)
    if item is not None:
        strict = "strictly " if op == "<" else ""
        return f"{'first column' if _tuple_args(item) else 'values'} {strict}increasing"
    if len(_tuple_args(tp) or ()) == 2:
        return f"low {op} high"
    return "non-decreasing" if op == "<=" else "strictly increasing"


def _noun(tp: Any, plural: bool = False) -> str:
    """Plain-words name of a value type, e.g. 'a number' / 'numbers'."""
    tp = _strip_optional(tp)
    words = {
        bool: ("true or false", "booleans"),
        int: ("an integer", "integers"),
        float: ("a number", "numbers"),
        str: ("a string", "strings"),
    }
    if tp in words:
        return words[tp][plural]
    if _is_section(tp):
        return "tables" if plural else "a table"
    if _table_list_item(tp) is not None:
        return "arrays of tables" if plural else "an array of tables"
    union = _union_args(tp)
    if union is not None:
        return " or ".join(_noun(a, plural) for a in union)
    if _is_matrix(tp):
        inner = _noun(_variadic_item(_variadic_item(tp)), plural=True)
        return ("matrices" if plural else "a matrix") + f" (list of equal-length rows) of {inner}"
    item = _variadic_item(tp)
    if item is not None:
        return ("lists" if plural else "a list") + " of " + _noun(item, plural=True)
    args = _tuple_args(tp) or ()
    same = len(set(args)) == 1
    inner = _noun(args[0], plural=True) if same else "values"
    return ("lists" if plural else "a list") + f" of {len(args)} {inner}"


def _describe(tp: Any, meta: Mapping[str, Any]) -> str:
    """What a value must be, for error messages: 'a number in (0, 1]', ..."""
    union = _union_args(_strip_optional(tp))
    if union is not None:
        return " or ".join(_describe(a, meta) for a in union)
    text = _noun(tp)
    choices = meta.get("choices")
    if choices and _strip_optional(tp) is str:
        if len(choices) == 1:
            return repr(choices[0])
        return "one of " + ", ".join(repr(c) for c in choices)
    bounds = _bounds_text(meta)
    if bounds:
        text += f", each {bounds}" if _tuple_args(_strip_optional(tp)) else f" {bounds}"
    order = _order_text(_strip_optional(tp), meta)
    if order:
        text += f", with {order}"
    return text


# --------------------------------------------------------------------------------------------
# The generic converter


def _build(cls: type, raw: Any, key: str, **extra: Any) -> Any:
    """Validate a raw table against dataclass `cls`; `key` is its dotted key ('' at the top)."""
    if not isinstance(raw, Mapping):
        raise _expected(key or None, "a table", raw)
    fields = _fields(cls)
    open_field = getattr(cls, "_open", None)
    loose: list[tuple[str, Any]] = []
    for name in raw:
        if name not in fields:
            if open_field is not None:
                loose.append((str(name), _loose_value(raw[name], _join(key, str(name)))))
                continue
            what = "section" if not key else "key"
            raise _Problem(_join(key, str(name)), f"unknown {what}; {suggest(str(name), fields)}")
    if open_field is not None:
        extra = {**extra, open_field: tuple(loose)}
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        sub = _join(key, name)
        optional = _optional_inner(hints[name]) is not None
        if name not in raw or (optional and raw[name] is None):
            if _is_required(f):
                what = _describe(hints[name], f.metadata)
                raise _Problem(sub, f"missing required key; expected {what}")
            continue
        values[f.name] = _convert(hints[name], raw[name], sub, f.metadata)
    obj = cls(**values, **extra)
    check = getattr(obj, "_check", None)
    if check is not None:
        try:
            check()
        except _Problem as p:
            raise _Problem(_join(key, p.key) if p.key else key or None, p.detail) from None
    return obj


def _loose_value(value: Any, key: str) -> Any:
    """A key of an open table, kept for a later validator: numbers, strings, booleans and
    (nested) lists of them, lists stored as tuples so that the scene stays hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_loose_value(v, f"{key}[{i}]") for i, v in enumerate(value))
    if isinstance(value, (bool, str, numbers.Real)):
        return value
    raise _expected(key, "a number, string, boolean or list", value)


def _convert(tp: Any, value: Any, key: str, meta: Mapping[str, Any]) -> Any:
    """Convert and validate one raw value against type `tp` and constraints `meta`."""
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None else _convert(inner, value, key, meta)
    if _is_section(tp):
        return _build(tp, value, key)
    union = _union_args(tp)
    if union is not None:
        return _convert_union(tp, union, value, key, meta)
    if _tuple_args(tp) is not None:
        return _convert_tuple(tp, value, key, meta)
    if tp is bool:
        if not isinstance(value, bool):
            raise _expected(key, _describe(tp, meta), value)
        return value
    if tp in (int, float):
        return _convert_number(tp, value, key, meta)
    if tp is str:
        return _convert_str(value, key, meta)
    raise TypeError(f"scene schema: unsupported type {tp!r} for {key}")


def _convert_union(
    tp: Any, union: tuple[Any, ...], value: Any, key: str, meta: Mapping[str, Any]
) -> Any:
    """The first member type of `A | B | ...` that accepts the value."""
    for member in union:
        try:
            return _convert(member, value, key, meta)
        except _Problem:
            continue
    raise _expected(key, _describe(tp, meta), value)


def _convert_number(tp: type, value: Any, key: str, meta: Mapping[str, Any]) -> int | float:
    # bool is an Integral; True as a density is always a mistake.
    ok_type = numbers.Integral if tp is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise _expected(key, _describe(tp, meta), value)
    try:
        number = tp(value)
    except (OverflowError, ValueError):
        raise _expected(key, "a finite number", value) from None
    if tp is float and meta.get("finite", True) and not math.isfinite(number):
        raise _expected(key, "a finite number", value)
    if not _in_bounds(number, meta):
        raise _expected(key, _describe(tp, meta), value)
    return number


def _in_bounds(x: float, meta: Mapping[str, Any]) -> bool:
    checks = (
        (meta.get("ge"), lambda b: x >= b),
        (meta.get("gt"), lambda b: x > b),
        (meta.get("le"), lambda b: x <= b),
        (meta.get("lt"), lambda b: x < b),
    )
    return all(check(bound) for bound, check in checks if bound is not None)


def _convert_str(value: Any, key: str, meta: Mapping[str, Any]) -> str:
    choices = meta.get("choices") or ()
    if not isinstance(value, str):
        raise _expected(key, _describe(str, meta), value)
    if choices and value not in choices:
        problem = _expected(key, _describe(str, meta), value)
        close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
        if close:
            problem = _Problem(key, f"{problem.detail}; did you mean {close[0]!r}?")
        raise problem
    return value


def _convert_tuple(tp: Any, value: Any, key: str, meta: Mapping[str, Any]) -> tuple[Any, ...]:
    """Fixed-size `tuple[A, B]` or variadic `tuple[T, ...]` from a TOML array."""
    if not isinstance(value, (list, tuple)):
        raise _expected(key, _describe(tp, meta), value)
    args = _tuple_args(tp) or ()
    item = _variadic_item(tp)
    if item is None and len(value) != len(args):
        raise _expected(key, _describe(tp, meta), value)
    types_ = [item] * len(value) if item is not None else list(args)
    # Ordering is a property of this list, not of its items (rows of waypoints).
    item_meta = {**meta, "ordered": None}
    out = tuple(
        _convert(t, v, f"{key}[{i}]", item_meta)
        for i, (t, v) in enumerate(zip(types_, value, strict=True))
    )
    if meta.get("ordered") and not _is_ordered(out, meta["ordered"]):
        raise _expected(key, _describe(tp, meta), value)
    if _is_matrix(tp) and (not out or not out[0] or any(len(r) != len(out[0]) for r in out)):
        raise _expected(key, _describe(tp, meta), value)
    return out


def _is_ordered(values: tuple[Any, ...], op: str) -> bool:
    keys = [v[0] if isinstance(v, tuple) else v for v in values]
    pairs = itertools.pairwise(keys)
    return all(a < b for a, b in pairs) if op == "<" else all(a <= b for a, b in pairs)


def _to_plain(obj: Any) -> Any:
    cls: type = type(obj)
    if _is_section(cls):
        hints, plain = _hints(cls), {}
        for key, f in _fields(cls).items():
            value = getattr(obj, f.name)
            # An unset optional section is left out: TOML has no null, an absent table is unset.
            if value is None and _is_section(_strip_optional(hints[key])):
                continue
            plain[key] = _to_plain(value)
        open_field = getattr(type(obj), "_open", None)
        if open_field is not None:
            plain.update((k, _to_plain(v)) for k, v in getattr(obj, open_field))
        return plain
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------
# Overrides


def _copy_tables(data: Any) -> Any:
    """Deep copy of the mappings and lists in `data` as dicts and lists (overrides mutate it)."""
    if isinstance(data, Mapping):
        return {k: _copy_tables(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_copy_tables(v) for v in data]
    return data


def _parse_value(text: str) -> Any:
    """A TOML value, or the raw text when it is not one (so `forest.kind=none` works)."""
    try:
        return tomllib.loads("v = " + text)["v"]
    except tomllib.TOMLDecodeError:
        return text


def _split_override(text: str) -> tuple[list[str], Any]:
    name, sep, value = str(text).partition("=")
    segments = [s.strip() for s in name.split(".")]
    if not sep or not all(segments):
        raise _expected(None, "an override 'dotted.key=value'", text)
    return segments, _parse_value(value.strip())


def _apply_override(raw: dict[str, Any], text: str, applied: dict[str, str]) -> None:
    """Apply one "dotted.key=value" to the raw scene dict.

    Records in `applied` the keys (as errors show them) that this override set or created.
    """
    segments, value = _split_override(text)
    cls: type = Scene
    node: Any = raw
    shown = ""
    i = 0
    while True:
        name = segments[i]
        fields = _fields(cls)
        if name not in fields and getattr(cls, "_open", None) and i == len(segments) - 1:
            node[name] = value  # validated with the table's own schema later
            applied[_join(shown, name)] = text
            return
        if name not in fields:
            hint = suggest(name, fields)
            raise _Problem(_join(shown, name), f"unknown key in override {text!r}; {hint}")
        tp = _strip_optional(_hints(cls)[name])
        shown = _join(shown, name)
        if i == len(segments) - 1:
            node[name] = value
            applied[shown] = text
            return
        if _is_section(tp):
            node = _child_table(node, name, shown)
            cls, i = tp, i + 1
            continue
        item = _table_list_item(tp)
        if item is None:
            raise _Problem(shown, f"is not a table; cannot apply override {text!r}")
        index, items = _list_index(node, name, shown, segments[i + 1], text)
        shown = f"{shown}[{index}]"
        if index == len(items):
            items.append({})
            applied[shown] = text  # a new table: its missing keys are this override's doing
        if i + 1 == len(segments) - 1:
            items[index] = value
            applied[shown] = text
            return
        node = _child_table(items, index, shown)
        cls, i = item, i + 2


def _child_table(node: Any, name: str | int, shown: str) -> dict[str, Any]:
    if isinstance(node, dict) and name not in node:
        node[name] = {}
    child = node[name]
    if not isinstance(child, dict):
        raise _expected(shown, "a table", child)
    return child


def _list_index(
    node: dict[str, Any], name: str, shown: str, segment: str, text: str
) -> tuple[int, list[Any]]:
    """Index into an array of tables; len(items) is allowed and means "append"."""
    items = node.setdefault(name, [])
    if not isinstance(items, list):
        raise _expected(shown, "an array of tables", items)
    if not re.fullmatch(r"\d+", segment) or int(segment) > len(items):
        what = f"an index 0..{len(items)} ({len(items)} appends a table) in override {text!r}"
        raise _expected(f"{shown}.{segment}", what, segment)
    return int(segment), items


def _blame_override(problem: _Problem, applied: dict[str, str]) -> _Problem:
    """Mention the override that set the faulty value, since the file looks fine to the user."""
    key = problem.key or ""
    for shown, text in reversed(list(applied.items())):
        if key == shown or key.startswith((shown + ".", shown + "[")):
            return _Problem(problem.key, f"{problem.detail} (from override {text!r})")
    return problem


# --------------------------------------------------------------------------------------------
# Loading


def parse_scene(
    data: Mapping[str, Any], *, source: str = "<dict>", overrides: Iterable[str] = ()
) -> Scene:
    """Validate a scene given as a (TOML-shaped) mapping.

    Args:
        data: Sections as nested mappings; `[[targets]]` as a list of mappings. Not modified.
        source: Name used in error messages and stored as `Scene.source`.
        overrides: "dotted.key=value" strings applied in order before validation, e.g.
            "forest.density=400", "targets.0.position=[1.0, 2.0]", "forest.kind=none".

    Raises:
        SceneError: On any unknown key, bad type, bad value or bad override.
    """
    if isinstance(overrides, str):  # a lone string would be split into characters
        overrides = (overrides,)
    source = str(source)
    if not isinstance(data, Mapping):
        raise SceneError(source, None, f"expected a table of sections, got {_show(data)}")
    raw = _copy_tables(data)
    applied: dict[str, str] = {}
    try:
        for text in overrides:
            _apply_override(raw, text, applied)
        return _build(Scene, raw, "", source=source, applied=tuple(applied.items()))
    except _Problem as p:
        p = _blame_override(p, applied)
        raise SceneError(source, p.key, p.detail) from None


def load_scene(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Scene:
    """Load and validate a TOML scene file.

    Args:
        path: Scene file; None loads `DEFAULT_SCENE` (scenes/default.toml).
        overrides: "dotted.key=value" strings, see `parse_scene`.

    Raises:
        SceneError: Missing or unreadable file, TOML syntax error, or invalid content.
    """
    path = DEFAULT_SCENE if path is None else Path(path)
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SceneError(file, None, "file not found") from None
    except UnicodeDecodeError as e:
        raise SceneError(file, None, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise SceneError(file, None, f"cannot read file ({e.strerror or e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SceneError(file, None, f"TOML syntax error: {e}") from None
    return parse_scene(data, source=file, overrides=overrides)


# --------------------------------------------------------------------------------------------
# Sections declared outside the simulator (strategy and controller parameters)

#: Declare one key of a parameter dataclass that scene files set (see `_meta` for constraints).
scene_key = _key


def parse_section(cls: type, raw: Mapping[str, Any], *, scene: Scene, key: str) -> Any:
    """Validate a table against a frozen dataclass declared with `scene_key`.

    Plug-ins (strategies, controllers) own their parameter dataclasses; their keys get the same
    checks and messages as the built-in sections (unknown key with did-you-mean, types, bounds)
    and blame the override that set a bad value.

    Args:
        cls: The dataclass.
        raw: The table as a mapping of plain values.
        scene: The scene it came from (file name and overrides for the message).
        key: Dotted key of the table, e.g. "strategy".

    Raises:
        SceneError: Naming the scene file and the dotted key at fault.
    """
    try:
        return _build(cls, raw, key)
    except _Problem as p:
        raise scene_error(scene, p.key, p.detail) from None


def scene_error(scene: Scene, key: str | None, detail: str) -> SceneError:
    """The error for a problem found after loading, blaming the override that set ``key``."""
    p = _blame_override(_Problem(key, detail), dict(scene.applied))
    return SceneError(scene.source, p.key, p.detail)


# --------------------------------------------------------------------------------------------
# Reference documentation


def _walk(cls: type, prefix: str) -> Iterable[tuple[str, type, str]]:
    """(dotted title, dataclass, table syntax) for `cls`'s sub-tables, depth first."""
    hints = _hints(cls)
    for name in _fields(cls):
        tp = _strip_optional(hints[name])
        key = _join(prefix, name)
        if _is_section(tp):
            yield key, tp, f"[{key}]"
            yield from _walk(tp, key)
        elif (item := _table_list_item(tp)) is not None:
            yield f"{key}[i]", item, f"[[{key}]]"
            yield from _walk(item, f"{key}[i]")


def schema_keys() -> list[str]:
    """Every dotted key inside a section, sub-tables included; array items as `targets[i].pose`."""
    keys: list[str] = []
    for title, cls, _ in _walk(Scene, ""):
        keys.extend(_join(title, name) for name in _fields(cls))
    return keys


def _type_name(tp: Any) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return f"{_type_name(inner)} or unset"
    names = {bool: "bool", int: "int", float: "float", str: "string"}
    if tp in names:
        return names[tp]
    if _is_section(tp):
        return "table"
    if _table_list_item(tp) is not None:
        return "array of tables"
    union = _union_args(tp)
    if union is not None:
        return " or ".join(_type_name(a) for a in union)
    if _is_matrix(tp):
        return f"matrix of {_type_name(_variadic_item(_variadic_item(tp)))}"
    item = _variadic_item(tp)
    if item is not None:
        return f"list of {_type_name(item)}"
    return "[" + ", ".join(_type_name(a) for a in _tuple_args(tp) or ()) + "]"


def _toml_text(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    return repr(value)


def _default_text(f: dataclasses.Field[Any], tp: Any) -> str:
    if _is_required(f):
        return "required"
    if f.default_factory is not MISSING:
        return "table" if _is_section(tp) else f"`{_toml_text(f.default_factory())}`"
    return "unset" if f.default is None else f"`{_toml_text(f.default)}`"


def _constraint_text(tp: Any, meta: Mapping[str, Any]) -> str:
    union = _union_args(_strip_optional(tp))
    if union is not None:
        return " or ".join(filter(None, (_constraint_text(a, meta) for a in union)))
    parts = []
    choices = meta.get("choices") or ()
    if choices and _strip_optional(tp) is str:
        listed = ", ".join(f"`{c}`" for c in choices)
        parts.append(listed if len(choices) == 1 else "one of " + listed)
        return "; ".join(parts)
    bounds = _bounds_text(meta)
    if bounds:
        parts.append(("each " if _tuple_args(_strip_optional(tp)) else "") + bounds)
    order = _order_text(_strip_optional(tp), meta)
    if order:
        parts.append(order)
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def key_table(cls: type, prefix: str) -> list[str]:
    """Markdown table rows of a section dataclass's keys (as in docs/scenes.md)."""
    return _key_table(cls, prefix)


def _key_table(cls: type, prefix: str) -> list[str]:
    lines = [
        "| Key | Type | Default | Constraint | Unit | Description |",
        "|---|---|---|---|---|---|",
    ]
    hints = _hints(cls)
    for name, f in _fields(cls).items():
        tp = hints[name]
        cells = [
            f"`{_join(prefix, name)}`",
            _type_name(tp),
            _default_text(f, _strip_optional(tp)),
            _constraint_text(tp, f.metadata),
            f.metadata.get("unit", ""),
            f.metadata.get("doc", ""),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def schema_markdown() -> str:
    """Markdown reference of every key: section, key, type, default, constraint, unit, doc."""
    lines = [
        "All numbers must be finite; integers are accepted where a float is expected, booleans",
        "are not numbers. `[low, high]` pairs require low <= high unless noted.",
    ]
    for title, cls, syntax in _walk(Scene, ""):
        summary = (cls.__doc__ or "").split(":", 1)[-1].strip()
        lines += ["", f"### `{syntax}`", "", summary[:1].upper() + summary[1:], ""]
        lines += _key_table(cls, title)
    return "\n".join(lines) + "\n"


_COMMAND = "python -m swarmsim.scene --update docs/scenes.md"
_END = "<!-- END GENERATED -->"


def _block_span(text: str, command: str) -> tuple[int, int]:
    begin = f"<!-- BEGIN GENERATED: {command} -->"
    start = text.index(begin) + len(begin)
    return start, text.index(_END, start)


def update_markdown(
    path: str | Path, *, content: str | None = None, command: str = _COMMAND
) -> bool:
    """Replace a generated block of a Markdown file (the one ``command`` writes).

    Args:
        path: The Markdown file.
        content: The block's new text (default: `schema_markdown()`).
        command: The command named in the block's BEGIN marker.

    Returns:
        True when the file changed.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start, end = _block_span(text, command)
    body = schema_markdown() if content is None else content
    new = text[:start] + "\n" + body + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def generated_block(text: str, command: str = _COMMAND) -> str:
    """The generated part of a Markdown file written by `update_markdown`."""
    start, end = _block_span(text, command)
    return text[start:end].strip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the key reference, or with `--update FILE` rewrite its generated block."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--update":
        changed = update_markdown(args[1])
        print(f"{args[1]}: {'updated' if changed else 'up to date'}")
        return 0
    if args:
        print("usage: python -m swarmsim.scene [--update FILE.md]", file=sys.stderr)
        return 2
    sys.stdout.write(schema_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
