"""Input-output characteristics of models: gain, poles, rise time, bandwidth (first order)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmsim.lti import LTIError, Predictor
from swarmsim.lti.response import (
    bandwidth,
    continuous_poles,
    dc_gain,
    response_summary,
    rise_time,
    step_response,
)

RATE, TAU, GAIN = 50.0, 0.4, 2.0


def first_order() -> Predictor:
    """Zero-order-hold discretisation of GAIN / (TAU s + 1) at RATE."""
    a = math.exp(-1.0 / (RATE * TAU))
    return Predictor(A=[[a]], B=[[GAIN * (1.0 - a)]], C=[[1.0]], D=[[0.0]], K=[[0.0]])


def test_first_order_characteristics():
    m = first_order()
    assert dc_gain(m) == pytest.approx(GAIN)
    assert continuous_poles(m, RATE)[0] == pytest.approx(-1.0 / TAU)
    t, y = step_response(m, RATE, 5.0)
    np.testing.assert_allclose(y, GAIN * (1.0 - np.exp(-t / TAU)), atol=1e-12)
    assert rise_time(t, y, GAIN) == pytest.approx(TAU, rel=2e-3)
    assert bandwidth(m, RATE) == pytest.approx(1.0 / (2.0 * math.pi * TAU), rel=0.03)
    s = response_summary(m, RATE)
    assert s["dominant_time_constant"] == pytest.approx(TAU)
    assert s["steady_state_gain"] == pytest.approx(GAIN)


def test_rise_time_never_reached_and_mimo_refused():
    t = np.arange(5.0)
    assert math.isnan(rise_time(t, np.zeros(5), 1.0))
    mimo = Predictor(A=[[0.5]], B=[[1.0, 0.0]], C=[[1.0]], D=[[0.0, 0.0]], K=[[0.0]])
    with pytest.raises(LTIError, match="model"):
        dc_gain(mimo)
