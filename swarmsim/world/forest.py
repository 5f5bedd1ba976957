"""Procedural forests and the random-occluder mode for controlled experiments.

A procedural tree is a tapering, slightly leaning trunk (capsules), ``branch_levels`` levels of
branches (capsules, thinner per level) and foliage: alpha-tested twig discs clustered around the
outer parts of the terminal branches and filling the crown. Broadleaf crowns are ellipsoids from
the crown base to the tree top; conifer crowns are cones, widest at the crown base, with whorls
of near-horizontal branches and a trunk that runs to the top.

Every step is vectorised over all trees (or all branches of one level), so a hectare of 300
trees with about half a million twigs generates in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from swarmsim.world.geometry import (
    CAPSULE,
    DISC,
    LABEL_FOLIAGE,
    LABEL_WOOD,
    SPHERE,
    Primitives,
    concatenate,
)

BROADLEAF, CONIFER = 0, 1
SPECIES_NAMES = ("broadleaf", "conifer")
SPECIES_CHOICES = ("broadleaf", "conifer", "mixed")
# Metres. Soft: stems closer than this are re-drawn, but only a bounded number of times.
MIN_STEM_SPACING = 1.5

_TRUNK_SEGMENTS = 5
_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))
_CLUSTERED_FRACTION = 0.7  # share of twigs around terminal branches; the rest fills the crown
_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True, eq=False)
class ForestStats:
    """Per-tree parameters and primitive counts of a procedural forest.

    Attributes:
        area: (size_x, size_y) of the forest rectangle centred on the origin, metres.
        n_trees: number of trees n.
        stems: (n, 2) stem base positions, metres.
        heights: (n,) tree heights (top of the highest primitive), metres.
        crown_radii: (n,) horizontal crown radii, metres.
        crown_bases: (n,) heights of the crown base (lowest foliage), metres; at most 0.8 x the
            tree's height so that every crown has some depth.
        trunk_radii: (n,) trunk radii at the ground, metres (at most 0.2 x the height).
        species: (n,) int8 codes, ``BROADLEAF`` (0) or ``CONIFER`` (1).
        crown_volumes: (n,) crown volumes (ellipsoid or cone), cubic metres.
        n_wood: number of trunk and branch capsules.
        n_foliage: number of twig discs.
        foliage_area: total one-sided area of all twig discs, square metres.
    """

    area: tuple[float, float]
    n_trees: int
    stems: np.ndarray
    heights: np.ndarray
    crown_radii: np.ndarray
    crown_bases: np.ndarray
    trunk_radii: np.ndarray
    species: np.ndarray
    crown_volumes: np.ndarray
    n_wood: int
    n_foliage: int
    foliage_area: float

    def summary(self) -> dict:
        """JSON-serialisable aggregates (plain floats and ints)."""
        ground = float(self.area[0] * self.area[1])

        def stat(values: np.ndarray, fn) -> float:
            return float(fn(values)) if len(values) else 0.0

        return {
            "n_trees": int(self.n_trees),
            "trees_per_ha": self.n_trees / ground * 1e4 if ground > 0 else 0.0,
            "area_m2": ground,
            "n_broadleaf": int(np.sum(self.species == BROADLEAF)),
            "n_conifer": int(np.sum(self.species == CONIFER)),
            "height_mean": stat(self.heights, np.mean),
            "height_min": stat(self.heights, np.min),
            "height_max": stat(self.heights, np.max),
            "crown_radius_mean": stat(self.crown_radii, np.mean),
            "crown_base_mean": stat(self.crown_bases, np.mean),
            "trunk_radius_mean": stat(self.trunk_radii, np.mean),
            "crown_volume_total_m3": float(np.sum(self.crown_volumes)),
            "n_wood": int(self.n_wood),
            "n_foliage": int(self.n_foliage),
            "n_primitives": int(self.n_wood + self.n_foliage),
            # One-sided twig-disc area per ground area; the alpha-tested leaf pattern covers
            # only part of each disc, so the effective leaf area index is lower.
            "foliage_area_index": self.foliage_area / ground if ground > 0 else 0.0,
        }


@dataclass(frozen=True, eq=False)
class _Trees:
    """Per-tree arrays shared by the generation steps (all (n,) or (n, 2))."""

    stems: np.ndarray
    height: np.ndarray
    radius: np.ndarray
    base: np.ndarray
    trunk: np.ndarray
    species: np.ndarray
    lean: np.ndarray  # (n, 2) horizontal offset per metre of height
    bend: np.ndarray  # (n, 2) extra offset at the top, growing with (z / height)^2

    def take(self, tree: np.ndarray) -> _Crowns:
        """The crown parameters of ``tree`` (m,) gathered once per point."""
        return self._gather(lambda values: values[tree])

    def repeat(self, counts: np.ndarray) -> _Crowns:
        """The crown parameters of tree i repeated counts[i] times (faster than ``take``)."""
        return self._gather(lambda values: np.repeat(values, counts))

    def _gather(self, pick) -> _Crowns:
        return _Crowns(
            x0=pick(self.stems[:, 0]),
            y0=pick(self.stems[:, 1]),
            lx=pick(self.lean[:, 0]),
            ly=pick(self.lean[:, 1]),
            bx=pick(self.bend[:, 0]),
            by=pick(self.bend[:, 1]),
            top=pick(self.height),
            base=pick(self.base),
            radius=pick(self.radius),
            conifer=pick(self.species == CONIFER),
        )

    def volume(self) -> np.ndarray:
        """(n,) crown volumes in m^3: ellipsoid (2/3 pi R^2 depth) or cone (1/3 pi R^2 depth)."""
        depth = self.height - self.base
        factor = np.where(self.species == CONIFER, 1.0 / 3.0, 2.0 / 3.0)
        return factor * np.pi * self.radius**2 * depth


@dataclass(frozen=True, eq=False)
class _Crowns:
    """Crown parameters gathered per point (all (m,)), so repeated tests avoid fancy indexing.

    Broadleaf crowns are ellipsoids from ``base`` to ``top`` with horizontal semi-axis
    ``radius``; conifer crowns are cones with radius ``radius`` at ``base`` and 0 at ``top``.
    Both follow the leaning, bent stem axis.
    """

    x0: np.ndarray
    y0: np.ndarray
    lx: np.ndarray
    ly: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    top: np.ndarray
    base: np.ndarray
    radius: np.ndarray
    conifer: np.ndarray

    def subset(self, index: np.ndarray) -> _Crowns:
        return _Crowns(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})

    def axis(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal position (x, y) of the stem axis at heights z (m,)."""
        s = z / self.top
        s *= s
        return self.x0 + self.lx * z + self.bx * s, self.y0 + self.ly * z + self.by * s

    def inside(self, p: np.ndarray) -> np.ndarray:
        """(m,) bool: points p (m, 3) inside their crowns."""
        z = p[:, 2]
        ax, ay = self.axis(z)
        d2 = (p[:, 0] - ax) ** 2 + (p[:, 1] - ay) ** 2
        depth = self.top - self.base
        u = d2 / self.radius**2 + ((2.0 * z - self.top - self.base) / depth) ** 2
        cone_r = self.radius * (self.top - z) / depth
        cone = (z >= self.base) & (z <= self.top) & (d2 <= cone_r * np.abs(cone_r))
        return np.where(self.conifer, cone, u <= 1.0)

    def exit_distance(
        self, p: np.ndarray, d: np.ndarray, limit: np.ndarray | None = None
    ) -> np.ndarray:
        """(m,) distance along unit directions d from p (inside) to the crown surface.

        With ``limit`` (m,), distances beyond it are reported as ``limit`` (cheaper).
        """
        if limit is None:
            limit = 2.0 * (self.radius + self.top - self.base) + 1.0
        result = np.array(limit, np.float64)
        todo = np.flatnonzero(~self.inside(p + result[:, None] * d))
        crowns, p, d = self.subset(todo), p[todo], d[todo]
        lo = np.zeros(len(todo))
        hi = result[todo]
        # Bisection rather than closed forms: the crown follows the bent stem axis.
        for _ in range(14):
            mid = 0.5 * (lo + hi)
            ok = crowns.inside(p + mid[:, None] * d)
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        result[todo] = lo
        return result

    def pull_inside(self, p: np.ndarray, shrink: float = 0.98) -> np.ndarray:
        """Points p (m, 3) moved onto ``shrink`` x the crown surface where outside (in place)."""
        con = np.flatnonzero(self.conifer)
        ell = np.flatnonzero(~self.conifer)
        if len(ell):
            c, q = self.subset(ell), p[ell]
            # Ellipsoid: scale the normalised offset from the centre.
            half = 0.5 * (c.top - c.base)
            mid = 0.5 * (c.top + c.base)
            ax, ay = c.axis(q[:, 2])
            u = np.column_stack(
                [(q[:, 0] - ax) / c.radius, (q[:, 1] - ay) / c.radius, (q[:, 2] - mid) / half]
            )
            u *= np.minimum(1.0, shrink / np.maximum(np.linalg.norm(u, axis=1), 1e-12))[:, None]
            z = mid + u[:, 2] * half
            ax, ay = c.axis(z)
            p[ell] = np.column_stack([ax + u[:, 0] * c.radius, ay + u[:, 1] * c.radius, z])
        if len(con):
            c, q = self.subset(con), p[con]
            # Cone: clamp the height, then scale the horizontal offset from the axis.
            depth = c.top - c.base
            z = np.clip(q[:, 2], c.base + 0.01 * depth, c.top - 0.02 * depth)
            ax, ay = c.axis(z)
            ox, oy = q[:, 0] - ax, q[:, 1] - ay
            rmax = shrink * c.radius * (c.top - z) / depth
            f = np.minimum(1.0, rmax / np.maximum(np.hypot(ox, oy), 1e-12))
            p[con] = np.column_stack([ax + f * ox, ay + f * oy, z])
        return p


