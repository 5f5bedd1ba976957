import numpy as np
import pytest

from swarmsim.world.geometry import CAPSULE, LABEL_TARGET, SPHERE, heading_vector
from swarmsim.world.targets import (
    POSES,
    SKIN_ALBEDO,
    Target,
    Trajectory,
    person_primitives,
    random_walk,
    static_trajectory,
    target_footprint_radius,
    targets_primitives,
    waypoint_trajectory,
)

EAST, NORTH, WEST = -np.pi / 2, 0.0, np.pi / 2

# --- trajectories ----------------------------------------------------------------------------


@pytest.fixture
def walk():
    # East 10 m in 10 s, rest 5 s, north 10 m in 5 s.
    return waypoint_trajectory(
        waypoints=np.array(
            [[0.0, 0.0, 0.0], [10.0, 10.0, 0.0], [15.0, 10.0, 0.0], [20.0, 10.0, 10.0]]
        ),
        heading=1.0,
    )


@pytest.mark.parametrize(
    ("t", "position", "velocity"),
    [
        (0.0, (0.0, 0.0), (1.0, 0.0)),
        (2.5, (2.5, 0.0), (1.0, 0.0)),
        (10.0, (10.0, 0.0), (0.0, 0.0)),
        (12.0, (10.0, 0.0), (0.0, 0.0)),
        (16.0, (10.0, 2.0), (0.0, 2.0)),
        (18.5, (10.0, 7.0), (0.0, 2.0)),
    ],
)
def test_waypoint_interpolation(walk, t, position, velocity):
    np.testing.assert_allclose(walk.position(t), position, atol=1e-12)
    np.testing.assert_allclose(walk.velocity(t), velocity, atol=1e-12)


def test_waypoint_clamps_beyond_ends(walk):
    np.testing.assert_allclose(walk.position(-5.0), (0.0, 0.0))
    np.testing.assert_allclose(walk.position(100.0), (10.0, 10.0))
    np.testing.assert_allclose(walk.velocity(-5.0), (0.0, 0.0))
    np.testing.assert_allclose(walk.velocity(100.0), (0.0, 0.0))


def test_heading_follows_motion_and_keeps_it_at_rest(walk):
    assert walk.heading(-1.0) == pytest.approx(1.0)  # before any motion
    assert walk.heading(3.0) == pytest.approx(EAST)
    assert walk.heading(12.0) == pytest.approx(EAST)  # resting after walking east
    assert walk.heading(17.0) == pytest.approx(NORTH)
    assert walk.heading(25.0) == pytest.approx(NORTH)  # after the end
    np.testing.assert_allclose(walk.heading(np.array([3.0, 17.0])), [EAST, NORTH])


def test_initial_rest_uses_heading0():
    waypoints = np.array([[0.0, 1.0, 1.0], [4.0, 1.0, 1.0], [6.0, -1.0, 1.0]])
    tr = waypoint_trajectory(waypoints=waypoints, heading=0.3)
    assert tr.heading(2.0) == pytest.approx(0.3)
    assert tr.heading(5.0) == pytest.approx(WEST)
    np.testing.assert_allclose(tr.position(5.0), (0.0, 1.0))


def test_array_times(walk):
    t = np.array([0.0, 2.5, 16.0])
    np.testing.assert_allclose(walk.position(t), [[0.0, 0.0], [2.5, 0.0], [10.0, 2.0]])
    assert walk.velocity(t).shape == (3, 2)


def test_static_trajectory():
    tr = static_trajectory(position=(3.0, -2.0), heading=0.7)
    for t in (-10.0, 0.0, 55.0):
        np.testing.assert_allclose(tr.position(t), (3.0, -2.0))
        assert tr.heading(t) == pytest.approx(0.7)
        np.testing.assert_allclose(tr.velocity(t), (0.0, 0.0))


@pytest.mark.parametrize(
    ("waypoints", "match"),
    [
        ([[0.0, 0.0, 0.0], [0.0, 1.0, 1.0]], "increase"),
        ([[0.0, 0.0, 0.0], [2.0, 1.0, 1.0], [1.0, 2.0, 2.0]], "increase"),
        ([[0.0, 0.0, 0.0], [1.0, np.nan, 1.0]], "finite"),
        ([[0.0, 0.0, 0.0], [1.0, np.inf, 1.0]], "finite"),
        ([[0.0, 0.0], [1.0, 1.0]], "shape"),
        (np.zeros((0, 3)), "shape"),
    ],
)
def test_waypoint_validation(waypoints, match):
    with pytest.raises(ValueError, match=match):
        waypoint_trajectory(waypoints=np.asarray(waypoints), heading=0.0)


