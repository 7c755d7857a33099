"""genzoo: a PyTorch model zoo for generative modelling."""
__version__ = "0.1.0"

from genzoo.checkpoint import load_pretrained, save_pretrained  # noqa: E402
from genzoo.registry import create_model, list_models, list_pretrained, register_model  # noqa: E402

__all__ = ["create_model", "list_models", "list_pretrained", "load_pretrained", "register_model",
           "save_pretrained", "__version__"]
