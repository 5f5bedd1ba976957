"""Start formations: the paper's line and staggered altitudes."""

from __future__ import annotations

import math

import numpy as np

from swarmsim.formation import across, direction, line_formation, scene_formation
from swarmsim.scene import parse_scene


def test_staggered_altitudes_match_the_paper_code() -> None:
    from swarmsim.formation import staggered_altitudes

    assert staggered_altitudes(10, 35.0, 1.0).tolist() == [43, 41, 39, 37, 35, 36, 38, 40, 42, 44]
    assert staggered_altitudes(1).tolist() == [35.0]


def test_line_formation_lies_across_the_scan_direction() -> None:
    heading = math.radians(30.0)
    positions, headings = line_formation(
        4, centre=(2.0, -1.0), heading=heading, spacing=3.0, altitude=20.0, altitude_step=2.0
    )
    d = direction(heading)
    assert np.allclose(d, [-0.5, math.sqrt(3) / 2])  # counter-clockwise from north
    a = across(heading)
    assert np.isclose(d @ a, 0.0) and np.isclose(a[0] * d[1] - a[1] * d[0], 1.0)  # d left of a
    xy = positions[:, :2]
    assert np.allclose(xy.mean(axis=0), [2.0, -1.0])
    assert np.allclose(np.linalg.norm(np.diff(xy, axis=0), axis=1), 3.0)
    assert np.allclose((xy - [2.0, -1.0]) @ d, 0.0)  # a line across the heading
    assert sorted(positions[:, 2]) == [20.0, 22.0, 24.0, 26.0] and np.allclose(headings, heading)


def test_scene_formation_uses_the_swarm_section() -> None:
    scene = parse_scene({"swarm": {"drones": 3, "start": [1.0, 2.0], "spacing": 5.0}})
    positions, _ = scene_formation(scene)
    assert np.allclose(positions[:, 0], [-4.0, 1.0, 6.0]) and np.allclose(positions[:, 1], 2.0)
