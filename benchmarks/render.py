"""Render throughput: our ray caster against pybullet's CPU TinyRenderer on the default forest.

Both render one nadir view from (0, 0, 35) m, image top north, 50° field of view. pybullet gets
the forest's primitives as visual shapes: capsules as GEOM_CAPSULE, twig discs as thin
GEOM_CYLINDER (opaque: TinyRenderer has no alpha-tested leaf pattern) and spheres as GEOM_SPHERE,
packed 16 to a visual shape array and 128 arrays to a multibody (pybullet's limits). Wood is loaded
first, then foliage, each nearest to the camera axis first, until everything is in, the
``--max-primitives`` cap is reached or loading has taken ``--load-budget`` seconds.

Usage::

    .venv/bin/python benchmarks/render.py --resolution 512 --json out/render_bench.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apps.bench import publish, run_bench, stdout_to_stderr
from apps.images import write_bytes
from swarmsim.scene import load_scene
from swarmsim.world.geometry import (
    CAPSULE,
    DISC,
    LABEL_FOLIAGE,
    LABEL_WOOD,
    SPHERE,
    Primitives,
)
from swarmsim.world.world import build_world

#: pybullet's most shapes in one visual shape array (MAX_COMPOUND_COLLISION_SHAPES; more crash).
SHAPES_PER_ARRAY = 16
#: Visual shape arrays per multibody: the base plus pybullet's most links (more are dropped).
ARRAYS_PER_BODY = 128
#: Thickness in metres of the cylinders standing in for twig discs.
DISC_THICKNESS = 0.01
#: The benchmark camera: position (m), full field of view (degrees), clip planes (m).
CAMERA_POSITION = (0.0, 0.0, 35.0)
FOV_DEG = 50.0
NEAR, FAR = 0.1, 100.0
KIND_NAMES = {SPHERE: "spheres", CAPSULE: "capsules", DISC: "discs"}
LABEL_NAMES = {LABEL_WOOD: "wood", LABEL_FOLIAGE: "foliage"}


@dataclass
class Loaded:
    """What went into the pybullet world."""

    index: list[np.ndarray] = field(default_factory=list)
    body_label: dict[int, int] = field(default_factory=dict)
    load_s: float = 0.0
    stopped: str = "complete"

    def indices(self) -> np.ndarray:
        """Indices of the loaded primitives, in loading order."""
        return np.concatenate(self.index) if self.index else np.zeros(0, np.int64)


def quaternion_z_to(direction: np.ndarray) -> np.ndarray:
    """(n, 4) xyzw quaternions rotating +z onto the (n, 3) directions."""
    d = direction / np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    q = np.column_stack([-d[:, 1], d[:, 0], np.zeros(len(d)), 1.0 + d[:, 2]])
    q[q[:, 3] < 1e-9] = (1.0, 0.0, 0.0, 0.0)  # direction -z: half turn about x
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def shape_arrays(prims: Primitives) -> dict[str, np.ndarray]:
    """pybullet visual shape parameters of every primitive (shapes are along local z)."""
    import pybullet as p

    a = prims.a.astype(np.float64)
    b = prims.b.astype(np.float64)
    n = len(prims)
    axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    position = a.copy()
    length = np.zeros(n)
    shape = np.full(n, p.GEOM_SPHERE)
    cap = prims.kind == CAPSULE
    segment = b[cap] - a[cap]
    length[cap] = np.linalg.norm(segment, axis=1)
    axis[cap] = np.where(length[cap, None] > 0.0, segment, axis[cap])
    position[cap] = 0.5 * (a[cap] + b[cap])
    shape[cap] = p.GEOM_CAPSULE
    disc = prims.kind == DISC
    axis[disc] = b[disc]
    length[disc] = DISC_THICKNESS
    shape[disc] = p.GEOM_CYLINDER
    # Albedo is linear; pybullet colours are display values.
    rgb = np.clip(prims.albedo.astype(np.float64), 0.0, 1.0) ** (1.0 / 2.2)
    return {
        "shape": shape,
        "radius": prims.radius.astype(np.float64),
        "length": length,
        "position": position,
        "orientation": quaternion_z_to(axis),
        "rgba": np.column_stack([rgb, np.ones(n)]),
    }


def load_order(prims: Primitives, centre: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Wood, then foliage (then anything else), each nearest to ``centre`` (horizontally) first."""
    distance = np.hypot(prims.a[:, 0] - centre[0], prims.a[:, 1] - centre[1])
    rank = np.select([prims.label == LABEL_WOOD, prims.label == LABEL_FOLIAGE], [0, 1], 2)
    return np.lexsort((distance, rank))


