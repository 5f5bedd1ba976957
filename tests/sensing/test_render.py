"""The accelerated renderer against a brute-force reference, plus camera and sensor behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmsim.scene import ThermalConfig
from swarmsim.sensing._raycast import HIT_GROUND, HIT_STATIC
from swarmsim.sensing.camera import Camera, pixel_rays
from swarmsim.sensing.render import cast_rays, render
from swarmsim.world.geometry import (
    CAPSULE,
    DISC,
    LABEL_FOLIAGE,
    LABEL_WOOD,
    SPHERE,
    Primitives,
    concatenate,
)
from swarmsim.world.world import assemble_world
from tests.sensing.reference import reference_cast


def random_primitives(rng: np.random.Generator, n: int = 60, extent: float = 6.0) -> Primitives:
    """A random jumble of spheres, capsules and discs (some overlapping) above the ground."""
    parts = []
    k = n // 3
    centres = rng.uniform([-extent, -extent, 0.5], [extent, extent, 8.0], (k, 3))
    parts.append(Primitives.create(kind=SPHERE, a=centres, radius=rng.uniform(0.2, 1.0, k),
                                   label=LABEL_FOLIAGE))  # fmt: skip
    a = rng.uniform([-extent, -extent, 0.0], [extent, extent, 8.0], (k, 3))
    b = a + rng.normal(0.0, 1.5, (k, 3))
    b[: k // 3] = a[: k // 3] + [0.0, 0.0, 3.0]  # vertical trunks: rays parallel to the axis
    parts.append(Primitives.create(kind=CAPSULE, a=a, b=b, radius=rng.uniform(0.1, 0.5, k),
                                   label=LABEL_WOOD))  # fmt: skip
    c = rng.uniform([-extent, -extent, 0.5], [extent, extent, 8.0], (k, 3))
    normal = rng.normal(size=(k, 3)) + [0.0, 0.0, 1.0]
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    parts.append(Primitives.create(kind=DISC, a=c, b=normal, radius=rng.uniform(0.3, 1.2, k),
                                   label=LABEL_FOLIAGE))  # fmt: skip
    return concatenate(parts)


def make_world(prims: Primitives, *, leaf_fill: float = 1.0, grid_cell: float | None = None,
               camera: Camera | None = None, targets=()):  # fmt: skip
    return assemble_world(
        prims, thermal=ThermalConfig(), area=(20.0, 20.0), leaf_fill=leaf_fill,
        grid_cell=grid_cell, camera=camera or Camera(width=24, height=18), targets=targets,
    )  # fmt: skip


POSES = [
    (0.0, 0.0, 12.0, 0.0, 0.0),
    (1.5, -2.0, 10.0, math.radians(33.0), 0.0),
    (-1.0, 0.5, 9.0, math.radians(-120.0), math.radians(25.0)),
]


@pytest.mark.parametrize("method", ["splat", "trace"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("leaf_fill", [1.0, 0.6])
def test_renderer_equals_brute_force(seed: int, leaf_fill: float, method: str) -> None:
    rng = np.random.default_rng(seed)
    prims = random_primitives(rng)
    world = make_world(prims, leaf_fill=leaf_fill, grid_cell=[0.4, 1.0, 2.5][seed])
    frames = render(world, POSES, backend="cpu", method=method)
    for c, pose in enumerate(POSES):
        origins, dirs = pixel_rays(world.camera, pose)
        depth, label = reference_cast(
            world.primitives, Primitives.empty(), origins.reshape(-1, 3), dirs.reshape(-1, 3),
            world.leaf_fill,
        )  # fmt: skip
        np.testing.assert_array_equal(frames.label[c].ravel(), label)
        hit = np.isfinite(depth)
        np.testing.assert_array_equal(np.isfinite(frames.depth[c].ravel()), hit)
        np.testing.assert_allclose(frames.depth[c].ravel()[hit], depth[hit], rtol=1e-4)


def test_splat_renders_the_same_images_as_trace_in_a_forest() -> None:
    """Object order against image order on a real forest, from above the canopy and from
    inside it looking sideways, where branches straddle the camera plane."""
    from swarmsim.scene import load_scene
    from swarmsim.world.world import build_world

    world = build_world(load_scene(None, ["camera.resolution=[96, 80]"]))
    trunk = world.primitives.a[np.argmax(world.primitives.radius)]
    poses = [
        (0.0, 0.0, 35.0, 0.0, 0.0),
        (3.0, -4.0, 44.0, 0.7, 0.3),
        (trunk[0] + 1.0, trunk[1], 8.0, 0.0, math.radians(80.0)),
        (trunk[0], trunk[1] - 2.0, 12.0, 2.0, math.radians(60.0)),
    ]
    splat = render(world, poses, backend="cpu", method="splat")
    trace = render(world, poses, backend="cpu", method="trace")
    assert np.mean(splat.label == 1) > 0.01 and np.mean(splat.label == 2) > 0.3
    for name in ("thermal", "rgb", "depth", "label", "target_id"):
        np.testing.assert_array_equal(getattr(splat, name), getattr(trace, name), err_msg=name)


def test_splat_in_passes_renders_every_camera(monkeypatch) -> None:
    """Large batches are splatted a few cameras at a time, in reused scratch arrays."""
    import swarmsim.sensing.render as render_module

    monkeypatch.setattr(render_module, "SPLAT_CAMERAS", 3)
    world = make_world(random_primitives(np.random.default_rng(9)), leaf_fill=0.6)
    rng = np.random.default_rng(10)
    poses = np.column_stack([rng.uniform(-2, 2, (7, 2)), rng.uniform(9, 12, 7),
                             rng.uniform(-3, 3, 7), rng.uniform(0, 0.4, 7)])  # fmt: skip
    poses[:4, 3:] = 0.0  # some cameras share a rotation (one ray-direction image)
    trace = render(world, poses, backend="cpu", method="trace")
    for _ in range(2):  # the second call reuses the scratch arrays of the first
        splat = render(world, poses, backend="cpu", method="splat")
        for name in ("thermal", "rgb", "depth", "label", "target_id"):
            np.testing.assert_array_equal(getattr(splat, name), getattr(trace, name))


def test_two_threads_rendering_one_world_give_the_images_of_sequential_calls() -> None:
    """No shared scratch: each thread's images equal those rendered one call at a time, also
    for a copy of the world with another person (which shares the world's tables)."""
    import dataclasses
    import threading

    from swarmsim.scene import load_scene
    from swarmsim.world.world import build_world

    world = build_world(load_scene(None, ["camera.resolution=[64, 64]", "forest.area=[40, 40]"]))
    moved = dataclasses.replace(world, targets=world.targets[::-1])
    rng = np.random.default_rng(3)
    # Same batch size and image size in both threads: the shapes that would share a buffer.
    jobs = [
        (world if k % 2 == 0 else moved,
         np.column_stack([rng.uniform(-8, 8, (3, 2)), rng.uniform(30, 44, 3), rng.uniform(-3, 3, 3),
                          np.zeros(3)]))
        for k in range(6)
    ]  # fmt: skip
    expected = [render(w, poses, backend="cpu").rgb for w, poses in jobs]
    results: dict[int, list[np.ndarray]] = {0: [], 1: []}
    barrier = threading.Barrier(2)

    def work(thread: int) -> None:
        barrier.wait()
        for _ in range(4):
            for w, poses in jobs[thread::2]:
                results[thread].append(render(w, poses, backend="cpu").rgb.copy())

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for thread in (0, 1):
        mine = expected[thread::2] * 4
        assert len(results[thread]) == len(mine)
        for got, want in zip(results[thread], mine, strict=True):
            np.testing.assert_array_equal(got, want)


def test_render_rejects_an_unknown_method() -> None:
    world = make_world(Primitives.empty())
    with pytest.raises(ValueError, match="method"):
        render(world, (0.0, 0.0, 10.0), method="raster")


def test_cast_rays_equals_brute_force_in_all_directions() -> None:
    rng = np.random.default_rng(7)
    world = make_world(random_primitives(rng), leaf_fill=0.6, grid_cell=0.7)
    origins = rng.uniform([-8, -8, 0.2], [8, 8, 10], (400, 3))
    dirs = rng.normal(size=(400, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    hits = cast_rays(world, origins, dirs)
    depth, label = reference_cast(world.primitives, Primitives.empty(), origins, dirs,
                                  world.leaf_fill)  # fmt: skip
    hit_label = np.where(hits.code == HIT_STATIC, world.primitives.label[hits.index], -1)
    hit_label[hits.code == HIT_GROUND] = 0
    np.testing.assert_array_equal(hit_label, label)
    hit = np.isfinite(depth)
    np.testing.assert_array_equal(np.isfinite(hits.t), hit)
    np.testing.assert_allclose(hits.t[hit], depth[hit], rtol=1e-4, atol=1e-6)


def test_empty_world_sees_ground_at_analytic_depth() -> None:
    world = make_world(Primitives.empty(), camera=Camera(width=32, height=32))
    altitude = 35.0
    frames = render(world, (0.0, 0.0, altitude), backend="cpu")
    _, dirs = pixel_rays(world.camera, (0.0, 0.0, altitude))
    expected = altitude / -dirs[..., 2]
    assert np.all(frames.label == 0)
    np.testing.assert_allclose(frames.depth[0], expected, rtol=1e-6)


def test_renderer_with_persons_equals_brute_force() -> None:
    from swarmsim.world.targets import Target, static_trajectory

    rng = np.random.default_rng(11)
    placements = [("lying", (0.5, 0.0), 0.3), ("standing", (-1.5, 1.0), 2.0),
                  ("sitting", (1.0, -2.0), -1.0)]  # fmt: skip
    persons = tuple(
        Target(
            pose=pose,
            trajectory=static_trajectory(position=np.array(xy), heading=yaw),
            temperature=34.0,
            clothing=(0.5, 0.2, 0.1),
        )
        for pose, xy, yaw in placements
    )
    world = make_world(random_primitives(rng, n=15), grid_cell=1.0, targets=persons,
                       camera=Camera(width=40, height=40))  # fmt: skip
    pose = (0.0, 0.0, 9.0, 0.2, 0.0)
    frames = render(world, pose, backend="cpu")
    origins, dirs = pixel_rays(world.camera, pose)
    depth, label = reference_cast(
        world.primitives, world.target_geometry(0.0).primitives, origins.reshape(-1, 3),
        dirs.reshape(-1, 3), world.leaf_fill,
    )  # fmt: skip
    assert np.sum(label == 3) > 20
    np.testing.assert_array_equal(frames.label[0].ravel(), label)
    np.testing.assert_allclose(frames.depth[0].ravel(), depth, rtol=1e-4)


def test_cameras_of_several_episodes_see_only_their_own_person_in_one_call() -> None:
    """One render call over two episodes' cameras (their persons side by side, each camera
    limited to its own) gives each episode's images exactly, noise added afterwards."""
    import dataclasses

    from swarmsim.scene import load_scene
    from swarmsim.sensing.render import apply_sensor
    from swarmsim.world.targets import Target, static_trajectory
    from swarmsim.world.world import build_world, concatenate_geometry

    base = build_world(load_scene(None, ["camera.resolution=[48, 40]", "forest.density=40"]))
    episodes = [
        dataclasses.replace(
            base,
            targets=(Target(pose="lying", trajectory=static_trajectory(position=xy, heading=h)),),
        )
        for xy, h in (([0.0, 1.0], 0.2), ([0.5, 0.0], 1.9))  # overlapping: each must hide
    ]
    poses = [np.array([[0.0, 0.0, 20.0, 0.0, 0.0], [2.0, 1.0, 25.0, 0.4, 0.2]]),
             np.array([[0.0, 0.5, 18.0, 1.0, 0.0]])]  # fmt: skip
    alone = [
        render(w, p, 0.0, rng=np.random.default_rng(k))
        for k, (w, p) in enumerate(zip(episodes, poses, strict=True))
    ]
    assert all(np.sum(a.label == 3) >= 3 for a in alone)  # each sees its person
    geometry = concatenate_geometry([w.target_geometry(0.0) for w in episodes])
    together = render(base, np.concatenate(poses), targets=geometry, sensor=False,
                      camera_targets=np.array([[0, 1], [0, 1], [1, 2]]))  # fmt: skip
    for k, (part, a) in enumerate(zip((slice(0, 2), slice(2, 3)), alone, strict=True)):
        frames = together.subset(part)
        thermal = apply_sensor(frames.thermal, base.thermal, np.random.default_rng(k))
        np.testing.assert_array_equal(thermal, a.thermal)
        for name in ("rgb", "depth", "label"):
            np.testing.assert_array_equal(getattr(frames, name), getattr(a, name), err_msg=name)
        np.testing.assert_array_equal(frames.target_id, np.where(a.target_id >= 0, k, -1))
    with pytest.raises(ValueError, match="camera_targets"):
        render(base, poses[1], targets=geometry, camera_targets=np.array([[0, 3]]))
    with pytest.raises(ValueError, match="camera_targets"):
        render(base, poses[1], method="trace", camera_targets=np.array([[0, 1]]))
