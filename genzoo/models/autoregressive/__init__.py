"""Autoregressive models of binary images and code grids with exact log-likelihoods."""
from genzoo.models.autoregressive.deepnade import DeepNADE, DeepNADEConfig
from genzoo.models.autoregressive.fvsbn import FVSBN, FVSBNConfig
from genzoo.models.autoregressive.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from genzoo.models.autoregressive.made import MADE, MADEConfig
from genzoo.models.autoregressive.nade import NADE, NADEConfig
from genzoo.models.autoregressive.pixelcnn import PixelCNN, PixelCNNConfig
from genzoo.models.autoregressive.transformer import Transformer, TransformerConfig

__all__ = ["DeepNADE", "DeepNADEConfig", "FVSBN", "FVSBNConfig", "GatedPixelCNN", "GatedPixelCNNConfig", "MADE",
           "MADEConfig", "NADE", "NADEConfig", "PixelCNN", "PixelCNNConfig", "Transformer", "TransformerConfig"]
