import json

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import cKDTree

from swarmsim.world.forest import (
    BROADLEAF,
    CONIFER,
    MIN_STEM_SPACING,
    procedural_forest,
    random_occluders,
)
from swarmsim.world.geometry import (
    CAPSULE,
    DISC,
    LABEL_FOLIAGE,
    LABEL_WOOD,
    SPHERE,
    Primitives,
)

DEFAULTS = dict(
    area=(100.0, 100.0),
    density=300.0,
    species="mixed",
    height=(20.0, 23.0),
    crown_radius=(5.0, 7.5),
    crown_base=(2.0, 6.0),
    trunk_radius=(0.15, 0.3),
    branch_levels=2,
    foliage_density=1.5,
    twig_radius=0.35,
)
# Bound on how far the leaning, bent stem axis (and so the crown) strays from the stem base.
AXIS_TOLERANCE = 1.2


def forest(seed: int = 0, **overrides):
    return procedural_forest(**{**DEFAULTS, **overrides}, rng=np.random.default_rng(seed))


def fields(prims: Primitives) -> dict:
    return {name: getattr(prims, name) for name in Primitives.__dataclass_fields__}


@pytest.fixture(scope="module")
def small_broadleaf():
    return forest(1, area=(40.0, 40.0), species="broadleaf")


@pytest.fixture(scope="module")
def small_conifer():
    return forest(2, area=(40.0, 40.0), species="conifer")


@pytest.fixture(scope="module")
def default_forest():
    return forest(3)


def test_same_seed_same_forest_different_seed_different():
    a, sa = forest(7, area=(30.0, 30.0))
    b, sb = forest(7, area=(30.0, 30.0))
    c, _ = forest(8, area=(30.0, 30.0))
    for name, value in fields(a).items():
        np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(sa.stems, sb.stems)
    assert sa.summary() == sb.summary()
    assert len(a) != len(c) or not np.array_equal(a.a, c.a)


def test_tree_count_follows_poisson_mean():
    # No foliage or branches: only the stem process matters here.
    _, s = forest(11, area=(400.0, 400.0), branch_levels=0, foliage_density=0.0)
    mean = 300.0 * 16.0
    assert abs(s.n_trees - mean) < 4 * np.sqrt(mean)
    # Mixed stands are conifer with probability 1/2 per tree.
    n_conifer = np.sum(s.species == CONIFER)
    assert abs(n_conifer - s.n_trees / 2) < 4 * np.sqrt(s.n_trees / 4)


def test_stems_inside_area_and_spaced():
    _, s = forest(5, area=(100.0, 60.0), branch_levels=0, foliage_density=0.0)
    assert s.stems.shape == (s.n_trees, 2)
    assert np.all(np.abs(s.stems[:, 0]) <= 50.0)
    assert np.all(np.abs(s.stems[:, 1]) <= 30.0)
    # At 300 trees/ha the soft spacing is always achievable.
    d, _ = cKDTree(s.stems).query(s.stems, k=2)
    assert d[:, 1].min() >= MIN_STEM_SPACING
    # Still uniform: each half of the rectangle holds about half the stems.
    east = np.sum(s.stems[:, 0] > 0)
    assert abs(east - s.n_trees / 2) < 4 * np.sqrt(s.n_trees / 4)


def test_per_tree_parameters_in_ranges(default_forest):
    _, s = default_forest
    n = s.n_trees
    for values in (s.heights, s.crown_radii, s.crown_bases, s.trunk_radii, s.species):
        assert values.shape == (n,)
    assert np.all((s.heights >= 20.0) & (s.heights <= 23.0))
    assert np.all((s.crown_radii >= 5.0) & (s.crown_radii <= 7.5))
    assert np.all((s.crown_bases >= 2.0) & (s.crown_bases <= 6.0))
    assert np.all((s.trunk_radii >= 0.15) & (s.trunk_radii <= 0.3))
    assert set(np.unique(s.species)) <= {BROADLEAF, CONIFER}


def test_labels_kinds_owners_and_counts(default_forest):
    p, s = default_forest
    wood = p.kind == CAPSULE
    disc = p.kind == DISC
    assert np.all(wood | disc)
    np.testing.assert_array_equal(p.label[wood], LABEL_WOOD)
    np.testing.assert_array_equal(p.label[disc], LABEL_FOLIAGE)
    assert s.n_wood == wood.sum() and s.n_foliage == disc.sum()
    assert p.owner.min() == 0 and p.owner.max() == s.n_trees - 1
    # Every tree has wood and foliage; primitives are grouped by tree.
    assert np.all(np.bincount(p.owner[wood], minlength=s.n_trees) > 0)
    assert np.all(np.bincount(p.owner[disc], minlength=s.n_trees) > 0)
    assert np.all(np.diff(p.owner) >= 0)
    # Materials are assigned elsewhere.
    assert np.all(p.temperature == 0.0)
    assert np.all(p.albedo == p.albedo[0])


