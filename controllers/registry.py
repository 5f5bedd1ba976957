"""Names and import paths of strategies and flight controllers, and the one way to make a mission.

A scene names its strategy in ``[strategy] name``: a registered name (``pso``, ``brute-force``,
``parallel``, or one added with `register`) or an import path ``package.module:attr``. The named
object is either

* a class with a classmethod ``from_scene(scene, rng, backend[, params])``, or
* a factory function ``f(scene, rng, backend[, params])``,

and may declare its parameters as a frozen dataclass in the attribute ``Params`` (fields
declared with `swarmsim.scene.scene_key`). The other keys of ``[strategy]`` are validated against
that dataclass with the scene's own messages (unknown key with did-you-mean, types, bounds) and
handed to it as the fourth argument ``params``; a strategy without ``Params`` is called with
three and takes no keys. Flight controllers
(``[dynamics] controller``) are resolved the same way: ``pid``, ``lqr`` or an import path of a
factory (or class) called as ``f(airframe=...)`` with the loaded airframe. See docs/strategies.md.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from controllers.baselines import BruteForce, ParallelSampling
from controllers.pso import PSO
from swarmsim.backend import resolve_backend
from swarmsim.mission import Mission
from swarmsim.scene import (
    Scene,
    SceneError,
    key_table,
    parse_section,
    suggest,
    update_markdown,
)
from swarmsim.strategy import Strategy
from swarmsim.streams import stream
from swarmsim.world.world import World

__all__ = [
    "CONTROLLERS",
    "STRATEGIES",
    "StrategySpec",
    "make_flight_controller",
    "make_mission",
    "make_strategy",
    "params_markdown",
    "register",
    "register_controller",
    "resolve_strategy",
    "strategy_params",
]

#: Registered strategy names -> a class with ``from_scene`` or a factory function.
STRATEGIES: dict[str, Any] = {
    "pso": PSO,
    "brute-force": BruteForce,
    "parallel": ParallelSampling,
}


class ControllerFactory(Protocol):
    """Makes a flight controller for an airframe: ``f(*, airframe) -> FlightController``."""

    def __call__(self, *, airframe: Any) -> Any: ...


def _pid(*, airframe: Any) -> Any:
    from controllers.flight import PIDController

    return PIDController(airframe=airframe)


def _lqr(*, airframe: Any) -> Any:
    from controllers.flight import LQRController

    return LQRController(airframe=airframe)


#: Registered flight controller names -> factories ``f(*, airframe) -> FlightController``.
CONTROLLERS: dict[str, ControllerFactory] = {"pid": _pid, "lqr": _lqr}

#: Default of `make_mission`'s ``strategy``: the one the scene names.
FROM_SCENE: Any = object()


def register(name: str, strategy: Any) -> None:
    """Add (or replace) a strategy class or factory under ``name`` (see the module docstring)."""
    STRATEGIES[name] = strategy


def register_controller(name: str, factory: ControllerFactory) -> None:
    """Add (or replace) a flight controller factory ``f(*, airframe)`` under ``name``."""
    CONTROLLERS[name] = factory


@dataclass(frozen=True)
class StrategySpec:
    """A resolved strategy: what to call and the dataclass of its parameters (None: none)."""

    name: str
    target: Any
    params: type | None

    def build(self, scene: Scene, rng: np.random.Generator, backend: str, params: Any) -> Any:
        """The strategy object for ``scene`` with validated ``params``."""
        make = getattr(self.target, "from_scene", self.target)
        if self.params is None:
            strategy = make(scene, rng, backend)
        else:
            strategy = make(scene, rng, backend, params)
        for method in ("start", "plan"):
            if not callable(getattr(strategy, method, None)):
                raise SceneError(
                    scene.source,
                    "strategy.name",
                    f"{self.name!r} made a {type(strategy).__name__} without {method}()",
                )
        return strategy


def _import(path: str, what: str, key: str, scene: Scene) -> Any:
    """The object at ``package.module:attr`` (SceneError naming ``key`` when it is not there)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise SceneError(
            scene.source,
            key,
            f"expected a registered {what} or an import path 'package.module:attr', got {path!r}",
        )
    # A path written in a scene file is relative to where the user runs the command.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SceneError(scene.source, key, f"cannot import {module_name!r} ({exc})") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise SceneError(scene.source, key, f"module {module_name!r} has no {attr!r}")
        target = getattr(target, part)
    return target


def resolve_strategy(scene: Scene) -> StrategySpec:
    """What ``[strategy] name`` refers to.

    Raises:
        SceneError: Unknown name, bad import path, or an object that is no strategy factory.
    """
    name = scene.strategy.name
    if name in STRATEGIES:
        target = STRATEGIES[name]
    elif ":" in name:
        target = _import(name, "strategy", "strategy.name", scene)
    else:
        raise SceneError(
            scene.source,
            "strategy.name",
            f"unknown strategy {name!r}; "
            f"{suggest(name, STRATEGIES)} (or an import path 'package.module:attr')",
        )
    if not callable(target):
        raise SceneError(
            scene.source, "strategy.name", f"{name!r} is not a class or factory function"
        )
    params = getattr(target, "Params", None)
    if params is not None and not (isinstance(params, type) and dataclasses.is_dataclass(params)):
        raise SceneError(scene.source, "strategy.name", f"{name!r}: its Params must be a dataclass")
    return StrategySpec(name=name, target=target, params=params)