def test_trajectory_validation():
    with pytest.raises(ValueError, match="increasing"):
        Trajectory(times=np.array([1.0, 1.0]), points=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="points"):
        Trajectory(times=np.array([0.0, 1.0]), points=np.zeros((3, 2)))


def rw(seed, **overrides):
    kw = dict(start=(1.0, 2.0), heading=0.4, speed=1.5, turn_rate=0.3, duration=20.2)
    return random_walk(**{**kw, **overrides}, rng=np.random.default_rng(seed))


def test_random_walk_constant_speed_and_times():
    tr = rw(0)
    assert tr.times[0] == 0.0 and tr.times[-1] == pytest.approx(20.2)
    np.testing.assert_allclose(np.diff(tr.times)[:-1], 0.5)
    step = np.linalg.norm(np.diff(tr.points, axis=0), axis=1)
    np.testing.assert_allclose(step / np.diff(tr.times), 1.5, rtol=1e-9)
    np.testing.assert_allclose(tr.position(0.0), (1.0, 2.0))
    assert tr.heading(0.1) == pytest.approx(0.4)  # first step along the initial heading


def test_random_walk_deterministic():
    np.testing.assert_array_equal(rw(3).points, rw(3).points)
    assert not np.allclose(rw(3).points, rw(4).points)


def test_random_walk_without_turning_is_straight():
    tr = rw(1, turn_rate=0.0)
    expected = np.array([1.0, 2.0]) + 1.5 * 20.2 * heading_vector(0.4)
    np.testing.assert_allclose(tr.position(20.2), expected, atol=1e-9)


def test_random_walk_heading_diffuses():
    # Heading after the last turn is the sum of (n - 1) increments of variance rate^2 * dt.
    final = np.array(
        [rw(s, turn_rate=0.1, duration=20.0, heading=0.0).heading(19.9) for s in range(1500)]
    )
    expected = 0.1**2 * 19.5
    assert np.var(final) == pytest.approx(expected, rel=0.15)
    assert abs(np.mean(final)) < 4 * np.sqrt(expected / 1500)


def test_random_walk_validation():
    with pytest.raises(ValueError, match="speed"):
        rw(0, speed=-1.0)
    with pytest.raises(ValueError, match="duration"):
        rw(0, duration=0.0)
    with pytest.raises(ValueError, match="dt"):
        rw(0, dt=0.0)


# --- persons ---------------------------------------------------------------------------------


def person(pose, heading=0.0, position=(0.0, 0.0), **kw):
    args = dict(owner=2, temperature=34.0, clothing=(0.1, 0.2, 0.6))
    return person_primitives(pose=pose, position=position, heading=heading, **{**args, **kw})


def extent_along(prims, direction):
    """Length of the body's projection onto a horizontal unit direction (2,)."""
    d = np.array([direction[0], direction[1], 0.0])
    ends = np.concatenate([prims.a, np.where((prims.kind == CAPSULE)[:, None], prims.b, prims.a)])
    proj = ends @ d
    r = np.concatenate([prims.radius, prims.radius])
    return (proj + r).max() - (proj - r).min()


def box(prims):
    b = prims.bounds()
    return b[:, 0].min(axis=0), b[:, 1].max(axis=0)


@pytest.mark.parametrize("heading", [0.0, 0.5, np.pi / 2, 2.5, -np.pi / 2])
def test_standing_extents(heading):
    p = person("standing", heading, position=(5.0, -3.0))
    lo, hi = box(p)
    assert lo[2] == pytest.approx(0.0, abs=0.01)
    assert hi[2] == pytest.approx(1.8, abs=0.02)
    side = heading_vector(heading + np.pi / 2)
    assert 0.42 <= extent_along(p, side) <= 0.6  # shoulders and arms
    assert extent_along(p, heading_vector(heading)) < 0.45
    np.testing.assert_allclose((lo[:2] + hi[:2]) / 2, (5.0, -3.0), atol=0.15)


@pytest.mark.parametrize("heading", [0.0, 0.5, np.pi / 2, 2.5, -np.pi / 2])
def test_lying_extents(heading):
    p = person("lying", heading)
    lo, hi = box(p)
    assert lo[2] >= -1e-6 and hi[2] <= 0.35
    assert extent_along(p, heading_vector(heading)) == pytest.approx(1.8, abs=0.05)
    assert extent_along(p, heading_vector(heading + np.pi / 2)) < 0.65
    # On its back with the head towards +forward and the feet towards -forward.
    head = p.a[(p.kind == SPHERE) & (p.radius == p.radius[p.kind == SPHERE].max())][0]
    assert head[:2] @ heading_vector(heading) > 0.7


