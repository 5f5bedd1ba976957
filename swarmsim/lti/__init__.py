"""Stochastic LTI models, their identification from one trajectory and PAC-Bayes error bounds.

Typical use::

    from swarmsim import lti

    system = lti.StochasticLTI(A=A, B=B, C=C, K=K, noise_cov=Lam, input_cov=Sig)
    u, y = lti.simulate(system, 5000, rng)
    model = lti.pem(u, y, lti.subspace_id(u, y, order=2))
    L = lti.generalization_error(system, model)            # exact, Lyapunov equation

    param = lti.Parametrization(nominal=heldout_model, form="observer")
    prior = lti.stable_gaussian(param, std=0.03, r_bar=0.95)
    psi = lti.psi_prior(system, prior, param, N, lam, rng)  # psi_source = "true-system"
    fit = lti.gaussian_posterior_bound(u, y, prior, param, param.encode(model), lam=lam,
                                       delta=0.05, psi=psi, rng=rng)
    fit.bound.value  # >= E_rho L with probability >= 1 - delta
"""

from swarmsim.lti.identify import (
    GibbsSamples,
    OrderSelection,
    gibbs_sample,
    n_parameters,
    pem,
    select_order,
    subspace_id,
)
from swarmsim.lti.model import (
    ErrorSystem,
    InputFilter,
    LTIError,
    Predictor,
    StochasticLTI,
    empirical_loss,
    error_covariance,
    error_logdet,
    error_system,
    from_noise_model,
    generalization_error,
    loss_moments,
    predict,
    prediction_errors,
    simulate,
    spectral_radius,
)
from swarmsim.lti.pacbayes import (
    Bound,
    Divergence,
    GaussianFit,
    Parametrization,
    PsiEstimate,
    TruncatedGaussian,
    default_lambda,
    gaussian_posterior_bound,
    gibbs_bound,
    kl_bound,
    kl_divergence,
    kl_gaussian,
    log_partition,
    m2_prior,
    posterior_losses,
    psi_model,
    psi_prior,
    psi_upper_bound,
    renyi2_bound,
    renyi2_divergence,
    renyi2_gaussian,
    stable_gaussian,
)

__all__ = [
    "Bound",
    "Divergence",
    "ErrorSystem",
    "GaussianFit",
    "GibbsSamples",
    "InputFilter",
    "LTIError",
    "OrderSelection",
    "Parametrization",
    "Predictor",
    "PsiEstimate",
    "StochasticLTI",
    "TruncatedGaussian",
    "default_lambda",
    "empirical_loss",
    "error_covariance",
    "error_logdet",
    "error_system",
    "from_noise_model",
    "gaussian_posterior_bound",
    "generalization_error",
    "gibbs_bound",
    "gibbs_sample",
    "kl_bound",
    "kl_divergence",
    "kl_gaussian",
    "log_partition",
    "loss_moments",
    "m2_prior",
    "n_parameters",
    "pem",
    "posterior_losses",
    "predict",
    "prediction_errors",
    "psi_model",
    "psi_prior",
    "psi_upper_bound",
    "renyi2_bound",
    "renyi2_divergence",
    "renyi2_gaussian",
    "select_order",
    "simulate",
    "spectral_radius",
    "stable_gaussian",
    "subspace_id",
]
