"""Coverage of the PAC-Bayes bounds over 200 independent trajectories (slow).

With delta = 0.05 each bound must hold, i.e. be at least the posterior's true expected loss
E_rho L, in at least 95 % of the trajectories. Psi is computed from the true system.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from swarmsim.lti.experiment import Design

from .conftest import mimo, second_order

pytestmark = pytest.mark.slow

TRIALS = 200


@pytest.mark.parametrize("form", ["kl", "renyi2"])
def test_coverage_gaussian_posterior(form):
    design = Design.make(second_order(), np.random.default_rng(7))
    study = dataclasses.replace(design, form=form).at(1000, np.random.default_rng(71))
    res = study.run(TRIALS, np.random.default_rng(70), method="pem")
    assert res.psi_source == "true-system"
    assert res.coverage >= 0.95


def test_coverage_gibbs_posterior():
    study = Design.make(second_order(), np.random.default_rng(8)).at(500, np.random.default_rng(81))
    res = study.run(TRIALS, np.random.default_rng(80), method="gibbs")
    assert res.coverage >= 0.95
    assert np.all(res.divergences >= 0.0)


def test_coverage_mimo_with_coloured_inputs():
    design = Design.make(mimo(), np.random.default_rng(9), parametrization="full", std=0.02)
    res = design.at(1000, np.random.default_rng(91)).run(
        TRIALS, np.random.default_rng(90), method="n4sid"
    )
    assert res.coverage >= 0.95
