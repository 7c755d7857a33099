"""Quantizers usable alone in any model: one file each."""
from genzoo.quantizers.estimators import rotation_trick, straight_through
from genzoo.quantizers.fsq import FSQ, FSQ_PRESETS
from genzoo.quantizers.vector_quantizer import VectorQuantizer

__all__ = ["FSQ", "FSQ_PRESETS", "VectorQuantizer", "rotation_trick", "straight_through"]