def test_default_forest_primitive_budget(default_forest):
    p, s = default_forest
    assert len(p) == s.n_wood + s.n_foliage < 1_500_000
    assert s.n_foliage > 100_000


def test_primitives_between_ground_and_tree_top(default_forest):
    p, s = default_forest
    bounds = p.bounds()
    assert bounds[:, 0, 2].min() >= -1e-5
    top = np.full(s.n_trees, -np.inf)
    np.maximum.at(top, p.owner, bounds[:, 1, 2])
    # The highest primitive of each tree (conifer trunk tip, broadleaf leader) is its height.
    np.testing.assert_allclose(top, s.heights, atol=1e-3)


def test_disc_normals_unit_and_facing_up(default_forest):
    p, _ = default_forest
    n = p.b[p.kind == DISC].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)
    assert np.all(n[:, 2] > 0.0)
    # normalize(unit + 1.5 z) has a mean vertical component well above that of a hemisphere.
    assert n[:, 2].mean() > 0.8
    r = p.radius[p.kind == DISC]
    assert r.min() >= 0.35 * 0.7 - 1e-6 and r.max() <= 0.35 * 1.3 + 1e-6


def test_foliage_count_matches_crown_volume(default_forest):
    _, s = default_forest
    depth = s.heights - s.crown_bases
    shape = np.where(s.species == CONIFER, 1.0 / 3.0, 2.0 / 3.0)  # cone / ellipsoid
    expected = 1.5 * np.sum(shape * np.pi * s.crown_radii**2 * depth)
    assert abs(s.n_foliage - expected) < 4 * np.sqrt(expected)


def _foliage_by_tree(prims, s):
    disc = prims.kind == DISC
    owner = prims.owner[disc]
    centre = prims.a[disc].astype(np.float64)
    d = np.linalg.norm(centre[:, :2] - s.stems[owner], axis=1)
    return owner, centre[:, 2], d


def test_broadleaf_foliage_inside_ellipsoid(small_broadleaf):
    p, s = small_broadleaf
    assert np.all(s.species == BROADLEAF)
    owner, z, d = _foliage_by_tree(p, s)
    top, base, radius = s.heights[owner], s.crown_bases[owner], s.crown_radii[owner]
    assert np.all(z >= base - 1e-4) and np.all(z <= top + 1e-4)
    half = 0.5 * (top - base)
    width = radius * np.sqrt(np.clip(1.0 - ((z - (top + base) / 2) / half) ** 2, 0.0, 1.0))
    assert np.all(d <= width + AXIS_TOLERANCE)
    # Rounded: wider at mid-crown than near its base and top.
    u = (z - base) / (top - base)
    mid, low, high = d[(u > 0.4) & (u < 0.6)], d[u < 0.15], d[u > 0.85]
    assert np.median(mid) > np.median(low) + 1.0
    assert np.median(mid) > np.median(high) + 1.0


def test_conifer_foliage_inside_cone_and_narrowing(small_conifer):
    p, s = small_conifer
    assert np.all(s.species == CONIFER)
    owner, z, d = _foliage_by_tree(p, s)
    top, base, radius = s.heights[owner], s.crown_bases[owner], s.crown_radii[owner]
    assert np.all(z >= base - 1e-4) and np.all(z <= top + 1e-4)
    assert np.all(d <= radius * (top - z) / (top - base) + AXIS_TOLERANCE)
    # Widest near the crown base, shrinking with height.
    u = (z - base) / (top - base)
    medians = [
        np.median(d[(u >= lo) & (u < lo + 0.25)] / radius[(u >= lo) & (u < lo + 0.25)])
        for lo in (0.0, 0.25, 0.5, 0.75)
    ]
    assert np.all(np.diff(medians) < -0.1)


def test_conifer_trunk_reaches_top_broadleaf_trunk_does_not():
    for species, expect_tall in (("conifer", True), ("broadleaf", False)):
        p, s = forest(4, area=(30.0, 30.0), species=species, branch_levels=0, foliage_density=0)
        # With no branches and no foliage, all primitives are trunk segments.
        assert np.all(p.kind == CAPSULE)
        top = np.full(s.n_trees, -np.inf)
        np.maximum.at(top, p.owner, p.bounds()[:, 1, 2])
        tall = np.abs(top - s.heights) < 1e-3
        assert np.all(tall) if expect_tall else not np.any(tall)


def test_branch_levels_add_wood():
    counts = [
        forest(9, area=(30.0, 30.0), branch_levels=k, foliage_density=0)[1].n_wood
        for k in (0, 1, 2, 3)
    ]
    assert np.all(np.diff(counts) > 0)
    # Branches get thinner with each level.
    p, s = forest(9, area=(30.0, 30.0), species="broadleaf", branch_levels=3, foliage_density=0)
    assert p.radius.min() < 0.05 < 0.15 <= s.trunk_radii.min()


