"""Reed–Xiaoli (RX) anomaly detection: global and local scores, thresholds and masks.

The RX score of a pixel is its squared Mahalanobis distance from the background,
``(x - mu)^T Sigma^-1 (x - mu)``, with ``mu`` and ``Sigma`` the mean and covariance of the
channel vectors of the whole image (global RX) or of a sliding window around the pixel (local
RX, optionally without a centred guard window). A warm body under the canopy is a rare, hot
pixel vector; thresholding the scores at a high quantile gives an anomaly mask.

Both ways of combining detection with synthetic-aperture integration are available:

* the swarm's approach: :func:`anomaly_masks` on every single image, then
  :func:`swarmsim.aperture.integrate` the masks, then :func:`integrated_mask`;
* the classic approach: :func:`rx_masks` on the integral images.

A singular covariance (a flat image, a channel that never changes, fewer pixels than channels)
is regularised with a ridge of ``eps`` times the mean variance of the image.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numba
import numpy as np

from swarmsim.aperture import _cpu
from swarmsim.aperture.integrate import foreground
from swarmsim.backend import to_numpy

#: The AOS swarm's RX threshold: keep pixels above this quantile of the scores (top 0.02 %).
DEFAULT_QUANTILE = 0.9998
#: Relative ridge added to covariances, in units of the mean channel variance.
DEFAULT_EPS = 1e-6
METHODS = ("global", "local")


def _as_image(image: Any) -> np.ndarray:
    """(H, W, C) view of an (H, W) or (H, W, C) array; kernel dtypes kept, others float32."""
    image = np.asarray(to_numpy(image))
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] < 1:
        raise ValueError(f"image: expected shape (H, W) or (H, W, C), got {image.shape}")
    if image.dtype == np.bool_:
        image = image.view(np.uint8)
    elif image.dtype not in (np.float32, np.float64, np.uint8):
        image = image.astype(np.float32)
    return np.ascontiguousarray(image)


def _as_valid(valid: Any, shape: tuple[int, int]) -> np.ndarray:
    if valid is None:
        return np.ones(shape, np.bool_)
    valid = np.asarray(to_numpy(valid), np.bool_)
    if valid.shape != shape:
        raise ValueError(f"valid: expected shape {shape}, got {valid.shape}")
    return np.ascontiguousarray(valid)


def _triu_keep4(nc: int) -> np.ndarray:
    rows, cols = np.triu_indices(4)
    return (rows < nc) & (cols < nc)


#: Which of the 10 upper-triangle moments of a 4-channel sum belong to ``nc`` channels.
_TRIU4_KEEP = {nc: _triu_keep4(nc) for nc in range(1, 5)}


@functools.cache
def _triu(nc: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(nc)


def _statistics(image: np.ndarray, valid: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Count, mean (C,) and covariance (C, C) of the valid pixels, in float64."""
    nc = image.shape[2]
    # Shifting by a rough mean first keeps E[x x^T] - mu mu^T free of cancellation.
    step = max(1, int(math.sqrt(valid.size / 1024)))
    sample = image[::step, ::step][valid[::step, ::step]]
    shift = sample.mean(axis=0, dtype=np.float64) if len(sample) else np.zeros(nc)
    if nc <= 4:
        padded = np.zeros(4)
        padded[:nc] = shift
        sums = _cpu.moments4_kernel(image, valid, padded).sum(axis=0)
        upper = sums[5:15][_TRIU4_KEEP[nc]]
    else:
        sums = _cpu.moments_kernel(image, valid, shift, nc).sum(axis=0)
        upper = sums[1 + nc :]
    count = sums[0]
    if count == 0:
        return 0.0, shift, np.zeros((nc, nc))
    first = sums[1 : 1 + nc] / count
    second = np.zeros((nc, nc))
    second[_triu(nc)] = upper / count
    second = second + np.triu(second, 1).T
    return float(count), shift + first, second - np.outer(first, first)


def _ridge(cov: np.ndarray, eps: float) -> float:
    # The floor keeps a perfectly flat image finite (its scores are then all 0).
    return eps * max(float(np.trace(cov)) / len(cov), 0.0) + 1e-12


