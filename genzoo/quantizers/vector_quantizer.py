"""Vector quantization with a learned codebook (van den Oord et al. 2017, "Neural Discrete Representation
Learning"), straight-through or rotation-trick gradients, EMA codebook updates, dead-code restarts and k-means
initialisation. Usable alone on any (..., dim) tensor (channels last)."""
from __future__ import annotations

from typing import Annotated

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from genzoo.config import NonNegativeFloat, PositiveFloat, PositiveInt, Range, checked
from genzoo.quantizers.base import check_latents, code_statistics
from genzoo.quantizers.estimators import ESTIMATORS

DISTANCES = ("l2", "cosine")
USAGE_DECAY = 0.99  # without an EMA codebook, N_k still tracks usage (for dead-code restarts) at this decay


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_reduce_sum_(t: torch.Tensor) -> torch.Tensor:
    # Codebook statistics are summed over ranks so that every rank applies the same update.
    if _distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def _broadcast_(t: torch.Tensor) -> torch.Tensor:
    # Random choices (restarts, k-means seeds) are made on rank 0 and copied to all.
    if _distributed():
        dist.broadcast(t, src=0)
    return t


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """argmin_k ||z - c_k||^2 for rows z (N, d) and codebook (K, d), as argmin of ||c_k||^2 - 2 z.c_k.

    ||z||^2 is the same for every k and is never formed; one fused addmm gives the (N, K) scores, and no
    elementwise pass (sqrt, clamp, negation) touches that matrix before the argmin.
    """
    scores = torch.addmm(codebook.pow(2).sum(1), z, codebook.t(), alpha=-2.0)  # (N, K)
    return scores.argmin(dim=1)


def kmeans(x: torch.Tensor, k: int, iters: int) -> torch.Tensor:
    """k-means on rows x (N, d): k-means++ seeding (Arthur & Vassilvitskii 2007), then ``iters`` Lloyd
    iterations; empty clusters keep their centre. Returns the (k, d) centres."""
    centres = x.new_empty(k, x.shape[1])
    centres[0] = x[torch.randint(x.shape[0], (1,), device=x.device)]
    closest = (x - centres[0]).pow(2).sum(1)  # (N,) squared distance to the nearest centre so far
    for j in range(1, k):
        weights = closest if closest.sum() > 0 else torch.ones_like(closest)  # fewer distinct rows than k
        centres[j] = x[torch.multinomial(weights, 1)]
        closest = torch.minimum(closest, (x - centres[j]).pow(2).sum(1))
    for _ in range(iters):
        assign = nearest_codes(x, centres)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)  # (k,)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
    return centres