@dataclass(frozen=True, eq=False)
class _Branches:
    """m straight branch capsules grouped by tree (tree indices non-decreasing)."""

    tree: np.ndarray
    start: np.ndarray
    end: np.ndarray
    radius: np.ndarray

    @property
    def length(self) -> np.ndarray:
        return np.linalg.norm(self.end - self.start, axis=1)


def procedural_forest(
    *,
    area: tuple[float, float],
    density: float,
    species: str,
    height: tuple[float, float],
    crown_radius: tuple[float, float],
    crown_base: tuple[float, float],
    trunk_radius: tuple[float, float],
    branch_levels: int,
    foliage_density: float,
    twig_radius: float,
    rng: np.random.Generator,
) -> tuple[Primitives, ForestStats]:
    """Generate a forest of trees over a rectangle centred on the origin.

    Args:
        area: (size_x, size_y) in metres.
        density: mean number of trees per hectare; the count is Poisson distributed.
        species: "broadleaf", "conifer" or "mixed" (each tree either with probability 1/2).
        height, crown_radius, crown_base, trunk_radius: uniform (low, high) ranges in metres for
            tree height, horizontal crown radius, height of the lowest foliage and trunk radius
            at the ground.
        branch_levels: levels of branches (0: trunk only, 1: branches from the trunk, 2: branches
            from those, ...).
        foliage_density: twig discs per cubic metre of crown volume.
        twig_radius: mean twig-disc radius in metres (individual discs vary by +-30 %).
        rng: source of all randomness.

    Returns:
        The primitives (wood capsules labelled ``LABEL_WOOD``, twig discs ``LABEL_FOLIAGE``,
        ``owner`` = tree index, grouped by tree) and the per-tree statistics.
    """
    size = _check_area(area)
    _check_nonnegative("density", density)
    if species not in SPECIES_CHOICES:
        raise ValueError(f"species: expected one of {SPECIES_CHOICES}, got {species!r}")
    height = _check_range("height", height, positive=True)
    crown_radius = _check_range("crown_radius", crown_radius, positive=True)
    crown_base = _check_range("crown_base", crown_base)
    trunk_radius = _check_range("trunk_radius", trunk_radius, positive=True)
    if isinstance(branch_levels, bool) or int(branch_levels) != branch_levels or branch_levels < 0:
        raise ValueError(f"branch_levels: expected an integer >= 0, got {branch_levels!r}")
    branch_levels = int(branch_levels)
    _check_nonnegative("foliage_density", foliage_density)
    if not np.isfinite(twig_radius) or twig_radius <= 0:
        raise ValueError(f"twig_radius: expected a positive number of metres, got {twig_radius!r}")

    n = int(rng.poisson(density * size[0] * size[1] / 1e4))
    stems = _place_stems(n, size, rng)
    heights = rng.uniform(*height, n)
    radii = rng.uniform(*crown_radius, n)
    # The crown needs some depth; a base range reaching the top would leave an empty crown.
    bases = np.minimum(rng.uniform(*crown_base, n), 0.8 * heights)
    trunks = np.minimum(rng.uniform(*trunk_radius, n), 0.2 * heights)
    if species == "mixed":
        codes = rng.integers(0, 2, n).astype(np.int8)
    else:
        codes = np.full(n, SPECIES_NAMES.index(species), np.int8)
    lean_angle = np.minimum(np.abs(rng.normal(0.0, 0.015, n)), 0.035)
    lean_dir = rng.uniform(0.0, 2.0 * np.pi, n)
    bend_amp = rng.uniform(0.0, 0.3, n)
    bend_dir = rng.uniform(0.0, 2.0 * np.pi, n)
    trees = _Trees(
        stems=stems,
        height=heights,
        radius=radii,
        base=bases,
        trunk=trunks,
        species=codes,
        lean=np.tan(lean_angle)[:, None] * _unit2(lean_dir),
        bend=bend_amp[:, None] * _unit2(bend_dir),
    )

    trunk_caps, trunk_top, trunk_profile = _trunks(trees, rng)
    levels: list[_Branches] = []
    if branch_levels >= 1:
        levels.append(_first_level(trees, trunk_top, trunk_profile, rng))
        for level in range(2, branch_levels + 1):
            levels.append(_child_branches(trees, levels[-1], level, rng))
    terminal = levels[-1] if levels else None
    foliage = _foliage(trees, terminal, foliage_density, twig_radius, rng)

    wood = [trunk_caps, *(_capsules(b, trees) for b in levels)]
    prims = concatenate([*wood, foliage])
    if len(prims):
        # Group each tree's primitives (wood first) for locality and easy per-tree subsets.
        prims = prims.subset(np.argsort(prims.owner, kind="stable"))

    n_wood = sum(len(w) for w in wood)
    stats = ForestStats(
        area=(float(size[0]), float(size[1])),
        n_trees=n,
        stems=stems,
        heights=heights,
        crown_radii=radii,
        crown_bases=bases,
        trunk_radii=trunks,
        species=codes,
        crown_volumes=trees.volume(),
        n_wood=n_wood,
        n_foliage=len(foliage),
        foliage_area=float(np.sum(np.pi * foliage.radius.astype(np.float64) ** 2)),
    )
    return prims, stats


