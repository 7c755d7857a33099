from genzoo.data.code_grids import export_codes, load_codes
from genzoo.models.vq.vqvae import VQVAE, VQVAEConfig

__all__ = ["VQVAE", "VQVAEConfig", "export_codes", "load_codes"]