def strategy_params(scene: Scene, spec: StrategySpec | None = None) -> Any:
    """The ``[strategy]`` keys other than ``name`` validated against the strategy's ``Params``.

    Raises:
        SceneError: An unknown key, a bad value, or keys for a strategy that takes none.
    """
    spec = resolve_strategy(scene) if spec is None else spec
    table = scene.strategy.option_table()
    if spec.params is None:
        if table:
            key = next(iter(table))
            raise SceneError(
                scene.source,
                f"strategy.{key}",
                f"unknown key; strategy {spec.name!r} takes no parameters",
            )
        return None
    return parse_section(spec.params, table, scene=scene, key="strategy")


def make_strategy(
    scene: Scene, *, rng: np.random.Generator | None = None, backend: str = "cpu"
) -> Strategy:
    """The scene's strategy; ``rng`` defaults to stream ``"strategy"`` of the scene's seed."""
    spec = resolve_strategy(scene)
    params = strategy_params(scene, spec)
    rng = stream(scene.run.seed, "strategy") if rng is None else rng
    return spec.build(scene, rng, backend, params)


def make_flight_controller(scene: Scene) -> Any | None:
    """The flight controller the scene's quadrotor models need (None for the kinematic model).

    Raises:
        SceneError: Unknown controller name or import path, or an airframe it cannot load.
    """
    cfg = scene.dynamics
    if cfg.model == "kinematic":
        return None
    from swarmsim.dynamics.airframe import AirframeError, load_airframe

    try:
        airframe = load_airframe(cfg.airframe)
    except AirframeError as exc:
        raise SceneError(scene.source, "dynamics.airframe", str(exc)) from None
    if cfg.controller in CONTROLLERS:
        factory = CONTROLLERS[cfg.controller]
    elif ":" in cfg.controller:
        factory = _import(cfg.controller, "flight controller", "dynamics.controller", scene)
    else:
        raise SceneError(
            scene.source,
            "dynamics.controller",
            f"unknown flight controller {cfg.controller!r}; {suggest(cfg.controller, CONTROLLERS)}",
        )
    return factory(airframe=airframe)


def make_mission(
    scene: Scene,
    *,
    world: World | None = None,
    backend: str | None = None,
    strategy: Strategy | str | None = FROM_SCENE,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> Mission:
    """A mission of ``scene`` with its strategy, flight controller and dynamics wired up.

    Args:
        scene: The validated scene.
        world: Its built world (None: built here; pass one to share it between missions).
        backend: Compute backend (None: the scene's ``run.backend``, resolved).
        strategy: The scene's strategy by default; a registered name or import path instead
            of it; a `Strategy` object (used as given); None: no strategy, the caller plans.
        start: Start formation ``(positions (n, 3), headings (n,))`` (None: the strategy's, or
            the scene's line formation).

    Raises:
        SceneError: An unknown strategy or controller, or bad strategy parameters.
    """
    backend = resolve_backend(scene.run.backend if backend is None else backend)
    if isinstance(strategy, str):
        scene = scene.with_overrides(f"strategy.name={_toml_string(strategy)}")
        strategy = FROM_SCENE
    controller = make_flight_controller(scene)
    factory = None
    if strategy is FROM_SCENE:
        spec = resolve_strategy(scene)
        params = strategy_params(scene, spec)

        def factory(rng: np.random.Generator) -> Strategy:
            return spec.build(scene, rng, backend, params)

        strategy = None
    assert not isinstance(strategy, str)  # a name was turned into the scene's strategy above
    return Mission(
        scene=scene,
        world=world,
        strategy=strategy,
        make_strategy=factory,
        start=start,
        backend=backend,
        flight_controller=controller,
    )


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------------------------
# Reference documentation of the registered strategies' keys

_COMMAND = "python -m controllers.registry --update docs/scenes.md"


def params_markdown() -> str:
    """Markdown tables of the ``[strategy]`` keys of every registered strategy."""
    lines = [
        "Besides `name`, `[strategy]` takes the keys of the strategy it names (a plug-in",
        "strategy's keys come from its own `Params` dataclass).",
    ]
    for name, target in STRATEGIES.items():
        params = getattr(target, "Params", None)
        lines += ["", f'#### `name = "{name}"`', ""]
        if params is None:
            lines.append("No parameters.")
            continue
        summary = (params.__doc__ or "").strip().split("\n")[0]
        lines += [summary, ""]
        lines += key_table(params, "strategy")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the strategy key reference, or with `--update FILE` rewrite its generated block."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--update":
        changed = update_markdown(args[1], content=params_markdown(), command=_COMMAND)
        print(f"{args[1]}: {'updated' if changed else 'up to date'}")
        return 0
    if args:
        print("usage: python -m controllers.registry [--update FILE.md]", file=sys.stderr)
        return 2
    sys.stdout.write(params_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