def rx_global(image: Any, *, valid: Any = None, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Global RX scores of one image.

    Args:
        image: (H, W) or (H, W, C) image, any number of channels.
        valid: (H, W) bool, pixels that belong to the image (statistics and scores); default all.
        eps: Ridge added to the covariance, relative to its mean variance.

    Returns:
        (H, W) float32 squared Mahalanobis distances to the image mean; 0 on invalid pixels.
    """
    image = _as_image(image)
    valid = _as_valid(valid, image.shape[:2])
    count, mean, cov = _statistics(image, valid)
    out = np.zeros(image.shape[:2], np.float32)
    if count == 0:
        return out
    cov = cov + _ridge(cov, eps) * np.eye(len(cov))
    whitening = np.linalg.inv(np.linalg.cholesky(cov))
    nc = image.shape[2]
    if nc <= 4:
        padded_mean, padded_whitening = np.zeros(4), np.zeros((4, 4))
        padded_mean[:nc] = mean
        padded_whitening[:nc, :nc] = whitening
        _cpu.global_scores4_kernel(image, valid, padded_mean, padded_whitening, out)
    else:
        _cpu.global_scores_kernel(image, valid, mean, np.ascontiguousarray(whitening), out, nc)
    return out


def rx_local(
    image: Any,
    *,
    window: int = 31,
    guard: int = 0,
    valid: Any = None,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """Local RX scores: each pixel against the mean and covariance of its neighbourhood.

    The neighbourhood is the ``window`` x ``window`` square centred on the pixel, clipped at
    the image border, without the centred ``guard`` x ``guard`` square when ``guard`` > 0 (so a
    target does not hide in its own statistics). Running box sums make the cost independent of
    the window size.

    Args:
        image: (H, W) or (H, W, C) image.
        window: Odd window size in pixels.
        guard: Odd guard size in pixels smaller than ``window``, or 0 for none.
        valid: (H, W) bool mask of usable pixels; default all.
        eps: Ridge relative to the image's mean variance (keeps flat windows finite).

    Returns:
        (H, W) float32 scores; 0 on invalid pixels.
    """
    if int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(f"window: expected an odd number of pixels, got {window!r}")
    if int(guard) != guard or guard < 0 or (guard and (guard % 2 == 0 or guard >= window)):
        raise ValueError(f"guard: expected 0 or an odd size below window={window}, got {guard!r}")
    image = _as_image(image)
    valid = _as_valid(valid, image.shape[:2])
    count, mean, cov = _statistics(image, valid)
    out = np.zeros(image.shape[:2], np.float32)
    if count == 0:
        return out
    # A few bands per thread: each band re-reads ``window`` rows to start its running sums.
    bands = min(image.shape[0], 4 * numba.get_num_threads())
    nc = image.shape[2]
    if nc <= 4:
        shift = np.zeros(4)
        shift[:nc] = mean
        _cpu.local_scores4_kernel(image, valid, shift, int(window), int(guard),
                                  _ridge(cov, eps), bands, out)  # fmt: skip
    else:
        _cpu.local_scores_kernel(image, valid, mean, int(window), int(guard), _ridge(cov, eps),
                                 bands, out, nc)  # fmt: skip
    return out


def rx(
    image: Any,
    *,
    method: str = "global",
    window: int = 31,
    guard: int = 0,
    valid: Any = None,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """RX scores (H, W) by ``method`` ``"global"`` (:func:`rx_global`) or ``"local"``."""
    if method == "global":
        return rx_global(image, valid=valid, eps=eps)
    if method == "local":
        return rx_local(image, window=window, guard=guard, valid=valid, eps=eps)
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")


def threshold(
    scores: Any,
    *,
    quantile: float | None = DEFAULT_QUANTILE,
    absolute: float | None = None,
    min_score: float = 0.0,
    valid: Any = None,
) -> np.ndarray:
    """Anomaly mask of one score image: scores above a quantile of the valid scores, or above
    an absolute value when ``absolute`` is given.

    The quantile threshold is the order statistic ``ceil(quantile * (N - 1))`` of the N valid
    scores and pixels strictly above it are flagged, so about ``(1 - quantile) * N`` pixels are
    (fewer on ties; none on a constant image). A quantile always flags pixels, target or not;
    ``min_score`` adds a floor every flagged pixel must also exceed, so an image without a
    real outlier gives an empty mask (a constant-false-alarm-rate rule on top of the paper's).

    Returns:
        (H, W) bool mask (never set on invalid pixels).
    """
    scores = np.asarray(to_numpy(scores))
    valid = _as_valid(valid, scores.shape)
    if not (math.isfinite(min_score) and min_score >= 0):
        raise ValueError(f"min_score: expected a finite score >= 0, got {min_score!r}")
    if absolute is not None:
        if not math.isfinite(absolute):
            raise ValueError(f"absolute: expected a finite threshold, got {absolute!r}")
        return (scores > max(absolute, min_score)) & valid
    if quantile is None or not (0.0 <= quantile <= 1.0):
        raise ValueError(f"quantile: expected a number in [0, 1], got {quantile!r}")
    values = scores[valid]
    if values.size == 0:
        return np.zeros(scores.shape, np.bool_)
    k = min(int(math.ceil(quantile * (values.size - 1))), values.size - 1)
    level = max(float(np.partition(values, k)[k]), min_score)
    return (scores > level) & valid


def anomaly_masks(
    images: Any,
    *,
    method: str = "global",
    window: int = 31,
    guard: int = 0,
    quantile: float | None = DEFAULT_QUANTILE,
    absolute: float | None = None,
    min_score: float = 0.0,
    valid: Any = None,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """Per-image RX anomaly masks of a batch.

    Args:
        images: (n, H, W) or (n, H, W, C) images, each detected on its own statistics.
        method, window, guard, eps: See :func:`rx`.
        quantile, absolute, min_score: See :func:`threshold`.
        valid: (n, H, W) or (H, W) bool mask of usable pixels; default all.

    Returns:
        (n, H, W) bool masks.
    """
    images = np.asarray(to_numpy(images))
    if images.ndim not in (3, 4):
        raise ValueError(f"images: expected shape (n, H, W[, C]), got {images.shape}")
    masks = np.zeros(images.shape[:3], np.bool_)
    if valid is not None:
        valid = np.broadcast_to(np.asarray(to_numpy(valid), np.bool_), images.shape[:3])
    for index, image in enumerate(images):
        ok = None if valid is None else valid[index]
        scores = rx(image, method=method, window=window, guard=guard, valid=ok, eps=eps)
        masks[index] = threshold(scores, quantile=quantile, absolute=absolute,
                                 min_score=min_score, valid=ok)  # fmt: skip
    return masks


def rx_masks(
    integral: Any,
    *,
    method: str = "global",
    window: int = 31,
    guard: int = 0,
    quantile: float | None = DEFAULT_QUANTILE,
    absolute: float | None = None,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """The classic approach: RX on integral images, over their covered pixels only.

    Args:
        integral: A :class:`swarmsim.aperture.Integral` of images (not of masks).

    Returns:
        (m, H, W) bool anomaly masks, one per virtual camera.
    """
    image = np.asarray(to_numpy(integral.image))
    valid = np.asarray(to_numpy(integral.valid))
    return anomaly_masks(image, method=method, window=window, guard=guard, quantile=quantile,
                         absolute=absolute, valid=valid, eps=eps)  # fmt: skip


def integrated_mask(integral: Any, *, min_fraction: float = 0.0, channel: int = 0) -> np.ndarray:
    """Detection mask of an integral of anomaly masks (the swarm's approach).

    Args:
        integral: A :class:`swarmsim.aperture.Integral` of (n, H, W) bool or 0/1 masks.
        min_fraction: Flag pixels whose fraction of covering views that flagged them exceeds
            this; the default 0 flags any pixel some view flagged (the union, as the AOS swarm;
            weights below `swarmsim.aperture.integrate.FOREGROUND_MIN` are rounding, not flags).
        channel: Channel of the integral holding the masks.

    Returns:
        (m, H, W) bool masks.
    """
    image = np.asarray(to_numpy(integral.image))[..., channel]
    flagged = foreground(np.asarray(to_numpy(integral.sum))[..., channel])
    return (image > min_fraction) & flagged & np.asarray(to_numpy(integral.valid))
