"""The memory guard: expected forest sizes against the generator, refusals that name the key."""

from __future__ import annotations

import pytest

from apps.cli import main
from swarmsim import memory
from swarmsim.memory import (
    Need,
    expected_primitives,
    mission_needs,
    require_memory,
    world_needs,
)
from swarmsim.mission import Mission
from swarmsim.scene import SceneError, load_scene
from swarmsim.world.world import build_world, scene_geometry

GIB = 1 << 30


@pytest.mark.parametrize("levels", [0, 1, 2, 3])
@pytest.mark.parametrize("species", ["broadleaf", "conifer", "mixed"])
def test_expected_primitives_match_the_generator(species: str, levels: int) -> None:
    scene = load_scene(None, [f"forest.species='{species}'", f"forest.branch_levels={levels}"])
    prims, _ = scene_geometry(scene)
    # Mean counts of a Poisson forest of ~300 trees: within 10 % on the default crowns.
    assert len(prims) == pytest.approx(expected_primitives(scene), rel=0.10)


@pytest.mark.parametrize(
    "overrides",
    [
        ["forest.species='conifer'", "forest.crown_radius=[3.0, 4.0]"],
        ["forest.species='conifer'", "forest.crown_radius=[10.0, 12.0]", "forest.area=[60, 60]"],
        ["forest.foliage_density=0.1", "forest.height=[10.0, 12.0]", "forest.branch_levels=3"],
        ["forest.kind='random-occluders'", "forest.occluder_density=0.05"],
    ],
)
def test_expected_primitives_follow_other_crowns(overrides: list[str]) -> None:
    scene = load_scene(None, overrides)
    prims, _ = scene_geometry(scene)
    # Off the default crowns the branch count is extrapolated: within 40 %.
    assert len(prims) == pytest.approx(expected_primitives(scene), rel=0.40)


def test_no_forest_needs_only_the_ground() -> None:
    scene = load_scene(None, ["forest.kind='none'", "forest.area=[40.0, 20.0]"])
    (ground,) = world_needs(scene)
    cells = ((40 + 120) / 0.25) * ((20 + 120) / 0.25)  # a 60 m shadow margin on every side
    assert ground.what == "ground rasters" and ground.bytes == pytest.approx(cells * 200.0)
    assert expected_primitives(scene) == 0.0


def test_images_scale_with_pixels_and_drones() -> None:
    small = mission_needs(load_scene(None, ["camera.resolution=[64, 32]", "swarm.drones=3"]))
    big = mission_needs(load_scene(None, ["camera.resolution=[128, 64]", "swarm.drones=6"]))
    assert big[0].bytes == pytest.approx(8 * small[0].bytes)


def test_a_scene_over_the_limit_names_the_override_that_set_it() -> None:
    scene = load_scene(None, ["forest.density=1e9"])
    with pytest.raises(SceneError) as err:
        require_memory(scene, world_needs(scene), available=16 * GIB)
    text = str(err.value)
    assert err.value.key == "forest.density"
    assert "more than the 16 GiB available" in text and "forest primitives" in text
    assert "from override 'forest.density=1e9'" in text


def test_the_largest_part_is_blamed_and_the_limit_key_wins() -> None:
    scene = load_scene(None, ["run.memory_limit=0.5"])
    needs = [Need("a", 0.2 * GIB, ("forest.area",)), Need("b", 0.4 * GIB, ("camera.resolution",))]
    with pytest.raises(SceneError) as err:
        require_memory(scene, needs, available=1 << 40)  # ignored: the scene sets a limit
    assert err.value.key == "camera.resolution"
    assert "0.6 GiB, more than the 0.5 GiB run.memory_limit" in str(err.value)
    require_memory(scene, needs[:1], available=0)  # 0.2 GiB fits the scene's limit


def test_unknown_free_memory_refuses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    scene = load_scene(None)
    huge = [Need("x", float(1 << 60), ("forest.area",))]
    with pytest.raises(SceneError):
        require_memory(scene, huge)  # this machine reports its free memory
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    require_memory(scene, huge)


def test_a_mission_is_refused_before_its_world_is_built() -> None:
    scene = load_scene(None, ["camera.resolution=[100000, 100000]"])
    with pytest.raises(SceneError, match=r"camera\.resolution: the run needs about"):
        Mission(scene=scene)  # would build the forest first if not refused


def test_the_default_scene_fits_and_builds() -> None:
    scene = load_scene(None, ["run.memory_limit=1.0"])
    world = build_world(scene)  # the default forest within 1 GiB: not refused
    total = sum(n.bytes for n in world_needs(scene) + mission_needs(scene))
    assert len(world.primitives) > 0 and 0 < total < GIB


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("forest.density=1e9", "forest.density"),
        ("forest.area=[1e6,1e6]", "forest.area"),
        ("camera.resolution=[100000,100000]", "camera.resolution"),
    ],
)
def test_cli_refuses_in_one_line(
    override: str, key: str, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    assert main(["run", "--set", override, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f": {key}: the run needs about" in err
    assert not out.exists()
