"""Datasets shared by every model family: data roots, MNIST, binarized MNIST, batch loading."""
from genzoo.data.datasets import DataConfig, ImageSplit, SampleSplit, load_split, pretrained_data_config
from genzoo.data.loader import TensorBatchLoader
from genzoo.data.root import DataNotFoundError, cache_dir, search_roots

__all__ = ["DataConfig", "ImageSplit", "SampleSplit", "load_split", "pretrained_data_config", "TensorBatchLoader", "DataNotFoundError", "cache_dir",
           "search_roots"]
