"""Model families; importing them registers their architectures."""
from genzoo.models import autoregressive, classifier, density, ign, vq  # noqa: F401
from genzoo.models.base import GenerativeModel

__all__ = ["GenerativeModel"]
