"""In-memory splits: every dataset's examples held as tensors, batches sliced by row (never decoded).

A split gives its stored tensors (``tensors``: what a DataLoader shards, e.g. uint8 images and int64 labels)
and turns stored rows into the batch a model's ``loss`` takes (``to_batch``: float images in [0, 1], or
``(images, labels)`` for labelled data). The batch loader and evaluation use only these two.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from genzoo.data.registry import SPLITS, check_split_name


class Split:
    """Base of the split kinds below."""

    def __len__(self) -> int:
        return self.tensors()[0].shape[0]

    def tensors(self, epoch: int = 0) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def to_batch(self, *stored: torch.Tensor):
        raise NotImplementedError

    def batch(self, rows, epoch: int = 0, device: torch.device | str = "cpu"):
        """The model-ready batch of ``rows`` (indices or a slice) of ``epoch``, on ``device``."""
        return self.to_batch(*(t[rows].to(device, non_blocking=True) for t in self.tensors(epoch)))

    def head(self, n: int):
        """The first ``n`` examples as one batch (previews, reference images)."""
        return self.batch(slice(0, n))


class ImageSplit(Split):
    """Images held as uint8 (N, C, H, W), optionally with int64 labels (N,).

    ``scale`` maps stored values to [0, 1] floats (1 for binary data, 255 for grey levels). A split built with
    ``redraw_seed`` holds intensities and returns a fresh Bernoulli draw for each epoch (dynamic binarization).
    With ``labels`` a batch is ``(images, labels)``.
    """

    def __init__(self, data: torch.Tensor, scale: float, redraw_seed: int | None = None,
                 labels: torch.Tensor | None = None):
        if data.dtype != torch.uint8 or data.dim() != 4:
            raise ValueError(f"ImageSplit wants uint8 (N, C, H, W), got {data.dtype} {tuple(data.shape)}")
        if labels is not None and (labels.dtype != torch.int64 or labels.shape != data.shape[:1]):
            raise ValueError(f"ImageSplit labels must be int64 (N,) = ({data.shape[0]},), got {labels.dtype} "
                             f"{tuple(labels.shape)}")
        self.data, self.scale, self.redraw_seed, self.labels = data, scale, redraw_seed, labels
        self._drawn: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    def images(self, epoch: int = 0) -> torch.Tensor:
        """The uint8 images of ``epoch`` (the same every epoch unless the split is redrawn)."""
        if self.redraw_seed is None:
            return self.data
        if self._drawn is None or self._drawn[0] != epoch:
            from genzoo.data.binarized_mnist import bernoulli_draw

            # A seed per (run seed, epoch): resuming mid-run redraws the very same epoch.
            seed = (self.redraw_seed * 1_000_003 + epoch) % (2**63)
            self._drawn = (epoch, bernoulli_draw(self.data, seed))
        return self._drawn[1]

    def tensors(self, epoch: int = 0) -> tuple[torch.Tensor, ...]:
        return (self.images(epoch),) if self.labels is None else (self.images(epoch), self.labels)

    def to_float(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float32 in [0, 1] (values {0, 1} for binary data)."""
        return batch.float() / self.scale if self.scale != 1 else batch.float()

    def to_batch(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        return self.to_float(images) if labels is None else (self.to_float(images), labels)


class SampleSplit(Split):
    """Rows of real numbers (N, C) held as float32 (1-D densities: C = 1); ``target`` names the exact density
    they were drawn from, where one is known (genzoo.data.toy1d)."""

    def __init__(self, data: torch.Tensor, target: str | None = None):
        if not data.is_floating_point() or data.dim() != 2:
            raise ValueError(f"SampleSplit wants float (N, C), got {data.dtype} {tuple(data.shape)}")
        self.data, self.target = data, target

    def images(self, epoch: int = 0) -> torch.Tensor:
        return self.data

    def tensors(self, epoch: int = 0) -> tuple[torch.Tensor, ...]:
        return (self.data,)

    def to_batch(self, rows: torch.Tensor) -> torch.Tensor:
        return rows.float()


class IndexSplit(Split):
    """Grids of category indices (N, H, W) held as int64, e.g. the code grids of a VQ-VAE.

    ``source``: where the grids come from (e.g. {"autoencoder": name, "tensors_sha256": ...}), for models that
    must check they are fitted to the right codes; ``image_split``: a zero-argument callable giving the split of
    images the grids encode (scores of decoded samples are measured against it)."""

    def __init__(self, grids: torch.Tensor, num_classes: int, source: dict[str, str] | None = None,
                 image_split: Callable[[], Split] | None = None):
        if grids.dtype != torch.int64 or grids.dim() < 2:
            raise ValueError(f"IndexSplit wants int64 (N, ...), got {grids.dtype} {tuple(grids.shape)}")
        if grids.numel() and (grids.min() < 0 or grids.max() >= num_classes):
            raise ValueError(f"IndexSplit indices must lie in [0, {num_classes})")
        self.data, self.num_classes, self.source = grids, num_classes, dict(source or {})
        self._image_split, self._images = image_split, None

    def tensors(self, epoch: int = 0) -> tuple[torch.Tensor, ...]:
        return (self.data,)

    def to_batch(self, grids: torch.Tensor) -> torch.Tensor:
        return grids

    def image_split(self) -> Split:
        """The split of images these grids encode (loaded at the first call and kept)."""
        if self._image_split is None:
            raise ValueError("these index grids name no split of images they encode")
        if self._images is None:
            self._images = self._image_split()
        return self._images


class Splits(Mapping):
    """The train / valid / test splits of one dataset, each loaded at its first use and kept.

    ``seed`` is the run's seed (dynamic binarization redraws the train split from it). ``train()`` takes any
    mapping of split names to splits; this one also carries ``dataset``, recorded in the exported weights.
    """

    def __init__(self, dataset, seed: int = 0):
        self.dataset, self.seed = dataset, seed
        self._loaded: dict[str, Split] = {}

    def __getitem__(self, name: str) -> Split:
        check_split_name(name)
        if name not in self._loaded:
            self._loaded[name] = self.dataset.load(name, seed=self.seed)
        return self._loaded[name]

    def __iter__(self):
        return iter(SPLITS)

    def __len__(self) -> int:
        return len(SPLITS)
