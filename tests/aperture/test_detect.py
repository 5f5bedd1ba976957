"""RX anomaly detection against NumPy references and planted targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmsim.aperture.detect import (
    anomaly_masks,
    integrated_mask,
    rx_global,
    rx_local,
    rx_masks,
    threshold,
)
from swarmsim.aperture.integrate import FocalPlane, focal_points, integrate
from swarmsim.sensing.camera import Camera


def correlated(rng: np.random.Generator, shape: tuple[int, int], channels: int) -> np.ndarray:
    """Gaussian noise images with correlated channels and non-zero means."""
    mixing = rng.normal(size=(channels, channels)) + 2.0 * np.eye(channels)
    noise = rng.normal(size=(*shape, channels)) @ mixing.T
    return (noise + rng.uniform(-5.0, 25.0, channels)).astype(np.float32)


def mahalanobis(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = x - mean
    return np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d)


@pytest.mark.parametrize("channels", [1, 3, 4, 6])
def test_global_rx_is_the_mahalanobis_distance_to_the_image_statistics(channels) -> None:
    rng = np.random.default_rng(channels)
    image = correlated(rng, (40, 56), channels)
    x = image.reshape(-1, channels).astype(np.float64)
    expected = mahalanobis(x, x.mean(axis=0), np.cov(x.T, bias=True).reshape(channels, channels))
    scores = rx_global(image if channels > 1 else image[..., 0], eps=0.0)
    assert scores.shape == (40, 56) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.ravel(), expected, rtol=1e-4, atol=1e-4)
    # The mean score of a Mahalanobis distance under the sample covariance is the channel count.
    assert scores.mean() == pytest.approx(channels, rel=1e-4)


def test_global_rx_uses_only_valid_pixels() -> None:
    rng = np.random.default_rng(1)
    image = correlated(rng, (30, 30), 3)
    valid = rng.random((30, 30)) < 0.7
    image[~valid] = 1e6  # garbage outside the valid region must not matter
    x = image[valid].astype(np.float64)
    expected = mahalanobis(x, x.mean(axis=0), np.cov(x.T, bias=True))
    scores = rx_global(image, valid=valid, eps=0.0)
    np.testing.assert_allclose(scores[valid], expected, rtol=1e-4, atol=1e-4)
    assert np.all(scores[~valid] == 0.0)


def test_singular_covariance_is_regularised() -> None:
    rng = np.random.default_rng(2)
    base = correlated(rng, (32, 32), 2)
    # A constant channel and a duplicated channel: the covariance has rank 2 of 4.
    image = np.concatenate([base, np.full((32, 32, 1), 7.0, np.float32), base[..., :1]], axis=-1)
    scores = rx_global(image)
    assert np.isfinite(scores).all()
    # Along the supported directions the ridge barely matters: scores follow the 2 channels.
    reduced = rx_global(base)
    assert np.corrcoef(scores.ravel(), reduced.ravel())[0, 1] > 0.999
    flat = rx_global(np.full((8, 8, 3), 4.0, np.float32))
    assert np.all(flat == 0.0)


def naive_local_rx(image: np.ndarray, window: int, guard: int, valid: np.ndarray) -> np.ndarray:
    """Window statistics from scratch for every pixel (clipped at the border)."""
    h, w, _ = image.shape
    half, ghalf = window // 2, guard // 2
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            if not valid[i, j]:
                continue
            use = np.zeros((h, w), bool)
            use[max(i - half, 0) : i + half + 1, max(j - half, 0) : j + half + 1] = True
            if guard:
                use[max(i - ghalf, 0) : i + ghalf + 1, max(j - ghalf, 0) : j + ghalf + 1] = False
            x = image[use & valid].astype(np.float64)
            mean = x.mean(axis=0)
            cov = (x - mean).T @ (x - mean) / len(x)
            out[i, j] = mahalanobis(image[i, j].astype(np.float64), mean, cov)
    return out


@pytest.mark.parametrize(("window", "guard", "channels"), [(7, 0, 3), (9, 3, 2), (11, 5, 1)])
def test_local_rx_equals_a_naive_windowed_reference(window, guard, channels) -> None:
    rng = np.random.default_rng(window)
    image = correlated(rng, (23, 29), channels)
    valid = rng.random((23, 29)) > 0.1
    expected = naive_local_rx(image, window, guard, valid)
    scores = rx_local(image, window=window, guard=guard, valid=valid, eps=0.0)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-3)


def test_local_rx_with_a_window_over_the_whole_image_is_global_rx() -> None:
    image = correlated(np.random.default_rng(3), (20, 24), 3)
    np.testing.assert_allclose(rx_local(image, window=49), rx_global(image), rtol=1e-4)


def planted(seed: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A 4-channel noise image with a warm disc (5 px radius) planted in its thermal channel."""
    rng = np.random.default_rng(seed)
    image = correlated(rng, (size, size), 4)
    yy, xx = np.mgrid[:size, :size]
    blob = (yy - 100) ** 2 + (xx - 150) ** 2 <= 25
    std = image[..., 3].std()
    image[blob, 3] += 8.0 * std
    return image, blob