def test_summary_json_and_consistent(default_forest):
    p, s = default_forest
    summary = s.summary()
    json.dumps(summary)
    assert summary["n_trees"] == s.n_trees
    assert summary["trees_per_ha"] == pytest.approx(s.n_trees)  # 1 ha
    assert summary["n_primitives"] == len(p)
    assert summary["height_min"] <= summary["height_mean"] <= summary["height_max"]
    area = np.pi * p.radius[p.kind == DISC].astype(np.float64) ** 2
    assert summary["foliage_area_index"] == pytest.approx(area.sum() / 1e4, rel=1e-6)


def test_empty_forest():
    p, s = forest(0, density=0.0)
    assert len(p) == 0 and s.n_trees == 0
    json.dumps(s.summary())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"species": "palm"}, "species"),
        ({"height": (23.0, 20.0)}, "height"),
        ({"crown_radius": (0.0, 5.0)}, "crown_radius"),
        ({"trunk_radius": (0.2, float("nan"))}, "trunk_radius"),
        ({"density": -1.0}, "density"),
        ({"area": (0.0, 10.0)}, "area"),
        ({"branch_levels": -1}, "branch_levels"),
        ({"branch_levels": 1.5}, "branch_levels"),
        ({"foliage_density": -0.1}, "foliage_density"),
        ({"twig_radius": 0.0}, "twig_radius"),
    ],
)
def test_invalid_forest_parameters(overrides, field):
    with pytest.raises(ValueError, match=field):
        forest(0, **overrides)


# --- random occluders ------------------------------------------------------------------------


def occluders(seed=0, **overrides):
    kw = dict(area=(40.0, 30.0), density=0.05, radius=0.5, height=(4.0, 14.0), margin=5.0)
    return random_occluders(**{**kw, **overrides}, rng=np.random.default_rng(seed))


def test_occluders_count_and_kind():
    p = occluders(1)
    mean = 0.05 * 50.0 * 40.0 * 10.0
    assert abs(len(p) - mean) < 4 * np.sqrt(mean)
    assert np.all(p.kind == SPHERE)
    assert np.all(p.label == LABEL_FOLIAGE)
    assert np.all(p.owner == -1)
    assert np.all(p.radius == np.float32(0.5))
    assert np.all(p.b == 0.0)


def test_occluders_uniform_in_slab():
    c = occluders(2).a.astype(np.float64)
    assert np.all(np.abs(c[:, 0]) <= 25.0) and np.all(np.abs(c[:, 1]) <= 20.0)
    assert np.all((c[:, 2] >= 4.0) & (c[:, 2] <= 14.0))
    for values, lo, hi in ((c[:, 0], -25.0, 25.0), (c[:, 1], -20.0, 20.0), (c[:, 2], 4.0, 14.0)):
        assert stats.kstest(values, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3


def test_occluders_deterministic():
    np.testing.assert_array_equal(occluders(3).a, occluders(3).a)
    assert not np.array_equal(occluders(3).a[:10], occluders(4).a[:10])


@pytest.mark.parametrize("theta", [0.0, np.pi / 6])
def test_occluders_follow_boolean_model(theta):
    # Straight lines through the slab are unblocked with probability
    # exp(-density * pi r^2 * dz / cos(theta)); the margin keeps them away from the edges.
    r, dz = 0.5, 10.0
    density = 1.0 / (np.pi * r * r * dz)
    rng = np.random.default_rng(5)
    clear = []
    for seed in range(3):
        c = occluders(
            seed, area=(40.0, 40.0), density=density, radius=r, height=(5.0, 15.0), margin=12.0
        ).a.astype(np.float64)
        start = np.column_stack([rng.uniform(-20, 20, (600, 2)), np.zeros(600)])
        u = np.array([np.sin(theta), 0.0, np.cos(theta)])
        w = c[None, :, :] - start[:, None, :]
        along = w @ u
        dist2 = np.einsum("rcj,rcj->rc", w, w) - along**2
        clear.append(np.mean(~np.any(dist2 <= r * r, axis=1)))
    expected = np.exp(-density * np.pi * r * r * dz / np.cos(theta))
    assert np.mean(clear) == pytest.approx(expected, abs=0.05)


def test_occluders_invalid():
    with pytest.raises(ValueError, match="radius"):
        occluders(radius=0.0)
    with pytest.raises(ValueError, match="height"):
        occluders(height=(10.0, 5.0))
    with pytest.raises(ValueError, match="density"):
        occluders(density=-1.0)
    with pytest.raises(ValueError, match="margin"):
        occluders(margin=-1.0)