def in_view(prims: Primitives, altitude: float = CAMERA_POSITION[2]) -> np.ndarray:
    """Mask of primitives whose bounds overlap the nadir camera's ground footprint."""
    half = altitude * math.tan(math.radians(FOV_DEG) / 2.0)
    bounds = prims.bounds()[:, :, :2] - np.asarray(CAMERA_POSITION[:2], np.float32)
    return np.all((bounds[:, 0] <= half) & (bounds[:, 1] >= -half), axis=1)


def add_bodies(
    client: int,
    shapes: dict[str, np.ndarray],
    index: np.ndarray,
    loaded: Loaded,
    label: int,
    budget_s: float,
) -> None:
    """Add the primitives ``index`` as multibodies until done or loading took ``budget_s``."""
    import pybullet as p

    per_body = SHAPES_PER_ARRAY * ARRAYS_PER_BODY
    for start in range(0, len(index), per_body):
        if loaded.load_s >= budget_s:
            loaded.stopped = "time budget"
            return
        t0 = time.perf_counter()
        chunk = index[start : start + per_body]
        arrays = []
        for s in range(0, len(chunk), SHAPES_PER_ARRAY):
            i = chunk[s : s + SHAPES_PER_ARRAY]
            arrays.append(
                p.createVisualShapeArray(
                    shapeTypes=shapes["shape"][i].tolist(),
                    radii=shapes["radius"][i].tolist(),
                    lengths=shapes["length"][i].tolist(),
                    halfExtents=[[0.0, 0.0, 0.0]] * len(i),
                    visualFramePositions=shapes["position"][i].tolist(),
                    visualFrameOrientations=shapes["orientation"][i].tolist(),
                    rgbaColors=shapes["rgba"][i].tolist(),
                    physicsClientId=client,
                )
            )
        links = len(arrays) - 1
        body = p.createMultiBody(
            baseMass=0,
            baseCollisionShapeIndex=-1,
            baseVisualShapeIndex=arrays[0],
            linkMasses=[0] * links,
            linkCollisionShapeIndices=[-1] * links,
            linkVisualShapeIndices=arrays[1:],
            linkPositions=[[0.0, 0.0, 0.0]] * links,
            linkOrientations=[[0.0, 0.0, 0.0, 1.0]] * links,
            linkInertialFramePositions=[[0.0, 0.0, 0.0]] * links,
            linkInertialFrameOrientations=[[0.0, 0.0, 0.0, 1.0]] * links,
            linkParentIndices=[0] * links,
            linkJointTypes=[p.JOINT_FIXED] * links,
            linkJointAxis=[[0.0, 0.0, 1.0]] * links,
            physicsClientId=client,
        )
        if body < 0:
            raise RuntimeError(f"pybullet createMultiBody failed after {loaded.indices().size}")
        loaded.index.append(chunk)
        loaded.body_label[body] = label
        loaded.load_s += time.perf_counter() - t0


def add_ground(client: int) -> int:
    """A 200 m square flat box whose top is the ground plane z = 0."""
    import pybullet as p

    half = (100.0, 100.0, 0.05)
    visual = p.createVisualShape(
        p.GEOM_BOX, halfExtents=half, rgbaColor=(0.45, 0.38, 0.3, 1.0), physicsClientId=client
    )
    return p.createMultiBody(
        baseMass=0,
        baseCollisionShapeIndex=-1,
        baseVisualShapeIndex=visual,
        basePosition=(0.0, 0.0, -half[2]),
        physicsClientId=client,
    )


def camera_matrices(client: int) -> tuple[list[float], list[float]]:
    """View and projection matrices of the nadir benchmark camera (image top = +y)."""
    import pybullet as p

    view = p.computeViewMatrix(
        cameraEyePosition=CAMERA_POSITION,
        cameraTargetPosition=(CAMERA_POSITION[0], CAMERA_POSITION[1], 0.0),
        cameraUpVector=(0.0, 1.0, 0.0),
        physicsClientId=client,
    )
    # pybullet's fov is vertical; ours is horizontal, the same for a square image.
    proj = p.computeProjectionMatrixFOV(FOV_DEG, 1.0, NEAR, FAR, physicsClientId=client)
    return view, proj


def time_frames(client: int, resolution: int, repeat: int) -> tuple[dict, tuple]:
    """Best wall and CPU seconds of getCameraImage over ``repeat`` frames after a warm-up."""
    import pybullet as p

    view, proj = camera_matrices(client)

    def frame() -> tuple:
        return p.getCameraImage(
            resolution,
            resolution,
            view,
            proj,
            renderer=p.ER_TINY_RENDERER,
            physicsClientId=client,
        )

    image = frame()
    wall, cpu = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        frame()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    best = int(np.argmin(wall))
    return {"resolution": resolution, "s": wall[best], "cpu_s": cpu[best]}, image