def random_occluders(
    *,
    area: tuple[float, float],
    density: float,
    radius: float,
    height: tuple[float, float],
    rng: np.random.Generator,
    margin: float = 0.0,
) -> Primitives:
    """Homogeneous Poisson process of spherical occluders (the Boolean model).

    Sphere centres are uniform in the slab ``height[0] <= z <= height[1]`` over the rectangle
    ``area`` (centred on the origin) enlarged by ``margin`` metres on every side; their number is
    Poisson with mean ``density`` (per m^3) x slab volume. A straight ray crossing the slab at
    angle theta from vertical then passes unblocked with probability
    ``exp(-density * pi * radius**2 * (height[1] - height[0]) / cos(theta))`` (edge effects of the
    slab faces aside). Returns spheres labelled ``LABEL_FOLIAGE`` with ``owner`` -1.
    """
    size = _check_area(area)
    _check_nonnegative("density", density)
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius: expected a positive number of metres, got {radius!r}")
    low, high = _check_range("height", height)
    _check_nonnegative("margin", margin)
    extent = size + 2.0 * margin
    volume = float(extent[0] * extent[1] * (high - low))
    n = int(rng.poisson(density * volume))
    centres = np.empty((n, 3))
    centres[:, :2] = (rng.random((n, 2)) - 0.5) * extent
    centres[:, 2] = rng.uniform(low, high, n)
    return Primitives.create(kind=SPHERE, a=centres, radius=radius, label=LABEL_FOLIAGE, owner=-1)


