from genzoo.models.density.fourier import FourierDensity, FourierDensityConfig

__all__ = ["FourierDensity", "FourierDensityConfig"]