def frame_figures(timing: dict, prefix: str) -> dict:
    """``{prefix}ms_per_frame``, ``{prefix}mrays_per_s`` (pixels) and CPU/wall of a timing."""
    pixels = timing["resolution"] ** 2
    return {
        f"{prefix}ms_per_frame": 1e3 * timing["s"],
        f"{prefix}mrays_per_s": pixels / timing["s"] / 1e6,
        f"{prefix}cpu_per_wall": timing["cpu_s"] / timing["s"],
    }


def pixel_fractions(image: tuple, ground: int, body_label: dict[int, int]) -> dict[str, float]:
    """Fractions of the image's pixels showing wood, foliage, ground and nothing."""
    seg = np.asarray(image[4]).reshape(-1)
    bodies, counts = np.unique(seg, return_counts=True)
    out = {"wood": 0.0, "foliage": 0.0, "ground": 0.0, "background": 0.0}
    for body, count in zip(bodies.tolist(), counts.tolist(), strict=True):
        if body == ground:
            key = "ground"
        elif body in body_label:
            key = LABEL_NAMES.get(body_label[body], "other")
        else:
            key = "background"
        out[key] = out.get(key, 0.0) + count / seg.size
    return out


def bench_pybullet(
    resolution: int,
    *,
    max_primitives: int | None,
    load_budget_s: float,
    repeat: int,
    view_only: bool,
    small_resolution: int,
    slow_frame_s: float,
    log: Callable[[str], None] = print,
) -> tuple[dict, np.ndarray]:
    """pybullet TinyRenderer figures on the default forest and the RGB image it rendered.

    The pybullet connection stays open; exit the process without tearing it down.
    """
    import pybullet as p

    scene = load_scene(overrides=[f"camera.resolution=[{resolution},{resolution}]"])
    prims = build_world(scene).primitives
    candidates = in_view(prims) if view_only else np.ones(len(prims), bool)
    order = load_order(prims)
    order = order[candidates[order]]
    if max_primitives is not None:
        order = order[:max_primitives]
    shapes = shape_arrays(prims)

    # Left connected: pybullet removes bodies in time quadratic in the shapes loaded (minutes).
    client = p.connect(p.DIRECT)
    ground = add_ground(client)
    loaded = Loaded()
    figures: dict = {}
    wood = order[prims.label[order] == LABEL_WOOD]
    log(f"pybullet: loading {len(wood)} wood primitives ...")
    add_bodies(client, shapes, wood, loaded, LABEL_WOOD, load_budget_s)
    if loaded.stopped == "complete" and len(wood):
        timing, _ = time_frames(client, resolution, repeat)
        figures.update(frame_figures(timing, "pybullet_wood_only_"))
        log(f"pybullet: wood only {1e3 * timing['s']:.0f} ms/frame")
    rest = order[prims.label[order] != LABEL_WOOD]
    log(f"pybullet: loading {len(rest)} foliage primitives ...")
    add_bodies(client, shapes, rest, loaded, LABEL_FOLIAGE, load_budget_s)
    if loaded.stopped == "complete" and len(order) < int(candidates.sum()):
        loaded.stopped = "max_primitives"
    log(f"pybullet: loaded {loaded.indices().size} in {loaded.load_s:.1f} s; rendering ...")

    timing, image = time_frames(client, resolution, repeat)
    figures.update(frame_figures(timing, "pybullet_"))
    figures["pybullet_pixels"] = pixel_fractions(image, ground, loaded.body_label)
    if timing["s"] > slow_frame_s and small_resolution < resolution:
        small, _ = time_frames(client, small_resolution, repeat)
        figures["pybullet_small_resolution"] = small_resolution
        figures.update(frame_figures(small, "pybullet_small_"))

    index = loaded.indices()
    total = {name: int(np.sum(prims.kind == k)) for k, name in KIND_NAMES.items()}
    distance = np.hypot(prims.a[index, 0], prims.a[index, 1])
    figures["pybullet_loaded"] = {
        "primitives": int(index.size),
        "forest_primitives": len(prims),
        "fraction": index.size / len(prims),
        **{name: int(np.sum(prims.kind[index] == k)) for k, name in KIND_NAMES.items()},
        **{f"{name}_in_forest": n for name, n in total.items()},
        "wood": int(np.sum(prims.label[index] == LABEL_WOOD)),
        "foliage": int(np.sum(prims.label[index] == LABEL_FOLIAGE)),
        "max_horizontal_distance_m": float(distance.max()) if index.size else 0.0,
        "view_only": view_only,
        "load_s": loaded.load_s,
        "load_budget_s": load_budget_s,
        "max_primitives": max_primitives,
        "stopped": loaded.stopped,
        "multibodies": len(loaded.body_label),
        "shapes_per_multibody": SHAPES_PER_ARRAY * ARRAYS_PER_BODY,
        "disc_thickness_m": DISC_THICKNESS,
    }
    rgb = np.asarray(image[2], np.uint8).reshape(image[1], image[0], 4)[..., :3]
    return figures, rgb


