"""Datasets shared by every model family: a registry of datasets, in-memory splits, data roots, batch loading.

Importing the package registers the datasets below; ``dataset_from_dict({"name": ..., ...})`` builds one.
"""
from genzoo.data import binarized_mnist, code_grids, mnist, toy1d  # noqa: F401  (registers the datasets)
from genzoo.data.code_grids import pretrained_dataset
from genzoo.data.loader import TensorBatchLoader
from genzoo.data.registry import DatasetConfig, dataset_from_dict, get_dataset_class, list_datasets, register_dataset
from genzoo.data.root import DataNotFoundError, cache_dir, search_roots
from genzoo.data.splits import ImageSplit, IndexSplit, SampleSplit, Split, Splits

BinarizedMNISTData = binarized_mnist.BinarizedMNISTData
MNISTData = mnist.MNISTData
Toy1DData = toy1d.Toy1DData
CodeGridData = code_grids.CodeGridData

__all__ = ["BinarizedMNISTData", "CodeGridData", "DataNotFoundError", "DatasetConfig", "ImageSplit", "IndexSplit",
           "MNISTData", "SampleSplit", "Split", "Splits", "TensorBatchLoader", "Toy1DData", "cache_dir",
           "dataset_from_dict", "get_dataset_class", "list_datasets", "pretrained_dataset", "register_dataset",
           "search_roots"]
