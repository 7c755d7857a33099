"""The one check of grey-level images every image model's public methods share."""
from __future__ import annotations

import torch


def check_unit_images(x, image_shape: tuple[int, ...], dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` as a float tensor (B, *image_shape) with finite values in [0, 1], or a ValueError naming the
    problem (shape, dtype, NaN, a value outside [0, 1]). Valid images of any dtype are taken: cast to
    ``dtype`` (the model's) where given, else integer and bool inputs become float32 and floating ones keep
    their dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected images as a torch.Tensor, got {type(x).__name__}")
    if x.dim() != len(image_shape) + 1 or tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(f"expected images of shape (B, {', '.join(map(str, image_shape))}), got {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError(f"expected real images in [0, 1], got dtype {x.dtype}")
    x = x if x.is_floating_point() else x.float()
    if x.numel() and not torch.isfinite(x).all():
        raise ValueError("images must be finite with values in [0, 1]; found NaN or infinite values")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"images must be finite with values in [0, 1], found {x.min().item():.4g} .. "
                         f"{x.max().item():.4g} (uint8 grey levels: divide by 255)")
    return x if dtype is None else x.to(dtype)