@pytest.mark.parametrize("method", ["global", "local"])
@pytest.mark.parametrize("quantile", [0.99, 0.995])
def test_rx_flags_a_planted_warm_blob_at_the_chosen_false_alarm_rate(method, quantile) -> None:
    image, blob = planted(int(quantile * 1000))
    masks = anomaly_masks(image[None], method=method, window=31, guard=15, quantile=quantile)
    mask = masks[0]
    recall = (mask & blob).sum() / blob.sum()
    false_alarms = (mask & ~blob).sum() / (~blob).sum()
    assert recall >= 0.9
    assert false_alarms == pytest.approx(1.0 - quantile, rel=0.5)


def test_default_quantile_keeps_the_top_two_per_ten_thousand() -> None:
    scores = np.random.default_rng(4).random((512, 512)).astype(np.float32)
    mask = threshold(scores)
    assert mask.sum() == pytest.approx(0.0002 * scores.size, abs=1)
    assert scores[mask].min() > scores[~mask].max()


def test_threshold_variants() -> None:
    scores = np.arange(100, dtype=np.float32).reshape(10, 10)
    np.testing.assert_array_equal(threshold(scores, absolute=89.5), scores > 89.5)
    valid = scores % 2 == 0
    mask = threshold(scores, quantile=0.9, valid=valid)
    # Above the order statistic ceil(0.9 * 49) = 45 of the 50 valid scores: the top 4.
    assert not mask[~valid].any() and mask.sum() == 4
    assert scores[mask].min() == 92.0
    assert not threshold(np.zeros((5, 5))).any()  # nothing stands out of a constant image
    with pytest.raises(ValueError, match="quantile"):
        threshold(scores, quantile=1.5)


def test_both_integration_orders_find_the_target() -> None:
    """Masks integrated (the swarm's way) and RX on the integral (the classic way)."""
    camera = Camera(fov=math.radians(50.0), width=64, height=64)
    poses = np.array([(x, y, 20.0) for x in (-2.0, 0.0, 2.0) for y in (-2.0, 2.0)])
    rng = np.random.default_rng(5)
    views = rng.normal(20.0, 1.0, (len(poses), 64, 64)).astype(np.float32)
    ground_plane = FocalPlane()
    # A warm 1.2 m square on the ground around (1, 1), drawn into every view that sees it.
    for v, pose in enumerate(poses):
        ground = focal_points(camera, pose, ground_plane)
        hot = (np.abs(ground[..., 0] - 1.0) < 0.6) & (np.abs(ground[..., 1] - 1.0) < 0.6)
        views[v][hot] += 8.0
    virtual = (0.0, 0.0, 20.0)
    masks = anomaly_masks(views, quantile=0.99)
    swarm = integrated_mask(integrate(masks, poses, virtual, camera=camera,
                                      focal=ground_plane))[0]  # fmt: skip
    classic = rx_masks(integrate(views, poses, virtual, camera=camera), quantile=0.99)[0]
    truth = focal_points(camera, virtual, ground_plane)
    target = (np.abs(truth[..., 0] - 1.0) < 0.5) & (np.abs(truth[..., 1] - 1.0) < 0.5)
    for mask in (swarm, classic):
        assert (mask & target).sum() >= 0.9 * target.sum()
    # The union of six views' false alarms is larger than the classic map's.
    assert (swarm & ~target).sum() > (classic & ~target).sum()


def test_min_score_is_a_floor_under_the_quantile() -> None:
    rng = np.random.default_rng(5)
    scores = rng.random((64, 64)).astype(np.float32) * 10.0
    # Without an outlier the quantile still flags its top pixels; the floor empties the mask.
    assert threshold(scores, quantile=0.99).sum() > 0
    assert not threshold(scores, quantile=0.99, min_score=50.0).any()
    # The quantile's level stays that of all scores (brute force: the sorted order statistic).
    scores[10, 10:14] = [60.0, 40.0, 70.0, 80.0]
    level = np.sort(scores.ravel())[int(np.ceil(0.99 * (scores.size - 1)))]
    expected = (scores > level) & (scores > 50.0)
    np.testing.assert_array_equal(threshold(scores, quantile=0.99, min_score=50.0), expected)
    assert expected.sum() == 3
    np.testing.assert_array_equal(threshold(scores, absolute=5.0, min_score=65.0), scores > 65.0)
    with pytest.raises(ValueError, match="min_score"):
        threshold(scores, min_score=float("nan"))


def test_bad_arguments_raise() -> None:
    image = np.zeros((8, 8, 2), np.float32)
    with pytest.raises(ValueError, match="window"):
        rx_local(image, window=4)
    with pytest.raises(ValueError, match="guard"):
        rx_local(image, window=5, guard=7)
    with pytest.raises(ValueError, match="image"):
        rx_global(np.zeros((2, 2, 2, 2)))


def test_detection_stack_is_rgb_over_255_and_thermal() -> None:
    from swarmsim.aperture.experiment import detection_stack
    from swarmsim.sensing.render import Frames

    rng = np.random.default_rng(5)
    thermal = rng.normal(20.0, 5.0, (3, 7, 9)).astype(np.float32)
    rgb = rng.integers(0, 256, (3, 7, 9, 3), dtype=np.uint8)
    frames = Frames(thermal=thermal, rgb=rgb, depth=None, label=None, target_mask=None,
                    target_id=None, poses=np.zeros((3, 5)), time=0.0)  # fmt: skip
    expected = np.concatenate([rgb.astype(np.float32) / 255.0, thermal[..., None]], axis=-1)
    stack = detection_stack(frames)
    assert stack.dtype == np.float32
    np.testing.assert_array_equal(stack, expected)
    np.testing.assert_array_equal(detection_stack(frames, "thermal"), thermal[..., None])
