"""What the renderer and the ray caster read from a world, as structural types.

`swarmsim.world.world.World` (and its `TargetGeometry`) satisfy these protocols. The sensing
modules cannot import `World` itself, not even for type checking: the world module calls the
ray caster while a world is assembled, so the import would close a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from swarmsim.sensing.camera import Camera
    from swarmsim.sensing.thermal import GroundMaps
    from swarmsim.world.geometry import Primitives
    from swarmsim.world.grid import Grid
    from swarmsim.world.targets import Target


class TargetGeometryView(Protocol):
    """Target primitives at one time (`swarmsim.world.world.TargetGeometry`)."""

    @property
    def primitives(self) -> Primitives: ...
    @property
    def packed(self) -> np.ndarray: ...
    @property
    def bound(self) -> np.ndarray: ...
    @property
    def start(self) -> np.ndarray: ...
    @property
    def sunlit(self) -> np.ndarray: ...


class WorldView(Protocol):
    """A world as the renderer sees it (`swarmsim.world.world.World`)."""

    @property
    def primitives(self) -> Primitives: ...
    @property
    def packed(self) -> np.ndarray: ...
    @property
    def grid(self) -> Grid: ...
    @property
    def sunlit(self) -> np.ndarray: ...
    @property
    def leaf_fill(self) -> float: ...
    @property
    def targets(self) -> tuple[Target, ...]: ...
    @property
    def ground(self) -> GroundMaps | None: ...
    @property
    def light(self) -> np.ndarray: ...
    @property
    def camera(self) -> Camera: ...
    @property
    def thermal(self) -> Any: ...

    def table(self, name: str, build: Callable[[], Any]) -> Any: ...

    def target_geometry(self, t: float) -> TargetGeometryView: ...


def built_ground(world: WorldView) -> GroundMaps:
    """The world's ground rasters; a world still being assembled has none to render."""
    if world.ground is None:
        raise ValueError("world: expected a built world (build_world), got one without ground maps")
    return world.ground
