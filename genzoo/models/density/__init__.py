from genzoo.models.density.deep_factorized import DeepFactorizedConfig, DeepFactorizedDensity
from genzoo.models.density.fourier import FourierDensity, FourierDensityConfig
from genzoo.models.density.gmm import GaussianMixture, GaussianMixtureConfig

__all__ = ["DeepFactorizedConfig", "DeepFactorizedDensity", "FourierDensity", "FourierDensityConfig", "GaussianMixture",
           "GaussianMixtureConfig"]
