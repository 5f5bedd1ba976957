"""Stochastic LTI models of a quadrotor's closed-loop velocity, learned from flight logs.

Expectations that do not come from the learner: the velocity loop tracks its set-point (steady-
state gain 1), the identified step response rises like the one measured directly on the
simulated quadrotor, the controller's velocity gain sets the time scale, no predictor beats the
sensor-noise variance, and the bound sits above the loss on fresh logs.
"""

from __future__ import annotations

import numpy as np
import pytest

from controllers.flight import LQRController, PIDController
from swarmsim.dynamics.flightlog import Excitation, fly_velocity_logs, velocity_step
from swarmsim.lti import StochasticLTI, psi_prior
from swarmsim.lti.fromdata import (
    LogDesign,
    LogStudy,
    ar1_filter,
    candidate_generators,
    psi_generator_set,
)
from swarmsim.lti.response import dc_gain, response_summary, rise_time

AIRFRAME = "sar_quad"
EXCITATION = Excitation(
    rate=20.0, amplitude=1.0, bandwidth=0.5, noise_std=0.05, gust_std=0.3, gust_time=2.0
)
N = 1000  # 50 s of flight per log


def logs(seed: int, drones: int, samples: int = N):
    return fly_velocity_logs(
        PIDController(airframe=AIRFRAME),
        drones,
        samples,
        np.random.default_rng(seed),
        excitation=EXCITATION,
        airframe=AIRFRAME,
    )


def design(pilot, rng, **settings) -> LogDesign:
    u, y = pilot
    return LogDesign.from_pilot(
        u,
        y,
        rng,
        order=3,
        std=2.0,
        prior_cov="pilot",
        n_generators=4,
        input_filter=ar1_filter(EXCITATION.pole, EXCITATION.amplitude),
        n_psi=30,
        n_posterior=60,
        n_divergence=400,
        **settings,
    )


@pytest.fixture(scope="module")
def flight():
    """Pilot, two training and two validation logs of one batch."""
    return logs(0, 5)


@pytest.fixture(scope="module")
def measured_step():
    t, v = velocity_step(PIDController(airframe=AIRFRAME), duration=4.0, airframe=AIRFRAME)
    return t, v


def test_velocity_mode_tracks_the_set_point_at_the_design_time_scale(measured_step):
    t, v = measured_step
    assert v[-1] == pytest.approx(1.0, abs=0.01)
    k = PIDController(airframe=AIRFRAME).velocity_gain
    # A velocity loop of gain k is a lag of time constant 1/k; the attitude loop inside it
    # can only slow it down, by less than half here.
    assert 1.0 / k < rise_time(t, v, v[-1]) < 1.5 / k


def test_lqr_offers_the_same_velocity_mode():
    ctl = LQRController(airframe=AIRFRAME)
    t, v = velocity_step(ctl, duration=4.0, airframe=AIRFRAME, axis="y")
    assert v[-1] == pytest.approx(1.0, abs=0.01)
    assert 1.0 / ctl.velocity_gain < rise_time(t, v, v[-1]) < 1.5 / ctl.velocity_gain


def test_logs_are_reproducible_and_noisy_as_configured():
    a, b = logs(3, 2, 200), logs(3, 2, 200)
    np.testing.assert_array_equal(a.measured, b.measured)
    np.testing.assert_array_equal(a.commanded, b.commanded)
    assert not np.array_equal(a.measured, logs(4, 2, 200).measured)
    noise = a.measured - a.true
    assert np.std(noise) == pytest.approx(EXCITATION.noise_std, rel=0.15)
    assert a.commanded.shape == (2, 200, 2) and not np.any(a.crashed)


def test_bad_excitation_is_refused():
    with pytest.raises(ValueError, match="rate"):
        fly_velocity_logs(
            PIDController(airframe=AIRFRAME),
            1,
            10,
            np.random.default_rng(0),
            excitation=Excitation(rate=7.0),
        )
    with pytest.raises(ValueError, match="bandwidth"):
        fly_velocity_logs(
            PIDController(airframe=AIRFRAME),
            1,
            10,
            np.random.default_rng(0),
            excitation=Excitation(rate=20.0, bandwidth=10.0),
        )


