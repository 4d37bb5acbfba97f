"""populace.models: the Bayesian Gaussian-copula latent-factor model."""

from populace.models.config import DEFAULT_MODEL_CONFIG, DEFAULT_SAMPLER_CONFIG
from populace.models.copula import CopulaModel

__all__ = ["CopulaModel", "DEFAULT_MODEL_CONFIG", "DEFAULT_SAMPLER_CONFIG"]
