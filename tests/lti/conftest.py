"""Known systems shared by the LTI tests."""

from __future__ import annotations

import numpy as np
import pytest

from swarmsim.lti import InputFilter, StochasticLTI, from_noise_model

# Poles of the second-order test system: r e^{+-i w}.
POLE_R, POLE_W = 0.8, 0.5


def second_order() -> StochasticLTI:
    """SISO, poles 0.70 +- 0.38i, predictor poles of modulus 0.82, white unit input."""
    r, w = POLE_R, POLE_W
    A = np.array([[2 * r * np.cos(w), -r * r], [1.0, 0.0]])
    return StochasticLTI(
        A=A,
        B=[[1.0], [0.0]],
        C=[[1.0, 0.5]],
        D=[[0.0]],
        K=[[0.6], [0.2]],
        noise_cov=[[0.25]],
        input_cov=[[1.0]],
    )


def mimo() -> StochasticLTI:
    """Three states, two coloured inputs (first-order filters), two outputs, D != 0."""
    A = np.array([[0.7, 0.2, 0.0], [-0.1, 0.5, 0.3], [0.0, 0.1, -0.4]])
    B = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 0.3]])
    C = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.2]])
    D = np.array([[0.1, 0.0], [0.0, 0.2]])
    filt = InputFilter(A=np.diag([0.6, -0.3]), B=np.eye(2), C=np.eye(2), D=np.eye(2))
    return from_noise_model(
        A,
        B,
        C,
        D,
        Q=0.1 * np.eye(3),
        R=np.diag([0.2, 0.3]),
        S=0.02 * np.ones((3, 2)),
        input_cov=np.array([[1.0, 0.3], [0.3, 0.5]]),
        input_filter=filt,
    )


@pytest.fixture
def siso() -> StochasticLTI:
    return second_order()


@pytest.fixture
def mimo_system() -> StochasticLTI:
    return mimo()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)