def test_lying_axis_aligned_bounds():
    for heading, axis in ((0.0, 1), (np.pi, 1), (np.pi / 2, 0), (EAST, 0)):
        lo, hi = box(person("lying", heading))
        assert hi[axis] - lo[axis] == pytest.approx(1.8, abs=0.05)
        assert hi[1 - axis] - lo[1 - axis] < 0.65


@pytest.mark.parametrize("heading", [0.0, 1.0, np.pi])
def test_sitting_extents(heading):
    p = person("sitting", heading)
    lo, hi = box(p)
    assert lo[2] >= -1e-6
    assert 0.85 <= hi[2] <= 1.05
    forward = heading_vector(heading)
    length = extent_along(p, forward)
    assert 0.9 <= length <= 1.3
    # Legs stretch forward: most of the body lies ahead of the position.
    ends = p.a[:, :2] @ forward
    assert ends.max() > 0.7 and ends.min() > -0.3


def test_person_materials_and_labels():
    p = person("standing", temperature=31.5, clothing=(0.1, 0.2, 0.6), owner=7)
    assert np.all(p.label == LABEL_TARGET)
    assert np.all(p.owner == 7)
    assert np.all(p.temperature == np.float32(31.5))
    skin = np.all(np.isclose(p.albedo, SKIN_ALBEDO), axis=1)
    cloth = np.all(np.isclose(p.albedo, (0.1, 0.2, 0.6)), axis=1)
    assert np.all(skin | cloth) and cloth.sum() > skin.sum() > 0
    head = (p.kind == SPHERE) & np.isclose(p.radius, 0.11)
    assert head.sum() == 1 and skin[head][0]


def test_limb_radii_realistic():
    p = person("standing")
    assert 0.15 <= p.radius.max() <= 0.18  # torso
    assert p.radius.min() >= 0.035


@pytest.mark.parametrize("pose", POSES)
def test_footprint_encloses_body(pose):
    radius = target_footprint_radius(pose)
    for heading in np.linspace(-np.pi, np.pi, 7):
        p = person(pose, heading, position=(2.0, 1.0))
        ends = np.concatenate([p.a, np.where((p.kind == CAPSULE)[:, None], p.b, p.a)])
        reach = np.linalg.norm(ends[:, :2] - (2.0, 1.0), axis=1) + np.tile(p.radius, 2)
        assert reach.max() <= radius + 1e-5
        assert reach.max() >= radius - 1e-3
    assert target_footprint_radius("standing") < 0.4 < target_footprint_radius("lying") <= 1.0


def test_invalid_person():
    with pytest.raises(ValueError, match="lying"):
        person("crawling")
    with pytest.raises(ValueError, match="clothing"):
        person("standing", clothing=(0.1, 0.2))
    with pytest.raises(ValueError, match="pose"):
        Target(pose="running", trajectory=static_trajectory(position=(0, 0), heading=0))
    with pytest.raises(ValueError, match="clothing"):
        Target(
            pose="lying",
            trajectory=static_trajectory(position=(0, 0), heading=0),
            clothing=(2.0, 0.0, 0.0),
        )


# --- targets ---------------------------------------------------------------------------------


def test_target_follows_trajectory(walk):
    target = Target(pose="standing", trajectory=walk, temperature=33.0, clothing=(0.5, 0.1, 0.1))
    p = target.primitives(5.0, owner=4)
    np.testing.assert_array_equal(p.owner, 4)
    expected = person(
        "standing", EAST, position=(5.0, 0.0), owner=4, temperature=33.0, clothing=(0.5, 0.1, 0.1)
    )
    np.testing.assert_allclose(p.a, expected.a, atol=1e-5)
    np.testing.assert_allclose(p.b, expected.b, atol=1e-5)
    # Facing east: the toes point east of the feet.
    toes = p.kind == CAPSULE
    assert np.all(p.b[toes & (p.a[:, 2] < 0.1), 0] > 5.0)


def test_targets_primitives_concatenates_with_indices():
    targets = [
        Target(pose=pose, trajectory=static_trajectory(position=(i * 10.0, 0.0), heading=0.0))
        for i, pose in enumerate(POSES)
    ]
    p = targets_primitives(targets, 0.0)
    per_person = len(targets[0].primitives(0.0, owner=0))
    assert len(p) == 3 * per_person
    np.testing.assert_array_equal(p.owner, np.repeat([0, 1, 2], per_person))
    for i in range(3):
        centre = p.a[p.owner == i, 0].mean()
        assert abs(centre - 10.0 * i) < 1.0
    assert len(targets_primitives([], 0.0)) == 0