def test_identified_model_has_unit_gain_and_the_measured_rise_time(flight, measured_step):
    d = design(flight.axis(0), np.random.default_rng(0))
    t, v = measured_step
    measured = rise_time(t, v, v[-1])
    for model in (
        d.pilot,
        *[
            LogStudy.at(d, N, np.random.default_rng(1)).evaluate(
                *flight.axis(i), [flight.axis(3)], np.random.default_rng(2)
            )[-1]
            for i in (1, 2)
        ],
    ):
        stats = response_summary(model, EXCITATION.rate)
        assert stats["steady_state_gain"] == pytest.approx(1.0, abs=0.05)
        assert stats["rise_time_63"] == pytest.approx(measured, rel=0.12)
        # The slowest poles are the velocity loop's: stable and of the step's time scale.
        assert 0.3 * measured < stats["dominant_time_constant"] < 3.0 * measured
        assert model.noise_cov[0, 0] > EXCITATION.noise_std**2


def test_bound_is_above_training_and_validation_loss_and_says_where_psi_came_from(flight):
    d = design(flight.axis(0), np.random.default_rng(0))
    study = LogStudy.at(d, N, np.random.default_rng(1))
    assert study.psi.source == "generator-set"
    assert study.lam == pytest.approx(np.sqrt(N) / d.loss_scale)
    result = study.run(
        [flight.axis(1), flight.axis(2)], [flight.axis(3), flight.axis(4)], np.random.default_rng(2)
    )
    assert np.all(result.bounds > result.empirical_losses)
    assert np.all(result.bounds >= result.validation_losses)
    assert np.all(result.validation_losses > EXCITATION.noise_std**2)  # no predictor beats it
    again = study.run(
        [flight.axis(1), flight.axis(2)], [flight.axis(3), flight.axis(4)], np.random.default_rng(2)
    )
    # Same data and seed: the same bounds, to the last bit.
    np.testing.assert_array_equal(result.bounds, again.bounds)


def test_psi_over_one_generator_is_the_true_system_value(flight):
    d = design(flight.axis(0), np.random.default_rng(0))
    gen = d.generators[0]
    ours = psi_generator_set(
        [gen], d.prior, d.param, 400, 300.0, np.random.default_rng(5), n_samples=20
    )
    exact = psi_prior(gen, d.prior, d.param, 400, 300.0, np.random.default_rng(5), n_samples=20)
    assert ours.value == pytest.approx(exact.value)
    assert (ours.source, exact.source) == ("generator-set", "true-system")
    more = psi_generator_set(
        d.generators, d.prior, d.param, 400, 300.0, np.random.default_rng(5), n_samples=20
    )
    assert more.value >= ours.value


def test_candidate_generators_carry_the_input_model(flight):
    d = design(flight.axis(0), np.random.default_rng(0))
    gens = candidate_generators(
        d.param,
        d.prior,
        np.array([[0.01]]),
        np.random.default_rng(1),
        count=3,
        input_filter=ar1_filter(0.8, 2.0),
    )
    assert 1 <= len(gens) <= 3
    for g in gens:
        assert isinstance(g, StochasticLTI) and g.noise_cov[0, 0] == 0.01
        # The first state is the input filter's: its stationary variance is the input's.
        assert g.stationary_state_cov()[0, 0] == pytest.approx(4.0)
    assert dc_gain(gens[0]) == pytest.approx(dc_gain(d.pilot))


@pytest.mark.slow
def test_bound_holds_on_fresh_logs_for_most_seeds():
    held = []
    for seed in range(6):
        flight = logs(100 + seed, 4, 2000)
        d = design(flight.axis(0), np.random.default_rng(seed))
        for n in (1000, 2000):
            r = LogStudy.at(d, n, np.random.default_rng([seed, n])).run(
                [flight.axis(1)],
                [flight.axis(2), flight.axis(3)],
                np.random.default_rng([seed, n, 1]),
            )
            held.append(bool(r.bounds[0] >= r.validation_losses[0]))
    assert np.mean(held) >= 0.8
