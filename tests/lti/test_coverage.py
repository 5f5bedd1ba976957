"""Coverage of the PAC-Bayes bounds over 200 independent trajectories (slow).

With delta = 0.05 each bound must hold, i.e. be at least the posterior's true expected loss
E_rho L, in at least 95 % of the trajectories. Psi is computed from the true system.
"""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import mimo, second_order
from .experiment import Study

pytestmark = pytest.mark.slow

TRIALS = 200


def test_coverage_gaussian_posterior_kl_and_renyi():
    study = Study.make(second_order(), N=1000, seed=7)
    res = study.run(TRIALS, np.random.default_rng(70), refine=True, renyi=True)
    assert res.psi_source == "true-system"
    assert res.coverage >= 0.95
    assert res.renyi_coverage >= 0.95


def test_coverage_gibbs_posterior():
    study = Study.make(second_order(), N=500, seed=8)
    res = study.run(TRIALS, np.random.default_rng(80), refine=False, gibbs=True,
                    scales=(0.5, 1.0))
    assert res.gibbs_coverage >= 0.95
    assert np.all(res.gibbs_kl >= 0.0)


def test_coverage_mimo_with_coloured_inputs():
    study = Study.make(mimo(), N=1000, seed=9, form="full", std=0.02)
    res = study.run(TRIALS, np.random.default_rng(90), refine=False)
    assert res.coverage >= 0.95
