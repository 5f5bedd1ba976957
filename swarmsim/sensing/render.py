"""Batched thermal + RGB rendering of n drone cameras by ray casting.

``render(world, poses, t)`` renders every camera of the batch in one call. Two methods find each
pixel's first hit, with the same ray-primitive arithmetic and the same images: ``"trace"`` walks
every ray through the voxel grid (image order), ``"splat"`` tests each primitive only on the
pixels of its projected footprint (object order, CPU only, about five times as fast: see
``_splat``). On the ``cpu`` backend numba kernels run in parallel over image rows; on ``cuda`` a
numba.cuda kernel traces one thread per pixel and the results stay on the device (CuPy arrays
when CuPy is installed).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmsim.backend import array_module, resolve_backend, to_numpy
from swarmsim.sensing import _cpu, _splat
from swarmsim.sensing.camera import Camera, as_poses, pose_matrices
from swarmsim.sensing.thermal import dequantize_thermal, quantize_thermal, sensor_noise
from swarmsim.sensing.world_view import TargetGeometryView, WorldView, built_ground

#: Ways to find each pixel's first hit (see the module docstring).
RENDER_METHODS = ("auto", "splat", "trace")
#: Cameras splatted per pass: bounds the scratch memory (about 35 MB per 512² camera).
SPLAT_CAMERAS = 16

# Threads may render one world at once (a viewer's preview beside its mission, a threaded
# worker): scratch arrays belong to the rendering thread; tables derived from the world are
# built once (`World.table`) and never written again.
_WORKSPACE = threading.local()


def _splat_scratch(n: int, h: int, w: int, m: int) -> tuple:
    """This thread's splat scratch for n cameras of h × w and m primitives (grown, never shrunk).

    First touching ~100 MB of fresh pages for ten 512² views costs about a fifth of a render,
    so the arrays are reused from call to call.
    """
    scratch: tuple[np.ndarray, ...] | None = getattr(_WORKSPACE, "splat", None)
    fits = scratch is not None and scratch[1].shape[1:] == (h, w) and scratch[4].shape[1] == m
    if scratch is None or not fits or len(scratch[1]) < n:
        k = max(n, len(scratch[1]) if scratch is not None and fits else 0)  # capacity, in cameras
        scratch = (
            np.empty((k, h, w, 3)),
            np.empty((k, h, w)),
            np.empty((k, h, w), np.int8),
            np.empty((k, h, w), np.int32),
            np.empty((k, m), np.int32),
            np.empty((k, m, _splat.GEO_SIZE)),
            np.empty((k, m, 2), np.int32),
            np.empty(k, np.int32),
        )
        _WORKSPACE.splat = scratch
    return tuple(a[:n] for a in scratch)


@dataclass(frozen=True)
class Frames:
    """Images of a batch of n cameras, each (n, H, W[, 3]).

    Attributes:
        thermal: float32 apparent temperature in degC (with sensor noise when rendered with rng).
        rgb: uint8 colour image.
        depth: float32 distance along the ray to the first hit in metres (inf: no hit).
        label: int8 class of the first hit: -1 nothing, 0 ground, 1 wood, 2 foliage, 3 target.
        target_mask: bool, the first hit is a target.
        target_id: int16 index of the target hit, -1 elsewhere.
        poses: (n, 5) float64 camera poses ``[x, y, z, yaw, pitch]`` (radians).
        time: Simulation time of the frames in seconds.
    """

    thermal: Any
    rgb: Any
    depth: Any
    label: Any
    target_mask: Any
    target_id: Any
    poses: np.ndarray
    time: float

    def __len__(self) -> int:
        return len(self.poses)

    def to_numpy(self) -> Frames:
        """A copy with host (NumPy) arrays."""
        names = ("thermal", "rgb", "depth", "label", "target_mask", "target_id")
        arrays = {name: to_numpy(getattr(self, name)) for name in names}
        return Frames(**arrays, poses=self.poses, time=self.time)

    def subset(self, part: slice) -> Frames:
        """The frames of the cameras in ``part`` (views of the same arrays)."""
        names = ("thermal", "rgb", "depth", "label", "target_mask", "target_id")
        arrays = {name: getattr(self, name)[part] for name in names}
        return Frames(**arrays, poses=self.poses[part], time=self.time)

    def arrays(self, index: int = 0) -> dict[str, np.ndarray]:
        """The host arrays of camera ``index`` keyed as in the ``swarmsim render`` contract."""
        host = self.to_numpy()
        names = ("thermal", "rgb", "depth", "label", "target_mask", "target_id")
        return {name: getattr(host, name)[index] for name in names}


@dataclass(frozen=True)
class Hits:
    """First hits of a set of rays: distance ``t`` (inf: none), hit ``code`` and ``index``."""

    t: np.ndarray
    code: np.ndarray
    index: np.ndarray


def render(
    world: WorldView,
    poses: np.ndarray | list | tuple,
    t: float = 0.0,
    *,
    backend: str = "auto",
    rng: np.random.Generator | None = None,
    camera: Camera | None = None,
    method: str = "auto",
    targets: TargetGeometryView | None = None,
    camera_targets: np.ndarray | None = None,
    sensor: bool = True,
) -> Frames:
    """Render a batch of cameras.

    Args:
        world: A :class:`swarmsim.World`.
        poses: (n, 3|4|5) camera poses ``[x, y, z, yaw, pitch]``, metres and radians, or one pose.
        t: Simulation time in seconds (moves the targets).
        backend: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        rng: Source of thermal sensor noise (NETD from the scene); ``None`` renders noise-free.
        camera: Intrinsics; defaults to the scene's camera.
        method: ``"splat"`` (object order, cpu only), ``"trace"`` (image order) or ``"auto"``
            (splat on the cpu, trace on cuda). Both give the same images.
        targets: Target geometry to render in place of ``world.target_geometry(t)`` (for
            example several episodes' persons side by side, `concatenate_geometry`).
        camera_targets: (n, 2) int ranges ``[first, stop)`` of the targets each camera sees
            (None: all); the splat method only. Cameras of independent episodes sharing one
            forest render in one call this way, each seeing only its own person.
        sensor: Apply the thermal camera's noise and quantisation (False: the radiometric
            image, to which `apply_sensor` adds them later, e.g. per episode from its own
            random stream).

    Returns:
        Frames with arrays of shape (n, H, W) (rgb (n, H, W, 3)).
    """
    poses = as_poses(poses)
    camera = world.camera if camera is None else camera
    backend = resolve_backend(backend)
    method = _resolve_method(method, backend)
    cams = pose_matrices(poses)
    if targets is None:
        targets = world.target_geometry(t)
    seen = _camera_targets(camera_targets, len(poses), len(targets.bound), method)
    if backend == "cuda":
        from swarmsim.sensing import _cuda

        outputs = _cuda.render(world, targets, cams, camera)
    elif method == "splat":
        outputs = _splat_render(world, targets, cams, camera, seen)
    else:
        outputs = _cpu.empty_outputs(len(poses), camera.height, camera.width)
        ground = built_ground(world)
        _cpu.render_kernel(
            cams, camera.focal, camera.width, camera.height, world.packed,
            world.primitives.label, world.primitives.temperature, world.primitives.albedo,
            world.sunlit, world.leaf_fill, world.grid.lower, world.grid.cell, world.grid.dims,
            world.grid.start, world.grid.items, world.grid.top, targets.packed,
            targets.primitives.owner, targets.primitives.temperature, targets.primitives.albedo,
            targets.sunlit, targets.bound, targets.start, ground.packed, world.light, *outputs,
        )  # fmt: skip
    thermal, rgb, depth, label, target_id = outputs
    if sensor:
        thermal = apply_sensor(thermal, world.thermal, rng, backend=backend)
    return Frames(
        thermal=thermal,
        rgb=rgb,
        depth=depth,
        label=label,
        target_mask=target_id >= 0,
        target_id=target_id,
        poses=poses,
        time=float(t),
    )


def _resolve_method(method: str, backend: str) -> str:
    if method not in RENDER_METHODS:
        raise ValueError(f"method: expected one of {', '.join(RENDER_METHODS)}, got {method!r}")
    if method == "auto":
        return "splat" if backend == "cpu" else "trace"
    if method == "splat" and backend != "cpu":
        raise ValueError("method: 'splat' runs on the cpu backend only; use 'trace' or 'auto'")
    return method


def _camera_targets(ranges: Any, n: int, n_targets: int, method: str) -> np.ndarray:
    """(n, 2) int64 target ranges per camera, checked; every target when ``ranges`` is None."""
    if ranges is None:
        return np.tile(np.array([0, n_targets], np.int64), (n, 1))
    if method != "splat":
        raise ValueError("camera_targets: needs method='splat' (the cpu backend)")
    seen = np.asarray(ranges)
    if seen.shape != (n, 2) or not np.issubdtype(seen.dtype, np.integer):
        raise ValueError(f"camera_targets: expected ({n}, 2) integers, got {seen.shape}")
    if np.any(seen[:, 0] < 0) or np.any(seen[:, 1] > n_targets) or np.any(seen[:, 0] > seen[:, 1]):
        raise ValueError(f"camera_targets: expected ranges within [0, {n_targets}]")
    return np.ascontiguousarray(seen, np.int64)


def _splat_render(
    world: WorldView, targets: TargetGeometryView, cams: np.ndarray, camera: Camera,
    seen: np.ndarray,
) -> tuple:  # fmt: skip
    """Cull, splat and shade the world's primitives in n cameras (``_splat``), at most
    ``SPLAT_CAMERAS`` at a time so that the scratch arrays stay small."""
    outputs = _cpu.empty_outputs(len(cams), camera.height, camera.width)
    for start in range(0, len(cams), SPLAT_CAMERAS):
        part = slice(start, start + SPLAT_CAMERAS)
        _splat_part(world, targets, cams[part], camera, seen[part],
                    tuple(out[part] for out in outputs))  # fmt: skip
    return outputs


def _splat_part(world: WorldView, targets: TargetGeometryView, cams: np.ndarray, camera: Camera,
                seen: np.ndarray, outputs: tuple) -> None:  # fmt: skip
    bounds = world.table("splat", lambda: _splat.primitive_bounds(world.packed))
    n, m, h, w = len(cams), len(bounds.order), camera.height, camera.width
    first, of = _splat.shared_directions(cams)
    dirs, best, code, index, prim_k, prim_geo, prim_rows, prim_count = _splat_scratch(n, h, w, m)
    boxes = _splat.frustum_boxes(cams, camera.focal, w, h, bounds.z)
    _splat.cull_kernel(cams, camera.focal, w, h, bounds.capsules, bounds.order, bounds.reach, boxes,
                       bounds.cell_of, bounds.cells, prim_k, prim_geo, prim_rows,
                       prim_count)  # fmt: skip
    _splat.rays_kernel(cams, camera.focal, w, h, targets.packed, targets.bound, targets.start,
                       seen, first, of, dirs, best, code, index)  # fmt: skip
    _splat.splat_kernel(cams, camera.focal, w, h, world.packed, world.leaf_fill, prim_k, prim_geo,
                        prim_rows, prim_count, of, dirs, best, code, index)  # fmt: skip
    p = world.primitives
    shading = (
        world.packed, p.label, p.temperature, p.albedo, world.sunlit, targets.packed,
        targets.primitives.owner, targets.primitives.temperature, targets.primitives.albedo,
        targets.sunlit, built_ground(world).packed, world.light,
    )  # fmt: skip
    # Disc shading reads no target data (static hits only), so copies of the world share it.
    flat = world.table("splat_discs", lambda: _splat.disc_colours(*shading))
    _splat.shade_kernel(cams, camera.focal, w, h, best, code, index, *shading, flat, *outputs)


def apply_sensor(
    thermal: Any, settings: Any, rng: np.random.Generator | None, *, backend: str = "cpu"
) -> Any:
    """The scene's NETD noise (in place, drawn from ``rng``; none without it) and optional
    8-bit quantisation applied to radiometric thermal images (n, H, W)."""
    if settings is None:
        return thermal
    xp = array_module(backend)
    if rng is not None and settings.netd > 0:
        # Noise is drawn on the host so that both backends give the same images for a seed.
        thermal += xp.asarray(sensor_noise(thermal.shape, settings.netd, rng))  # our own array
    if settings.quantize:
        low, high = settings.range
        codes = quantize_thermal(to_numpy(thermal), low, high)
        thermal = xp.asarray(dequantize_thermal(codes, low, high))
    return thermal


def cast_rays(
    world: WorldView,
    origins: np.ndarray,
    directions: np.ndarray,
    *,
    t: float = 0.0,
    tmax: np.ndarray | float = math.inf,
    targets: bool = True,
    backend: str = "cpu",
) -> Hits:
    """First hits of arbitrary rays through the world.

    Args:
        origins: (m, 3) ray origins in metres.
        directions: (m, 3) or (3,) directions (normalised here).
        t: Time at which targets are placed.
        tmax: Maximum distance(s) in metres.
        targets: Whether targets block rays.
        backend: ``"cpu"``, ``"cuda"`` or ``"auto"``; results come back to the host.

    Returns:
        :class:`Hits` with ``code`` from ``_raycast`` (HIT_NONE, HIT_GROUND, HIT_STATIC,
        HIT_TARGET) and the primitive index (static or target primitive, -1 otherwise).
    """
    origins = np.ascontiguousarray(np.asarray(origins, np.float64).reshape(-1, 3))
    m = len(origins)
    dirs = np.broadcast_to(np.asarray(directions, np.float64), (m, 3)).copy()
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    tmax = np.broadcast_to(np.asarray(tmax, np.float64), (m,)).copy()
    if targets and world.targets:
        geometry = world.target_geometry(t)
        tpacked, tbound, tstart = geometry.packed, geometry.bound, geometry.start
    else:
        tpacked = np.zeros((0, 8), np.float32)
        tbound = np.zeros((0, 4), np.float32)
        tstart = np.zeros(1, np.int32)
    if resolve_backend(backend) == "cuda":
        from swarmsim.sensing import _cuda

        return Hits(*_cuda.cast(world, origins, dirs, tmax, tpacked, tbound, tstart))
    out_t = np.empty(m)
    out_code = np.empty(m, np.int8)
    out_index = np.empty(m, np.int32)
    grid = world.grid
    _cpu.cast_kernel(
        origins, dirs, tmax, world.packed, world.leaf_fill, grid.lower, grid.cell, grid.dims,
        grid.start, grid.items, grid.top, tpacked, tbound, tstart, out_t, out_code, out_index,
    )  # fmt: skip
    return Hits(out_t, out_code, out_index)
