"""What every quantizer shares: input checks and code-usage statistics."""
from __future__ import annotations

import torch


def check_latents(z: torch.Tensor, dim: int, who: str) -> None:
    """Clear errors for latents a quantizer cannot take: not floating point, wrong last dimension, NaN or inf."""
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise TypeError(f"{who} takes a floating-point tensor (..., {dim}), got "
                        f"{z.dtype if isinstance(z, torch.Tensor) else type(z).__name__}")
    if z.dim() < 1 or z.shape[-1] != dim:
        raise ValueError(f"{who} expects latents of shape (..., {dim}) (channels last), got {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError(f"{who} got non-finite latents (NaN or inf) in a tensor of shape {tuple(z.shape)}")


DENSE_STATISTICS_LIMIT = 2**20  # codebooks up to this size get a dense count per code


def code_statistics(indices: torch.Tensor, codebook_size: int) -> dict[str, torch.Tensor]:
    """Counts per code, perplexity exp(H(p)) of the code frequencies p and the share of codes used (0..1).

    Above ``DENSE_STATISTICS_LIMIT`` codes (an FSQ of 2^32 codes would count into 34 GB) only the codes that
    occur are counted, and ``counts`` holds those counts alone."""
    if codebook_size > DENSE_STATISTICS_LIMIT:
        counts = torch.unique(indices.reshape(-1), return_counts=True)[1].float()  # (codes used,)
        usage = usage_from_counts(counts)
        return {"counts": counts, "perplexity": usage["perplexity"],
                "usage": torch.tensor(counts.numel() / codebook_size, device=indices.device)}
    counts = torch.bincount(indices.reshape(-1), minlength=codebook_size).float()  # (K,)
    return {"counts": counts, **usage_from_counts(counts)}


def usage_from_counts(counts: torch.Tensor) -> dict[str, torch.Tensor]:
    """Perplexity and share of codes used from code counts (K,) (or from frequencies: only ratios matter)."""
    p = counts / counts.sum().clamp_min(1e-12)
    entropy = -torch.special.xlogy(p, p).sum()  # 0 log 0 = 0
    return {"perplexity": entropy.exp(), "usage": torch.count_nonzero(counts) / counts.numel()}
