"""Scores of an iteration: ground truth for any plan, and the observable blob and anomaly area."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from controllers.registry import make_mission
from swarmsim.aperture.metrics import optical_visibility
from swarmsim.scene import parse_scene
from swarmsim.scores import (
    anomaly_area,
    leader_blob_area,
    observation_result,
    score_plan,
    target_detection,
)
from swarmsim.strategy import Plan

TINY = {
    "run": {"seed": 1, "backend": "cpu"},
    "forest": {"kind": "none", "area": [60.0, 60.0]},
    "targets": [{"pose": "lying", "position": [0.0, 6.0]}],
    "camera": {"resolution": [64, 64]},
    "swarm": {"drones": 4, "start": [0.0, 2.0]},
    "mission": {"quantile": 0.999},
}


@pytest.fixture(scope="module")
def observed():
    mission = make_mission(parse_scene(TINY), strategy=None)
    return mission, mission.observe()


def test_a_bare_plan_is_scored_on_the_observation_views(observed) -> None:
    mission, obs = observed
    score = score_plan(mission.world, Plan(waypoints=obs.positions), obs, altitude=35.0)
    np.testing.assert_allclose(score.target, [0.0, 6.0])
    # Independent: the metrics module on the same views, from straight above the person.
    seen = optical_visibility(mission.world, obs.poses, np.array([0.0, 6.0, 35.0, 0.0, 0.0]))
    assert score.visibility == pytest.approx(seen.value) and score.visibility == pytest.approx(1)
    assert score.views == pytest.approx(seen.covering[seen.footprint.mask].mean())
    assert score.views == pytest.approx(4.0)  # every drone sees the open ground around it
    result = observation_result(obs)
    assert score.detection == pytest.approx(
        target_detection(mission.world, result.view_pose, result.detection, t=0.0)
    )
    assert 0.3 < score.detection <= 1.0 and 0.0 < score.integral_visibility <= 1.0
    # A plan whose result is elsewhere scores nothing there.
    far = np.array([[200.0, 6.0, 35.0, 0.0, 0.0]])
    away = Plan(
        waypoints=obs.positions, views=far, view_pose=far[0], detection=np.ones((64, 64), bool)
    )
    score = score_plan(mission.world, away, obs, altitude=35.0)
    assert score.visibility == 0.0 and score.detection == 0.0 and score.views == 0.0


def test_observable_scores_match_independent_counts(observed) -> None:
    _, obs = observed
    leader = obs.leader
    flagged = obs.integral.sum[leader, ..., 0] > 1e-4  # foreground: weights above rounding
    labels, count = ndimage.label(flagged, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    assert count >= 1 and leader_blob_area(obs) == sizes.max()
    # A nadir pinhole over flat ground: every pixel covers (z · footprint(1 m) / pixels)².
    z = obs.poses[leader, 2]
    width, height = obs.camera.footprint(1.0)
    pixel = (z * width / obs.camera.width) * (z * height / obs.camera.height)
    assert anomaly_area(obs) == pytest.approx(flagged.sum() * pixel, rel=1e-6)
    assert anomaly_area(obs, blob=True) == pytest.approx(sizes.max() * pixel, rel=1e-6)
