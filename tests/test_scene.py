"""Scene files: loading, defaults, validation errors, overrides and the generated reference."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
from pathlib import Path

import pytest

from swarmsim import scene as scene_module
from swarmsim.scene import (
    DEFAULT_SCENE,
    SCENES_DIR,
    CameraConfig,
    ForestConfig,
    RunConfig,
    Scene,
    SceneError,
    TargetConfig,
    ThermalConfig,
    load_scene,
    parse_scene,
    schema_keys,
    schema_markdown,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "scenes.md"

FULL = """
[run]
seed = 42
backend = "cpu"

[forest]
kind = "random-occluders"
area = [200, 80.5]
density = 450
species = "mixed"
seed = 3
height = [18.0, 25.0]
branch_levels = 3
occluder_height = [4.0, 4.0]

[[targets]]
pose = "sitting"
position = [1.5, -2.0]
heading = 90

[[targets]]
position = [0.0, 0.0]
motion = "waypoints"
waypoints = [[0, 0.0, 0.0], [10.5, 5.0, 0.0], [20, 5.0, 5.0]]

[camera]
fov = 35.0
resolution = [640, 480]
pitch = 15

[thermal]
air = 5.0
quantize = true
range = [-10.0, 30.0]

[thermal.emissivity]
ground = 0.9
"""


def write(tmp_path: Path, text: str, name: str = "scene.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> SceneError:
    """Load `text` as a file and return the SceneError it must raise."""
    path = write(tmp_path, text)
    with pytest.raises(SceneError) as info:
        load_scene(path, overrides=overrides)
    err = info.value
    assert err.file == str(path)
    assert str(err).startswith(f"{path}: ")
    return err


def assert_key(err: SceneError, key: str) -> None:
    assert err.key == key
    assert f": {key}: " in str(err)


# --------------------------------------------------------------------------------------------
# Loading and defaults


def test_empty_file_gives_all_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    scene = load_scene(path)
    assert scene == Scene()
    assert scene.source == str(path)
    assert scene.targets == ()


def test_minimal_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write(tmp_path, "[forest]\ndensity = 120\n\n[[targets]]\nposition = [3, 4]\n")
    scene = load_scene(str(path))
    assert scene.forest.density == 120.0
    assert isinstance(scene.forest.density, float)
    assert scene.forest.kind == "procedural"
    assert scene.targets == (TargetConfig(position=(3.0, 4.0)),)
    assert scene.run == RunConfig()


def test_full_file_converts_types(tmp_path: Path) -> None:
    scene = load_scene(write(tmp_path, FULL))
    assert scene.run == RunConfig(seed=42, backend="cpu")
    assert scene.forest.area == (200.0, 80.5)
    assert all(isinstance(v, float) for v in scene.forest.area)
    assert scene.forest.seed == 3
    assert scene.forest.occluder_height == (4.0, 4.0)  # low == high is allowed
    assert [t.pose for t in scene.targets] == ["sitting", "lying"]
    assert scene.targets[0].heading == 90.0
    assert scene.targets[1].waypoints == ((0.0, 0.0, 0.0), (10.5, 5.0, 0.0), (20.0, 5.0, 5.0))
    assert scene.camera.resolution == (640, 480)
    assert all(type(v) is int for v in scene.camera.resolution)
    assert scene.thermal.quantize is True
    assert scene.thermal.emissivity.ground == 0.9
    assert scene.thermal.emissivity.wood == 0.95


def test_scene_is_frozen_and_hashable() -> None:
    scene = parse_scene({"targets": [{"position": [1, 2]}]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        scene.run = RunConfig(seed=1)  # type: ignore[misc]
    assert hash(scene) == hash(parse_scene({"targets": [{"position": [1, 2]}]}))


def test_equality_ignores_source(tmp_path: Path) -> None:
    assert load_scene(write(tmp_path, "")) == parse_scene({})


def test_parse_scene_does_not_modify_its_input() -> None:
    data = {"forest": {"density": 10}, "targets": [{"position": [0, 0]}]}
    before = json.dumps(data)
    parse_scene(data, overrides=["forest.density=20", "targets.1.position=[1,1]"])
    assert json.dumps(data) == before


@pytest.mark.skipif(not DEFAULT_SCENE.exists(), reason="scenes/default.toml not written yet")
def test_default_scene_loads() -> None:
    scene = load_scene()
    assert scene.source == str(DEFAULT_SCENE)
    assert load_scene(DEFAULT_SCENE) == scene


def test_default_scene_location() -> None:
    assert DEFAULT_SCENE == SCENES_DIR / "default.toml"
    assert SCENES_DIR.parent == Path(scene_module.__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# Errors: file level


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(SceneError) as info:
        load_scene(path)
    assert str(info.value) == f"{path}: file not found"
    assert info.value.file == str(path)
    assert info.value.key is None


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    err = error_for(tmp_path, '[forest]\ndensity = 300\nkind = "procedural\n')
    assert err.key is None
    assert "TOML syntax error" in str(err)
    assert "line 3" in str(err)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[forest]\nspecies = "ch\xeane"\n'.encode("latin-1"))
    with pytest.raises(SceneError, match="UTF-8") as info:
        load_scene(path)
    assert info.value.file == str(path)


def test_scene_error_is_a_value_error_and_pickles() -> None:
    err = SceneError("a.toml", "forest.density", "expected a number >= 0, got -1")
    assert isinstance(err, ValueError)
    assert str(err) == "a.toml: forest.density: expected a number >= 0, got -1"
    back = pickle.loads(pickle.dumps(err))
    assert (back.file, back.key, back.detail, str(back)) == (
        err.file,
        err.key,
        err.detail,
        str(err),
    )


def test_parse_scene_rejects_a_non_mapping() -> None:
    with pytest.raises(SceneError, match=r"^<dict>: expected a table"):
        parse_scene([1, 2])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Errors: unknown keys are never ignored


def test_unknown_key_in_section_suggests_closest(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[forest]\ndensty = 300\n")
    assert_key(err, "forest.densty")
    assert "did you mean 'density'?" in str(err)


def test_unknown_section(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[camra]\nfov = 40\n")
    assert_key(err, "camra")
    assert "did you mean 'camera'?" in str(err)


def test_unknown_key_without_close_match_lists_valid_keys(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[camera]\nzzz = 1\n")
    assert_key(err, "camera.zzz")
    assert "'fov'" in str(err) and "'resolution'" in str(err) and "'pitch'" in str(err)


def test_unknown_key_inside_target(tmp_path: Path) -> None:
    text = "[[targets]]\nposition = [0, 0]\n\n[[targets]]\nposition = [1, 1]\npsoe = 'lying'\n"
    err = error_for(tmp_path, text)
    assert_key(err, "targets[1].psoe")
    assert "did you mean 'pose'?" in str(err)


def test_unknown_key_inside_sub_table(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[thermal.emissivity]\nfoilage = 0.9\n")
    assert_key(err, "thermal.emissivity.foilage")
    assert "did you mean 'foliage'?" in str(err)


# --------------------------------------------------------------------------------------------
# Errors: types


def test_wrong_type_string_for_number(tmp_path: Path) -> None:
    err = error_for(tmp_path, '[forest]\ndensity = "dense"\n')
    assert_key(err, "forest.density")
    assert str(err).endswith("expected a number >= 0, got 'dense'")


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[camera]\nfov = true\n")
    assert_key(err, "camera.fov")
    assert "got True" in str(err)


def test_float_is_not_an_int(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[run]\nseed = 1.0\n")
    assert_key(err, "run.seed")
    assert "expected an integer >= 0" in str(err)


def test_number_is_not_a_bool(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[thermal]\nquantize = 1\n")
    assert_key(err, "thermal.quantize")
    assert "expected true or false" in str(err)


def test_section_must_be_a_table(tmp_path: Path) -> None:
    err = error_for(tmp_path, "forest = 3\n")
    assert_key(err, "forest")
    assert "expected a table" in str(err)


def test_sub_table_must_be_a_table(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[thermal]\nemissivity = 0.9\n")
    assert_key(err, "thermal.emissivity")
    assert "expected a table" in str(err)


def test_targets_must_be_an_array_of_tables(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[targets]\nposition = [0, 0]\n")
    assert_key(err, "targets")
    assert "expected an array of tables" in str(err)


def test_list_expected_not_scalar(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[forest]\narea = 100\n")
    assert_key(err, "forest.area")
    assert "expected a list of 2 numbers" in str(err)


def test_list_element_of_wrong_type(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[camera]\nresolution = [512, 512.0]\n")
    assert_key(err, "camera.resolution[1]")
    assert "expected an integer >= 1" in str(err)


# --------------------------------------------------------------------------------------------
# Errors: values


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[forest]\ndensity = -1\n", "forest.density", "a number >= 0"),
        ("[forest]\nbranch_levels = 4\n", "forest.branch_levels", "an integer in [0, 3]"),
        ("[forest]\nleaf_fill = 0\n", "forest.leaf_fill", "a number in (0, 1]"),
        ("[camera]\nfov = 180\n", "camera.fov", "a number in (0, 180)"),
        ("[camera]\npitch = 90\n", "camera.pitch", "a number in [0, 90)"),
        ("[thermal]\nsun_azimuth = 360\n", "thermal.sun_azimuth", "a number in [0, 360)"),
        ("[thermal]\nsun_elevation = 0\n", "thermal.sun_elevation", "a number in (0, 90]"),
        ("[thermal]\nnetd = -0.01\n", "thermal.netd", "a number in [0, 100]"),
        ("[thermal]\nnetd = 1e300\n", "thermal.netd", "a number in [0, 100]"),
        ("[thermal.emissivity]\ntarget = 1.5\n", "thermal.emissivity.target", "a number in (0, 1]"),
        ("[run]\nseed = -1\n", "run.seed", "an integer >= 0"),
        ("[forest]\nseed = -2\n", "forest.seed", "an integer >= 0"),
        (
            "[[targets]]\nposition = [0, 0]\ntemperature = 101\n",
            "targets[0].temperature",
            "a number in [-50, 100]",
        ),
        ("[[targets]]\nposition = [0, 0]\nspeed = 0\n", "targets[0].speed", "a number > 0"),
    ],
)
def test_out_of_range(tmp_path: Path, text: str, key: str, expected: str) -> None:
    err = error_for(tmp_path, text)
    assert_key(err, key)
    assert f"expected {expected}" in str(err)


@pytest.mark.parametrize(
    "text",
    ["[forest]\nleaf_fill = 1\n", "[camera]\npitch = 0\n", "[forest]\nbranch_levels = 0\n"],
)
def test_closed_bounds_are_inclusive(tmp_path: Path, text: str) -> None:
    load_scene(write(tmp_path, text))


def test_element_out_of_range_names_the_element(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[forest]\narea = [100, 0]\n")
    assert_key(err, "forest.area[1]")
    assert "expected a number > 0, got 0" in str(err)


def test_not_one_of_the_choices_lists_them(tmp_path: Path) -> None:
    err = error_for(tmp_path, '[forest]\nkind = "procedual"\n')
    assert_key(err, "forest.kind")
    assert "expected one of 'procedural', 'random-occluders', 'none', got 'procedual'" in str(err)
    assert "did you mean 'procedural'?" in str(err)


def test_choice_inside_target(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[[targets]]\nposition = [0, 0]\nmotion = 'run'\n")
    assert_key(err, "targets[0].motion")
    assert "'static', 'waypoints', 'random-walk'" in str(err)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[forest]\ndensity = nan\n", "forest.density"),
        ("[thermal]\nair = inf\n", "thermal.air"),
        ("[thermal]\nsky = -inf\n", "thermal.sky"),
        ("[forest]\narea = [100, inf]\n", "forest.area[1]"),
        ("[[targets]]\nposition = [nan, 0]\n", "targets[0].position[0]"),
        ("[thermal]\nrange = [0, nan]\n", "thermal.range[1]"),
    ],
)
def test_non_finite_numbers(tmp_path: Path, text: str, key: str) -> None:
    err = error_for(tmp_path, text)
    assert_key(err, key)
    assert "expected a finite number" in str(err)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[forest]\narea = [100]\n", "forest.area"),
        ("[camera]\nresolution = [1, 2, 3]\n", "camera.resolution"),
        ("[[targets]]\nposition = [0, 0]\nclothing = [0.5, 0.5]\n", "targets[0].clothing"),
        ("[[targets]]\nposition = []\n", "targets[0].position"),
    ],
)
def test_wrong_list_length(tmp_path: Path, text: str, key: str) -> None:
    err = error_for(tmp_path, text)
    assert_key(err, key)
    assert re.search(r"expected a list of \d ", str(err))


def test_missing_required_key(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[[targets]]\nposition = [0, 0]\n\n[[targets]]\npose = 'sitting'\n")
    assert_key(err, "targets[1].position")
    assert "missing required key" in str(err)


@pytest.mark.parametrize(
    "key", ["height", "crown_radius", "crown_base", "trunk_radius", "occluder_height"]
)
def test_low_above_high(tmp_path: Path, key: str) -> None:
    err = error_for(tmp_path, f"[forest]\n{key} = [9.0, 8.0]\n")
    assert_key(err, f"forest.{key}")
    assert "low <= high" in str(err)


def test_thermal_range_needs_low_below_high(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[thermal]\nrange = [10.0, 10.0]\n")
    assert_key(err, "thermal.range")
    assert "low < high" in str(err)


def test_waypoints_required_for_waypoint_motion(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[[targets]]\nposition = [0, 0]\nmotion = 'waypoints'\n")
    assert_key(err, "targets[0].waypoints")
    assert "at least one" in str(err)


def test_waypoint_times_strictly_increasing(tmp_path: Path) -> None:
    text = (
        "[[targets]]\nposition = [0, 0]\nmotion = 'waypoints'\n"
        "waypoints = [[0, 0, 0], [5, 1, 1], [5, 2, 2]]\n"
    )
    err = error_for(tmp_path, text)
    assert_key(err, "targets[0].waypoints")
    assert "strictly increasing" in str(err)


def test_waypoint_row_length(tmp_path: Path) -> None:
    text = "[[targets]]\nposition = [0, 0]\nmotion = 'waypoints'\nwaypoints = [[0, 0, 0], [1, 2]]\n"
    err = error_for(tmp_path, text)
    assert_key(err, "targets[0].waypoints[1]")
    assert "expected a list of 3 numbers" in str(err)


def test_waypoints_allowed_without_waypoint_motion(tmp_path: Path) -> None:
    text = "[[targets]]\nposition = [0, 0]\nwaypoints = [[0, 0, 0]]\n"
    assert load_scene(write(tmp_path, text)).targets[0].waypoints == ((0.0, 0.0, 0.0),)


def test_below_absolute_zero(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[thermal]\nair = -300\n")
    assert_key(err, "thermal.air")


# --------------------------------------------------------------------------------------------
# Overrides


def test_override_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "[forest]\ndensity = 100\n")
    scene = load_scene(path, overrides=["forest.density=400", "run.seed=9"])
    assert scene.forest.density == 400.0
    assert scene.run.seed == 9


def test_override_lists() -> None:
    scene = parse_scene({}, overrides=["camera.resolution=[128,128]", "forest.area=[50, 60.5]"])
    assert scene.camera.resolution == (128, 128)
    assert scene.forest.area == (50.0, 60.5)


def test_override_strings_quoted_or_bare() -> None:
    scene = parse_scene({}, overrides=["forest.kind=none", 'forest.species="conifer"'])
    assert scene.forest.kind == "none"
    assert scene.forest.species == "conifer"


def test_override_bool_and_spaces() -> None:
    scene = parse_scene({}, overrides=["thermal.quantize = true", " run.backend = cpu "])
    assert scene.thermal.quantize is True
    assert scene.run.backend == "cpu"


def test_override_indexes_existing_target() -> None:
    data = {"targets": [{"position": [0, 0]}, {"position": [5, 5]}]}
    scene = parse_scene(data, overrides=["targets.1.position=[1.0,2.0]", "targets.0.pose=sitting"])
    assert scene.targets[1].position == (1.0, 2.0)
    assert scene.targets[0].pose == "sitting"
    assert scene.targets[0].position == (0.0, 0.0)


def test_override_one_past_the_end_appends_a_target() -> None:
    scene = parse_scene(
        {},
        overrides=[
            "targets.0.position=[1,2]",
            "targets.1.position=[3,4]",
            "targets.1.pose=standing",
        ],
    )
    assert [t.position for t in scene.targets] == [(1.0, 2.0), (3.0, 4.0)]
    assert scene.targets[1].pose == "standing"


def test_override_whole_target_table() -> None:
    scene = parse_scene({}, overrides=['targets.0={position=[1, 2], pose="sitting"}'])
    assert scene.targets == (TargetConfig(position=(1.0, 2.0), pose="sitting"),)


def test_override_sub_table() -> None:
    scene = parse_scene({}, overrides=["thermal.emissivity.ground=0.9"])
    assert scene.thermal.emissivity.ground == 0.9
    assert scene.thermal.emissivity.wood == 0.95


def test_later_override_wins() -> None:
    scene = parse_scene({}, overrides=["forest.density=1", "forest.density=2"])
    assert scene.forest.density == 2.0


def test_single_string_override_is_not_split_into_characters() -> None:
    assert parse_scene({}, overrides="forest.density=5").forest.density == 5.0


def test_override_unknown_key(tmp_path: Path) -> None:
    err = error_for(tmp_path, "", overrides=("forest.densty=400",))
    assert_key(err, "forest.densty")
    assert "did you mean 'density'?" in str(err)
    assert "forest.densty=400" in str(err)


def test_override_unknown_section(tmp_path: Path) -> None:
    err = error_for(tmp_path, "", overrides=("forrest.density=400",))
    assert_key(err, "forrest")
    assert "did you mean 'forest'?" in str(err)


def test_override_unknown_key_in_target(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[[targets]]\nposition = [0, 0]\n", overrides=("targets.0.psoe=x",))
    assert_key(err, "targets[0].psoe")


@pytest.mark.parametrize("text", ["forest.density", "=5", "forest..density=5", ""])
def test_malformed_override(tmp_path: Path, text: str) -> None:
    err = error_for(tmp_path, "", overrides=(text,))
    assert err.key is None
    assert "expected an override 'dotted.key=value'" in str(err)


def test_override_index_past_the_end(tmp_path: Path) -> None:
    err = error_for(tmp_path, "", overrides=("targets.2.position=[0,0]",))
    assert_key(err, "targets.2")
    assert "expected an index 0..0" in str(err)


def test_override_index_not_an_integer(tmp_path: Path) -> None:
    err = error_for(tmp_path, "", overrides=("targets.first.position=[0,0]",))
    assert_key(err, "targets.first")


def test_override_below_a_value_that_is_not_a_table(tmp_path: Path) -> None:
    err = error_for(tmp_path, "", overrides=("camera.fov.x=1",))
    assert_key(err, "camera.fov")


def test_override_value_is_validated_and_blamed(tmp_path: Path) -> None:
    err = error_for(tmp_path, "", overrides=("forest.density=-3",))
    assert_key(err, "forest.density")
    assert "expected a number >= 0, got -3 (from override 'forest.density=-3')" in str(err)


def test_override_creating_incomplete_target_is_blamed(tmp_path: Path) -> None:
    err = error_for(tmp_path, "", overrides=("targets.0.pose=sitting",))
    assert_key(err, "targets[0].position")
    assert "from override 'targets.0.pose=sitting'" in str(err)


def test_with_overrides_revalidates() -> None:
    scene = parse_scene({}, source="x.toml")
    assert scene.with_overrides("forest.density=10").forest.density == 10.0
    with pytest.raises(SceneError, match=r"^x\.toml: forest\.density: "):
        scene.with_overrides("forest.density=-10")


# --------------------------------------------------------------------------------------------
# to_dict


def test_to_dict_is_json_and_round_trips(tmp_path: Path) -> None:
    scene = load_scene(write(tmp_path, FULL))
    data = scene.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert "source" not in data
    assert data["targets"][1]["waypoints"][1] == [10.5, 5.0, 0.0]
    assert parse_scene(data) == scene
    assert parse_scene(json.loads(json.dumps(data))) == scene


def test_to_dict_round_trips_defaults_with_unset_optional() -> None:
    scene = parse_scene({})
    data = scene.to_dict()
    assert data["forest"]["seed"] is None
    sections = {"run", "forest", "targets", "camera", "thermal"}
    assert set(data) == sections | {"swarm", "strategy", "mission", "dynamics"}
    assert parse_scene(data) == scene


# --------------------------------------------------------------------------------------------
# Schema and docs


def test_schema_keys_cover_every_section() -> None:
    keys = schema_keys()
    assert len(keys) == len(set(keys))
    for key in ("run.seed", "forest.occluder_height", "targets[i].turn_rate", "camera.pitch"):
        assert key in keys
    assert "thermal.emissivity.target" in keys
    for cls, prefix in ((ForestConfig, "forest"), (ThermalConfig, "thermal")):
        for f in dataclasses.fields(cls):
            assert f"{prefix}.{f.name}" in keys


def test_every_field_has_doc() -> None:
    for cls in (RunConfig, ForestConfig, TargetConfig, CameraConfig, ThermalConfig):
        for f in dataclasses.fields(cls):
            assert f.metadata["doc"].strip(), f"{cls.__name__}.{f.name} has no doc"


def test_every_key_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    missing = [key for key in schema_keys() if f"`{key}`" not in docs]
    assert not missing, f"undocumented keys (run python -m swarmsim.scene --update {DOCS})"
    for section in ("[run]", "[forest]", "[[targets]]", "[camera]", "[thermal]"):
        assert f"`{section}`" in docs


def test_docs_reference_is_up_to_date() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert scene_module.generated_block(docs) == schema_markdown(), (
        "docs/scenes.md is stale: run python -m swarmsim.scene --update docs/scenes.md"
    )


def test_docs_example_scene_is_valid() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", docs, re.S)
    assert example is not None
    scene = parse_scene(scene_module.tomllib.loads(example.group(1)), source="docs example")
    assert len(scene.targets) == 2


def test_schema_markdown_rows() -> None:
    text = schema_markdown()
    assert "| `forest.density` | float | `300.0` | >= 0 | trees/ha |" in text
    assert "| `targets[i].position` | [float, float] | required |" in text
    assert "| `forest.seed` | int or unset | unset |" in text


def test_new_sections_need_only_a_dataclass() -> None:
    """The converter is generic: a section declared with `_key` validates with no extra code."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Extra:
        n: int = scene_module._key(1, "A count.", ge=1)
        mode: str = scene_module._key("a", "A mode.", choices=("a", "b"))
        gains: tuple[float, float] = scene_module._key((0.0, 1.0), "Gains.", ordered="<=")

    extra = scene_module._build(Extra, {"n": 3, "gains": [1, 2]}, "extra")
    assert extra == Extra(n=3, gains=(1.0, 2.0))
    with pytest.raises(scene_module._Problem) as info:
        scene_module._build(Extra, {"mode": "c"}, "extra")
    assert info.value.key == "extra.mode"
