"""The simulation-study driver: seeding, learner fallbacks and settings checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from swarmsim.lti import LTIError, experiment, simulate
from swarmsim.lti.experiment import Design, run_experiment

from .conftest import second_order

SMALL = {"pilot_N": 500, "n_psi": 10, "n_posterior": 20, "n_divergence": 200}


@pytest.fixture(scope="module")
def design() -> Design:
    return Design.make(
        second_order(),
        np.random.default_rng(11),
        pilot_N=500,
        n_psi=10,
        n_posterior=20,
        n_divergence=200,
    )


def test_result_at_one_n_does_not_depend_on_the_other_ns():
    alone = run_experiment(second_order(), [300], trials=2, seed=4, method="n4sid", **SMALL)
    both = run_experiment(second_order(), [400, 300], trials=2, seed=4, method="n4sid", **SMALL)
    assert [r.N for r in both] == [400, 300]
    # Exactly equal: each N draws from its own streams and every fit is bit-reproducible.
    np.testing.assert_array_equal(both[1].bounds, alone[0].bounds)
    np.testing.assert_array_equal(both[1].true_losses, alone[0].true_losses)
    assert all(r.psi_source == "true-system" and r.seconds > 0 for r in both)


def test_trajectories_depend_only_on_the_rng(design, monkeypatch):
    """The same rng gives the same training data whatever the method and Monte-Carlo draws."""
    seen: dict[str, list[float]] = {}

    def recording(method: str):
        def sim(*args, **kwargs):
            u, y = simulate(*args, **kwargs)
            seen.setdefault(method, []).append(float(y[0, 0]))
            return u, y

        return sim

    study = design.at(300, np.random.default_rng(1))
    for method in ("n4sid", "pem", "gibbs"):
        monkeypatch.setattr(experiment, "simulate", recording(method))
        study.run(2, np.random.default_rng(5), method=method)
    assert seen["n4sid"] == seen["pem"] == seen["gibbs"]
    assert seen["n4sid"][0] != seen["n4sid"][1]


def test_learner_failure_falls_back_on_the_prior_mean(design):
    study = design.at(40, np.random.default_rng(2))
    u, y = simulate(design.system, 40, np.random.default_rng(3))
    trial = study.evaluate(u, y, np.random.default_rng(4), "pem")  # too short for N4SID
    assert trial.fallback
    assert np.isfinite(trial.bound.value) and trial.bound.value >= trial.true_loss


def test_summary_has_the_reported_figures(design):
    res = design.at(300, np.random.default_rng(1)).run(3, np.random.default_rng(2), method="n4sid")
    row = res.summary()
    assert row["N"] == 300 and row["trials"] == 3
    assert row["lambda"] == pytest.approx(np.sqrt(300))
    assert row["coverage"] == res.coverage == np.mean(res.bounds >= res.true_losses)
    assert row["mean_bound"] == pytest.approx(np.mean(res.bounds))


def test_fixed_lambda_and_renyi_form(design):
    kl = dataclasses.replace(design, lam=25.0).at(300, np.random.default_rng(1))
    assert kl.lam == 25.0 and kl.complexity.lam == 25.0
    ren = dataclasses.replace(design, form="renyi2").at(300, np.random.default_rng(1))
    res = ren.run(1, np.random.default_rng(2), method="n4sid")
    assert res.form == "renyi2" and res.lam is None and res.complexity > 0


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"delta": 0.0}, "delta"),
        ({"lam": -1.0}, "lam"),
        ({"lam": "root"}, "lam"),
        ({"form": "kl2"}, "form"),
    ],
)
def test_bad_settings_raise(design, change, match):
    with pytest.raises(LTIError, match=match):
        dataclasses.replace(design, **change).check()


def test_bad_method_and_gibbs_with_renyi_raise(design):
    study = design.at(300, np.random.default_rng(1))
    u, y = simulate(design.system, 300, np.random.default_rng(3))
    with pytest.raises(LTIError, match="method"):
        study.evaluate(u, y, np.random.default_rng(4), "ml")
    renyi = dataclasses.replace(design, form="renyi2").at(300, np.random.default_rng(1))
    with pytest.raises(LTIError, match="form"):
        renyi.evaluate(u, y, np.random.default_rng(4), "gibbs")
    with pytest.raises(LTIError, match="method"):
        run_experiment(design.system, [300], trials=1, seed=0, method="ml")
