"""Connected components against scipy.ndimage, and blob statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from swarmsim.aperture.blobs import find_blobs, label, largest_blob
from swarmsim.aperture.integrate import FocalPlane
from swarmsim.sensing.camera import Camera

EIGHT = np.ones((3, 3), int)


@pytest.mark.parametrize("density", [0.05, 0.3, 0.45, 0.6, 0.9])
@pytest.mark.parametrize("shape", [(1, 1), (1, 37), (41, 1), (64, 80)])
def test_labels_equal_scipy_up_to_permutation(density, shape) -> None:
    rng = np.random.default_rng(int(density * 100) + shape[0])
    mask = rng.random(shape) < density
    labels, count = label(mask)
    expected, expected_count = ndimage.label(mask, structure=EIGHT)
    assert count == expected_count
    np.testing.assert_array_equal(labels > 0, mask)
    # A bijection between label sets: every blob of ours is exactly one scipy blob.
    pairs = np.unique(np.stack([labels[mask], expected[mask]]), axis=1)
    assert pairs.shape[1] == count
    assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == count


def test_blob_statistics_equal_scipy() -> None:
    mask = np.random.default_rng(7).random((50, 70)) < 0.4
    blobs = find_blobs(mask)
    expected, _ = ndimage.label(mask, structure=EIGHT)
    order = [expected[tuple(np.argwhere(blobs.labels == k + 1)[0])] for k in range(len(blobs))]
    index = np.array(order)
    areas = ndimage.sum_labels(mask, expected, index)
    np.testing.assert_array_equal(blobs.area, areas)
    centroids = np.array(ndimage.center_of_mass(mask, expected, index))
    np.testing.assert_allclose(blobs.centroid, centroids)
    slices = ndimage.find_objects(expected)
    boxes = [(s[0].start, s[1].start, s[0].stop, s[1].stop) for s in (slices[i - 1] for i in index)]
    np.testing.assert_array_equal(blobs.box, boxes)
    # Labels number blobs in raster order of their first pixel.
    firsts = [np.flatnonzero(blobs.labels.ravel() == k + 1)[0] for k in range(len(blobs))]
    assert firsts == sorted(firsts)


def test_worst_case_masks() -> None:
    """Checkerboards and combs stress the union-find (many merges, long chains)."""
    checker = np.indices((63, 64)).sum(axis=0) % 2 == 0
    _, count = label(checker)
    assert count == 1  # diagonal neighbours connect a checkerboard in 8-connectivity
    stripes = np.zeros((40, 40), bool)
    stripes[:, ::2] = True
    stripes[::4, :] = True
    assert label(stripes)[1] == ndimage.label(stripes, structure=EIGHT)[1]


def test_min_area_largest_and_box_mask() -> None:
    mask = np.zeros((20, 30), bool)
    mask[2:4, 2:4] = True  # 4 px
    mask[10:15, 5:9] = True  # 20 px
    mask[0, 29] = True  # 1 px
    blobs = find_blobs(mask, min_area=2)
    assert len(blobs) == 2 and set(np.unique(blobs.labels)) == {0, 1, 2}
    big = blobs.largest()
    assert big.area == 20 and big.box == (10, 5, 15, 9)
    assert big.centroid == (12.0, 6.5)
    np.testing.assert_array_equal(big.box_mask(mask.shape), mask & (np.indices(mask.shape)[0] > 5))
    assert largest_blob(np.zeros((4, 4), bool)) is None


def test_ground_position_of_a_blob() -> None:
    """A blob at the image centre of a nadir camera lies under the camera; offsets scale with
    altitude over focal length."""
    camera = Camera(fov=math.radians(50.0), width=64, height=48)
    pose = (3.0, -2.0, 30.0, 0.0, 0.0)
    mask = np.zeros((48, 64), bool)
    mask[23:25, 31:33] = True  # the 2 x 2 block around the image centre
    mask[5:7, 50:52] = True  # up and to the right: north-east
    blobs = find_blobs(mask, camera=camera, pose=pose, focal=FocalPlane(height=1.0))
    centre, corner = blobs[1], blobs[0]
    np.testing.assert_allclose(centre.ground, (3.0, -2.0, 1.0), atol=1e-9)
    scale = 29.0 / camera.focal  # metres per pixel on the focal plane
    np.testing.assert_allclose(corner.ground[:2], (3.0 + (51.0 - 32.0) * scale,
                                                   -2.0 + (24.0 - 6.0) * scale))  # fmt: skip
