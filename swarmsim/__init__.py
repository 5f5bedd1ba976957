"""swarmsim: drone-swarm synthetic-aperture search in forests.

Public API::

    scene = swarmsim.load_scene("scenes/default.toml", overrides=["forest.density=400"])
    world = swarmsim.build_world(scene)
    frames = swarmsim.render(world, poses=[(0.0, 0.0, 35.0)], t=0.0, backend="auto")

Missions are made by `controllers.registry.make_mission` (strategy, flight controller and
dynamics from the scene) and driven with `Mission.reset` / `observe` / `advance` or `step`.
"""

from swarmsim.backend import BackendError
from swarmsim.envs import register_envs
from swarmsim.errors import SwarmsimError
from swarmsim.mission import Mission, MissionError, MissionResult, PlanError, Step
from swarmsim.scene import DEFAULT_SCENE, Scene, SceneError, load_scene, parse_scene
from swarmsim.sensing.camera import Camera
from swarmsim.sensing.render import Frames, Hits, cast_rays, render
from swarmsim.strategy import Observation, Plan, Strategy
from swarmsim.world.world import World, build_world

__version__ = "0.1.0"

register_envs()

__all__ = [
    "DEFAULT_SCENE",
    "BackendError",
    "Camera",
    "Frames",
    "Hits",
    "Mission",
    "MissionError",
    "MissionResult",
    "Observation",
    "Plan",
    "PlanError",
    "Scene",
    "SceneError",
    "Step",
    "Strategy",
    "SwarmsimError",
    "World",
    "__version__",
    "build_world",
    "cast_rays",
    "load_scene",
    "parse_scene",
    "render",
]
