"""The Idempotent Generative Network and the same-size GAN it is a special case of."""
from genzoo.models.ign.gan import GAN, GANConfig
from genzoo.models.ign.ign import IGN, IGNConfig

__all__ = ["GAN", "GANConfig", "IGN", "IGNConfig"]