class VectorQuantizer(nn.Module):
    """Nearest-code quantizer for latents of shape (..., dim).

    forward(z) -> (q~, indices, info): q~ has z's shape and dtype and equals the chosen codes in the forward
    pass, with gradients from ``estimator`` ("ste": straight-through, "rotation": the rotation trick of Fifty
    et al. 2024); indices has shape z.shape[:-1]; info holds ``loss`` (to add to the model's loss) and the
    metrics ``commitment``, ``codebook``, ``quant_error`` (mean over vectors of ||sg(e) - q||^2),
    ``perplexity`` and ``usage`` (share of codes used in the batch).

    Losses (van den Oord et al. 2017, eq. 3, with mean squared errors over elements):
    beta * ||e - sg(q)||^2 (commitment), plus ||sg(e) - q||^2 (codebook) unless ``ema_decay > 0``, in which case
    the codebook is not trained by gradient but follows the exponential moving averages of the counts N_k and
    sums m_k of the vectors assigned to it (appendix A.1), with Laplace smoothing of N_k:
        N_k <- g N_k + (1 - g) n_k,  m_k <- g m_k + (1 - g) sum_{i: k(i) = k} e_i,
        c_k = m_k / ((N_k + eps) / (n + K eps) * n),  n = sum_k N_k.

    ``dead_code_threshold > 0``: after each training step, codes whose EMA count N_k is below it are moved to
    random vectors of the batch. ``kmeans_init``: the first training batch initialises the codebook with
    ``kmeans_iters`` Lloyd iterations. Under torch.distributed the counts and sums are all-reduced and random
    choices come from rank 0, so every rank keeps the same codebook.

    Search, losses and updates run in float32 even under bf16/fp16 autocast: distances in low precision pick
    wrong codes.
    """

    def __init__(self, dim: int, codebook_size: int, estimator: str = "ste", distance: str = "l2",
                 beta: float = 0.25, ema_decay: float = 0.99, ema_eps: float = 1e-5,
                 dead_code_threshold: float = 0.0, kmeans_init: bool = False, kmeans_iters: int = 10):
        super().__init__()
        who = "VectorQuantizer"
        dim = checked(who, "dim", dim, PositiveInt)
        codebook_size = checked(who, "codebook_size", codebook_size, Annotated[int, Range(ge=2)])
        beta, ema_eps = checked(who, "beta", beta, NonNegativeFloat), checked(who, "ema_eps", ema_eps, PositiveFloat)
        dead_code_threshold = checked(who, "dead_code_threshold", dead_code_threshold, NonNegativeFloat)
        kmeans_init = checked(who, "kmeans_init", kmeans_init, bool)
        kmeans_iters = checked(who, "kmeans_iters", kmeans_iters, PositiveInt)
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {estimator!r}; choose from {', '.join(ESTIMATORS)}")
        if distance not in DISTANCES:
            raise ValueError(f"unknown distance {distance!r}; choose from {', '.join(DISTANCES)}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0: codebook loss instead of EMA), got {ema_decay}")
        self.dim, self.codebook_size = dim, codebook_size
        self.estimator, self.distance, self.beta = estimator, distance, beta
        self.ema_decay, self.ema_eps = ema_decay, ema_eps
        self.dead_code_threshold, self.kmeans_init, self.kmeans_iters = dead_code_threshold, kmeans_init, kmeans_iters
        codebook = torch.randn(codebook_size, dim)
        self.codebook = nn.Parameter(codebook, requires_grad=not self.uses_ema)  # (K, d)
        # EMA statistics; each code starts with a pseudo-count of one vector at its initial place, so unused
        # codes stay where they are instead of being divided by a vanishing count.
        self.register_buffer("cluster_size", torch.ones(codebook_size))  # N_k (also tracks usage without EMA)
        self.register_buffer("embed_sum", codebook.clone())  # m_k
        self.register_buffer("initialized", torch.tensor(not kmeans_init))

    @property
    def uses_ema(self) -> bool:
        return self.ema_decay > 0

    def describe(self) -> str:
        """A short name for results tables."""
        return f"VQ {self.estimator}, {self.codebook_size} codes"

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, codebook_size={self.codebook_size}, estimator={self.estimator!r}, "
                f"distance={self.distance!r}, ema_decay={self.ema_decay}, dead_code_threshold={self.dead_code_threshold}")

    def _prepare(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=-1) if self.distance == "cosine" else z

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes (..., dim) of integer indices (...) (float32)."""
        if indices.dtype.is_floating_point or indices.dtype == torch.bool:
            raise TypeError(f"indices must be an integer tensor, got {indices.dtype}")
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.codebook_size):
            raise ValueError(f"indices must lie in [0, {self.codebook_size}), got [{int(indices.min())}, {int(indices.max())}]")
        return F.embedding(indices, self._prepare(self.codebook.float()))

    def forward(self, z: torch.Tensor):
        check_latents(z, self.dim, "VectorQuantizer")
        with torch.autocast(device_type=z.device.type, enabled=False):
            e = self._prepare(z.reshape(-1, self.dim).float())  # (N, d)
            if self.training and not bool(self.initialized):
                self._kmeans_initialise(e.detach())
            codebook = self._prepare(self.codebook.float())  # (K, d)
            with torch.no_grad():
                indices = nearest_codes(e.detach(), codebook.detach())  # (N,)
            q = F.embedding(indices, codebook)  # (N, d); carries gradient to the codebook when it is learned
            commitment = self.beta * F.mse_loss(e, q.detach())
            codebook_loss = F.mse_loss(e.detach(), q) if not self.uses_ema else torch.zeros((), device=e.device)
            quant_error = (e.detach() - q.detach()).pow(2).sum(-1).mean()
            stats = code_statistics(indices, self.codebook_size)
            if self.training:
                self._update_codebook(e.detach(), indices, stats["counts"])
            q_tilde = ESTIMATORS[self.estimator](e, q.detach())
        info = {"loss": commitment + codebook_loss, "commitment": commitment.detach(),
                "codebook": codebook_loss.detach(), "quant_error": quant_error,
                "perplexity": stats["perplexity"], "usage": stats["usage"]}
        return q_tilde.to(z.dtype).reshape(z.shape), indices.reshape(z.shape[:-1]), info

    @torch.no_grad()
    def _update_codebook(self, e: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor) -> None:
        g = self.ema_decay if self.uses_ema else USAGE_DECAY
        counts = _all_reduce_sum_(counts.clone())
        self.cluster_size.mul_(g).add_(counts, alpha=1 - g)
        if self.uses_ema:
            sums = _all_reduce_sum_(torch.zeros_like(self.embed_sum).index_add_(0, indices, e))  # (K, d)
            self.embed_sum.mul_(g).add_(sums, alpha=1 - g)
            n = self.cluster_size.sum()
            smoothed = (self.cluster_size + self.ema_eps) / (n + self.codebook_size * self.ema_eps) * n
            self.codebook.data.copy_(self.embed_sum / smoothed[:, None])
        if self.dead_code_threshold > 0:
            self._restart_dead_codes(e)

    @torch.no_grad()
    def _restart_dead_codes(self, e: torch.Tensor) -> None:
        dead = self.cluster_size < self.dead_code_threshold  # the same on every rank: counts are all-reduced
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        pick = torch.randperm(e.shape[0], device=e.device)[:n_dead] if e.shape[0] >= n_dead else \
            torch.randint(e.shape[0], (n_dead,), device=e.device)
        replacement = _broadcast_(e[pick].contiguous())  # (n_dead, d), rank 0's choice
        self.codebook.data[dead] = replacement.to(self.codebook.dtype)
        # A restarted code counts as having just seen ``threshold`` vectors at its new place.
        self.cluster_size[dead] = self.dead_code_threshold
        self.embed_sum[dead] = replacement * self.dead_code_threshold

    @torch.no_grad()
    def _kmeans_initialise(self, e: torch.Tensor) -> None:
        centres = _broadcast_(kmeans(e, self.codebook_size, self.kmeans_iters).contiguous())
        self.codebook.data.copy_(centres)
        self.embed_sum.copy_(centres)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)