def rounded(value: object) -> object:
    """Floats to 4 decimals, recursively (JSON-friendly figures)."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 4)
    return value


def table(figures: dict) -> str:
    """The headline figures as aligned text."""
    rows = [
        ("resolution", f"{figures['resolution']}²"),
        ("forest primitives", f"{figures['primitives']}"),
        ("ours: 1 view", f"{figures['ms_per_view']:.1f} ms, {figures['mrays_per_s']:.2f} Mrays/s"),
        (
            "ours: batch of 10",
            f"{figures['ms_per_batch10']:.1f} ms, {figures['mrays_per_s_batch10']:.2f} Mrays/s",
        ),
    ]
    loaded = figures.get("pybullet_loaded")
    if loaded:
        rows.append(
            (
                "pybullet loaded",
                f"{loaded['primitives']} of {loaded['forest_primitives']} "
                f"({100 * loaded['fraction']:.1f} %): {loaded['capsules']} capsules, "
                f"{loaded['discs']} discs, {loaded['spheres']} spheres; {loaded['multibodies']} "
                f"multibodies in {loaded['load_s']:.1f} s ({loaded['stopped']})",
            )
        )
        for prefix, name in (
            ("pybullet_wood_only_", "pybullet: wood only"),
            ("pybullet_", "pybullet: loaded"),
            ("pybullet_small_", "pybullet: loaded"),
        ):
            if f"{prefix}ms_per_frame" not in figures:
                continue
            res = figures.get("pybullet_small_resolution") if "small" in prefix else None
            rows.append(
                (
                    name + (f" at {res}²" if res else ""),
                    f"{figures[f'{prefix}ms_per_frame']:.0f} ms/frame, "
                    f"{figures[f'{prefix}mrays_per_s']:.3f} Mrays/s "
                    f"(CPU/wall {figures[f'{prefix}cpu_per_wall']:.2f})",
                )
            )
        pixels = figures["pybullet_pixels"]
        rows.append(
            (
                "pybullet image",
                ", ".join(f"{k} {100 * v:.1f} %" for k, v in pixels.items()),
            )
        )
        rows.append(
            (
                "ours / pybullet",
                f"{figures['mrays_per_s'] / figures['pybullet_mrays_per_s']:.0f}x (1 view), "
                f"{figures['mrays_per_s_batch10'] / figures['pybullet_mrays_per_s']:.0f}x (batch)",
            )
        )
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=512, help="image side in pixels")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--max-primitives",
        type=int,
        default=None,
        help="load at most this many primitives into pybullet",
    )
    parser.add_argument(
        "--load-budget",
        type=float,
        default=120.0,
        help="stop adding primitives to pybullet after this many seconds",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed pybullet frames (best)")
    parser.add_argument(
        "--view-only",
        action="store_true",
        help="give pybullet only the primitives over the camera's footprint",
    )
    parser.add_argument(
        "--small-resolution",
        type=int,
        default=128,
        help="also time pybullet at this size when a full frame is slow",
    )
    parser.add_argument(
        "--slow-frame",
        type=float,
        default=2.0,
        help="seconds per pybullet frame that count as slow",
    )
    parser.add_argument("--image", type=Path, default=None, help="write pybullet's RGB PNG here")
    parser.add_argument("--skip-pybullet", action="store_true", help="time our renderer only")
    args = parser.parse_args(argv)

    figures = run_bench("render", resolution=args.resolution)
    print(f"ours: {figures['mrays_per_s']:.2f} Mrays/s", file=sys.stderr)
    if not args.skip_pybullet:
        with stdout_to_stderr():  # pybullet prints its build time on import
            import pybullet  # noqa: F401

        extra, rgb = bench_pybullet(
            args.resolution,
            max_primitives=args.max_primitives,
            load_budget_s=args.load_budget,
            repeat=args.repeat,
            view_only=args.view_only,
            small_resolution=args.small_resolution,
            slow_frame_s=args.slow_frame,
            log=lambda line: print(line, file=sys.stderr),
        )
        figures.update(extra)
        figures["pybullet_renderer"] = "ER_TINY_RENDERER"
        figures["pybullet_version"] = importlib.metadata.version("pybullet")
        if args.image:
            from PIL import Image

            buffer = io.BytesIO()
            Image.fromarray(rgb).save(buffer, format="PNG")
            write_bytes(args.image, buffer.getvalue())
    figures = rounded(figures)
    print(table(figures))
    publish(figures, args.json)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown, which would disconnect pybullet: minutes for the full forest.
    os._exit(status)