# --- validation ------------------------------------------------------------------------------


def _check_area(area: tuple[float, float]) -> np.ndarray:
    size = np.asarray(area, np.float64)
    if size.shape != (2,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ValueError(f"area: expected [size_x, size_y] in metres, both > 0, got {area!r}")
    return size


def _check_nonnegative(name: str, value: float) -> None:
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")


def _check_range(name: str, value: tuple[float, float], *, positive: bool = False) -> tuple:
    pair = np.asarray(value, np.float64)
    bad = pair.shape != (2,) or not np.all(np.isfinite(pair))
    if bad or pair[0] > pair[1] or pair[0] < 0 or (positive and pair[0] <= 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name}: expected [low, high] with {bound} low <= high, got {value!r}")
    return float(pair[0]), float(pair[1])


# --- generation steps ------------------------------------------------------------------------


def _unit2(angle: np.ndarray) -> np.ndarray:
    return np.column_stack([np.cos(angle), np.sin(angle)])


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]


def _place_stems(n: int, size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) uniform stem positions, re-drawing stems too close to another (bounded tries)."""
    stems = (rng.random((n, 2)) - 0.5) * size
    for _ in range(50):
        if n < 2:
            break
        pairs = cKDTree(stems).query_pairs(MIN_STEM_SPACING, output_type="ndarray")
        if len(pairs) == 0:
            break
        redo = np.unique(pairs.max(axis=1))
        stems[redo] = (rng.random((len(redo), 2)) - 0.5) * size
    return stems


def _trunks(trees: _Trees, rng: np.random.Generator):
    """Trunk capsules, the trunk-top point (n, 3) and a (z -> radius) profile per tree."""
    n = len(trees.height)
    conifer = trees.species == CONIFER
    depth = trees.height - trees.base
    # Broadleaf trunks fork into the crown part-way up; conifer trunks run to the top.
    top_fraction = np.where(conifer, 0.15, 0.55)
    k = np.arange(_TRUNK_SEGMENTS)
    taper = (1.0 - top_fraction[:, None]) * (k + 0.5) / _TRUNK_SEGMENTS
    seg_r = trees.trunk[:, None] * (1.0 - taper)
    z0 = seg_r[:, 0]  # the lowest capsule's rounded end just touches the ground
    broad_top = trees.base + rng.uniform(0.45, 0.65, n) * depth
    z_top = np.where(conifer, trees.height, np.minimum(broad_top, trees.height)) - seg_r[:, -1]
    frac = np.arange(_TRUNK_SEGMENTS + 1) / _TRUNK_SEGMENTS
    z_nodes = z0[:, None] + (z_top - z0)[:, None] * frac
    tree_nodes = np.repeat(np.arange(n), _TRUNK_SEGMENTS + 1)
    nx, ny = trees.take(tree_nodes).axis(z_nodes.ravel())
    nodes = np.stack([nx, ny, z_nodes.ravel()], axis=1).reshape(n, _TRUNK_SEGMENTS + 1, 3)
    caps = Primitives.create(
        kind=CAPSULE,
        a=nodes[:, :-1].reshape(-1, 3),
        b=nodes[:, 1:].reshape(-1, 3),
        radius=seg_r.ravel(),
        label=LABEL_WOOD,
        owner=np.repeat(np.arange(n), _TRUNK_SEGMENTS),
    )

    def profile(tree: np.ndarray, z: np.ndarray) -> np.ndarray:
        s = np.clip((z - z0[tree]) / (z_top[tree] - z0[tree]), 0.0, 1.0)
        return trees.trunk[tree] * (1.0 - (1.0 - top_fraction[tree]) * s)

    return caps, nodes[:, -1], profile


def _first_level(trees: _Trees, trunk_top: np.ndarray, trunk_radius, rng) -> _Branches:
    """Branches growing from the trunk: broadleaf scaffolds + leader, conifer whorls."""
    depth = trees.height - trees.base
    broad = np.flatnonzero(trees.species == BROADLEAF)
    con = np.flatnonzero(trees.species == CONIFER)

    # Broadleaf: scaffold branches spiralling up the trunk, steeper towards the top.
    n1 = 5 + rng.poisson(0.3 * depth[broad])
    bt = np.repeat(broad, n1)
    k = np.arange(len(bt)) - np.repeat(np.cumsum(n1) - n1, n1)
    z_lo = trees.base[bt] + 0.05 * depth[bt]
    z_hi = trunk_top[bt, 2]
    w = rng.random(len(bt))
    bz = z_lo + (z_hi - z_lo) * w
    azimuth = np.repeat(rng.uniform(0, 2 * np.pi, len(broad)), n1) + k * _GOLDEN_ANGLE
    azimuth = azimuth + rng.normal(0.0, 0.35, len(bt))
    elevation = rng.uniform(0.3, 0.9, len(bt)) + 0.35 * w
    # Conifer: whorls of 4-6 near-horizontal branches every 0.5-0.8 m.
    spacing = rng.uniform(0.5, 0.8, len(con))
    first = trees.base[con] + 0.3
    n_whorls = np.maximum(np.floor((trees.height[con] - 0.6 - first) / spacing).astype(int) + 1, 1)
    wt = np.repeat(con, n_whorls)
    j = np.arange(len(wt)) - np.repeat(np.cumsum(n_whorls) - n_whorls, n_whorls)
    wz = np.repeat(first, n_whorls) + j * np.repeat(spacing, n_whorls)
    per_whorl = rng.integers(4, 7, len(wt))
    ct = np.repeat(wt, per_whorl)
    q = np.arange(len(ct)) - np.repeat(np.cumsum(per_whorl) - per_whorl, per_whorl)
    cz = np.repeat(wz, per_whorl)
    c_az = np.repeat(rng.uniform(0, 2 * np.pi, len(wt)), per_whorl)
    c_az = c_az + 2 * np.pi * q / np.repeat(per_whorl, per_whorl) + rng.normal(0, 0.15, len(ct))
    # Drooping is limited so that the branch leaves the cone through its side, not its base.
    droop_limit = -0.8 * np.arctan2(cz - trees.base[ct], trees.radius[ct])
    c_el = np.maximum(rng.uniform(-0.2, 0.15, len(ct)), droop_limit)

    tree = np.concatenate([bt, ct])
    z = np.concatenate([bz, cz])
    az = np.concatenate([azimuth, c_az])
    el = np.concatenate([elevation, c_el])
    crowns = trees.take(tree)
    start = np.column_stack([*crowns.axis(z), z])
    d = np.column_stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    reach = np.where(
        trees.species[tree] == CONIFER,
        rng.uniform(0.85, 0.97, len(tree)),
        rng.uniform(0.7, 0.92, len(tree)),
    )
    length = np.maximum(reach * crowns.exit_distance(start, d), 0.3)
    thickness = np.where(
        trees.species[tree] == CONIFER,
        rng.uniform(0.35, 0.5, len(tree)),
        rng.uniform(0.45, 0.65, len(tree)),
    )
    radius = np.maximum(trunk_radius(tree, z) * thickness, 0.015)

    # Broadleaf leader: a thin shoot from the fork to the very top of the crown.
    lead_r = np.maximum(0.2 * trees.trunk[broad], 0.03)
    lead_z = trees.height[broad] - lead_r
    lead_end = np.column_stack([*trees.take(broad).axis(lead_z), lead_z])

    tree = np.concatenate([tree, broad])
    order = np.argsort(tree, kind="stable")
    return _Branches(
        tree=tree[order],
        start=np.concatenate([start, trunk_top[broad]])[order],
        end=np.concatenate([start + length[:, None] * d, lead_end])[order],
        radius=np.concatenate([radius, lead_r])[order],
    )


def _child_branches(trees: _Trees, parent: _Branches, level: int, rng) -> _Branches:
    """Branches growing from ``parent`` branches, kept inside the crown."""
    conifer_p = trees.species[parent.tree] == CONIFER
    plen = parent.length
    rate = np.where(conifer_p, 0.6, 1.1 if level == 2 else 1.5)
    # Every first-level branch forks; deeper, short shoots often stay bare, which keeps the
    # number of shoots per level from growing geometrically.
    count = np.minimum(rng.poisson(rate * plen) + (level == 2), 10)
    idx = np.repeat(np.arange(len(plen)), count)
    m = len(idx)
    tree = parent.tree[idx]
    conifer = conifer_p[idx]
    t = rng.uniform(0.25, 0.95, m)
    axis = parent.end[idx] - parent.start[idx]
    start = parent.start[idx] + t[:, None] * axis
    u = axis / np.maximum(plen[idx], 1e-9)[:, None]
    # e1 = horizontal unit vector perpendicular to the parent (u x up), e2 = u x e1.
    norm1 = np.hypot(u[:, 0], u[:, 1])
    flat = norm1 > 1e-6
    inv = 1.0 / np.where(flat, norm1, 1.0)
    e1 = np.column_stack([np.where(flat, u[:, 1] * inv, 1.0), -u[:, 0] * inv, np.zeros(m)])
    e2 = np.column_stack(
        [
            u[:, 1] * e1[:, 2] - u[:, 2] * e1[:, 1],
            u[:, 2] * e1[:, 0] - u[:, 0] * e1[:, 2],
            u[:, 0] * e1[:, 1] - u[:, 1] * e1[:, 0],
        ]
    )
    # Conifer shoots spread sideways in flat sprays; broadleaf shoots go any way, tilted up.
    psi = np.where(
        conifer,
        rng.integers(0, 2, m) * np.pi + rng.normal(0.0, 0.25, m),
        rng.uniform(0.0, 2 * np.pi, m),
    )
    alpha = rng.uniform(0.45, 0.95, m)
    side = np.cos(psi)[:, None] * e1 + np.sin(psi)[:, None] * e2
    d = np.cos(alpha)[:, None] * u + np.sin(alpha)[:, None] * side
    d = _normalise(d + np.where(conifer, 0.0, 0.25)[:, None] * _UP)
    want = plen[idx] * rng.uniform(0.35, 0.55, m) * (1.1 - 0.5 * t)
    room = trees.take(tree).exit_distance(start, d, limit=want / 0.95)
    length = np.maximum(np.minimum(want, 0.95 * room), 0.1)
    radius = np.maximum(parent.radius[idx] * (1.0 - 0.5 * t) * rng.uniform(0.5, 0.7, m), 0.006)
    return _Branches(tree=tree, start=start, end=start + length[:, None] * d, radius=radius)


def _capsules(branches: _Branches, trees: _Trees) -> Primitives:
    """Wood capsules of branches, clamped between the ground and the tree top."""
    r = branches.radius
    top = trees.height[branches.tree]
    a = branches.start.copy()
    b = branches.end.copy()
    for p in (a, b):
        p[:, 2] = np.clip(p[:, 2], r, np.maximum(top - r, r))
    return Primitives.create(
        kind=CAPSULE, a=a, b=b, radius=r, label=LABEL_WOOD, owner=branches.tree
    )


def _foliage(
    trees: _Trees,
    terminal: _Branches | None,
    foliage_density: float,
    twig_radius: float,
    rng: np.random.Generator,
) -> Primitives:
    """Twig discs: clustered around the outer parts of terminal branches plus a crown fill.

    Returns the clustered block, then the fill block (each grouped by tree).
    """
    n = len(trees.height)
    counts = rng.poisson(foliage_density * trees.volume())
    n_branches = np.zeros(n, np.int64)
    if terminal is not None:
        n_branches = np.bincount(terminal.tree, minlength=n)
    n_clustered = np.where(n_branches > 0, rng.binomial(counts, _CLUSTERED_FRACTION), 0)
    n_fill = counts - n_clustered
    blocks = []

    # Clustered twigs: pick a terminal branch of the tree with probability ~ its length, then
    # a point on its outer part with an isotropic spread that grows with branch length.
    k = int(n_clustered.sum())
    if k:
        assert terminal is not None  # clustered twigs need terminal branches (n_branches > 0)
        crowns = trees.repeat(n_clustered)
        blen = terminal.length
        cum = np.cumsum(blen)
        last = np.cumsum(n_branches) - 1
        first = last + 1 - n_branches
        before = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
        lo = np.repeat(before, n_clustered)
        span = np.repeat(cum[np.maximum(last, 0)] - before, n_clustered)
        pick = np.searchsorted(cum, lo + rng.random(k) * span, side="right")
        pick = np.clip(pick, np.repeat(first, n_clustered), np.repeat(last, n_clustered))
        t = 1.0 - 0.6 * rng.random(k) ** 2
        start = np.take(terminal.start, pick, axis=0)
        end = np.take(terminal.end, pick, axis=0)
        spread = np.clip(0.35 * blen[pick], 0.25, 1.0)
        pos = start + t[:, None] * (end - start) + spread[:, None] * rng.normal(size=(k, 3))
        out = np.flatnonzero(~crowns.inside(pos))
        pos[out] = crowns.subset(out).pull_inside(pos[out])
        blocks.append((pos, crowns.top, np.repeat(np.arange(n), n_clustered)))

    # Fill: uniformly in the crown but biased towards its outer shell (fourth instead of cube
    # root of a uniform number for the radial fraction).
    k = int(n_fill.sum())
    if k:
        c = trees.repeat(n_fill)
        depth = c.top - c.base
        shell = rng.random(k) ** 0.25
        direction = _normalise(rng.normal(size=(k, 3)))
        level = rng.random(k)
        # Ellipsoid: a point at normalised radius ``shell`` in a uniform direction.
        z = 0.5 * (c.top + c.base) + shell * direction[:, 2] * 0.5 * depth
        off = shell[:, None] * direction[:, :2] * c.radius[:, None]
        # Cone: height with density ~ (top - z)^2 (disc area), uniform azimuth.
        cz = c.top - depth * level ** (1.0 / 3.0)
        azimuth = np.arctan2(direction[:, 1], direction[:, 0])
        coff = (shell * c.radius * (c.top - cz) / depth)[:, None] * _unit2(azimuth)
        z = np.where(c.conifer, cz, z)
        off = np.where(c.conifer[:, None], coff, off)
        ax, ay = c.axis(z)
        pos = np.column_stack([ax + off[:, 0], ay + off[:, 1], z])
        blocks.append((pos, c.top, np.repeat(np.arange(n), n_fill)))

    if not blocks:
        return Primitives.empty()
    pos = np.concatenate([b[0] for b in blocks])
    top = np.concatenate([b[1] for b in blocks])
    owner = np.concatenate([b[2] for b in blocks])
    m = len(pos)
    radius = twig_radius * rng.uniform(0.7, 1.3, m)
    # Leaves face the sky: random directions biased upward.
    normal = rng.standard_normal((3, m), dtype=np.float32)
    normal /= np.sqrt(np.einsum("ij,ij->j", normal, normal))
    normal[2] += 1.5
    normal /= np.sqrt(np.einsum("ij,ij->j", normal, normal))
    normal = normal.T
    # Keep whole discs between the ground and the tree top.
    reach_z = radius * np.sqrt(np.clip(1.0 - normal[:, 2].astype(np.float64) ** 2, 0.0, 1.0))
    pos[:, 2] = np.clip(pos[:, 2], reach_z, np.maximum(top - reach_z, reach_z))
    return Primitives.create(
        kind=DISC, a=pos, b=normal, radius=radius, label=LABEL_FOLIAGE, owner=owner
    )
