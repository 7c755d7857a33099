"""Autoregressive models over a raster-ordered grid of tokens with K categories: the base of the PixelCNN
family (and of priors over VQ / FSQ code grids).

p(x) = prod_i p(x_i | x_<i) over the H*W positions in raster order (row by row, left to right), each
conditional a categorical over K values given by ``logits(x)`` at that position. K = 2 is binarized images,
taken and returned as float (B, 1, H, W) in {0, 1} like the other autoregressive models; K > 2 is index grids
(B, H, W) of int64 in [0, K), e.g. a VQ-VAE's codes. With ``autoencoder`` set the model is the prior of that
checkpoint's code grids and ``sample`` returns decoded images (``code_prior``).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F

from genzoo.config import Config, NonNegativeInt, PositiveInt, Range
from genzoo.metrics.quality import SAMPLE_QUALITY_TABLE, SampleQuality, sample_quality_row
from genzoo.models.autoregressive.base import check_binary_images
from genzoo.models.autoregressive.code_prior import (CODE_PRIOR_TABLE, autoencoder_hash, check_code_source,
                                                     code_prior_headline, code_prior_row, hash_buffer, hex_digest,
                                                     load_autoencoder)
from genzoo.models.autoregressive.results import LIKELIHOOD_TABLE, likelihood_headline, likelihood_row
from genzoo.models.base import GenerativeModel


@dataclass
class GridConfig(Config):
    """The fields every grid model's config starts with."""

    grid: tuple[PositiveInt, PositiveInt] = (28, 28)
    categories: Annotated[int, Range(ge=2)] = 2  # K: 2 for binarized images, the codebook size for code grids
    autoencoder: str | None = None  # a VQ / FSQ checkpoint: the model is the prior of its code grids
    metric_samples: NonNegativeInt = 0  # decoded samples scored at each split evaluation (priors; 0: none)
    metric_classifier: str = "mnist-classifier"  # feature network of those scores (genzoo.metrics)


class GridAutoregressiveModel(GenerativeModel):
    """Subclasses give ``logits(tokens) -> (B, K, H, W)``: position i's logits may depend on tokens < i only."""

    results_table = LIKELIHOOD_TABLE
    curve_metrics = ("nll", "fid")  # a prior over codes also logs a dozen sample metrics, which would hide these

    def __init__(self, config):
        super().__init__(config)
        self.grid = tuple(config.grid)
        self.categories = config.categories
        if config.autoencoder is not None:  # the weights of the autoencoder whose codes the model is fitted to
            self.register_buffer("autoencoder_sha256", hash_buffer(autoencoder_hash(config.autoencoder)))

    @property
    def binary(self) -> bool:
        return self.categories == 2 and self.config.autoencoder is None

    @property
    def is_code_prior(self) -> bool:
        return self.config.autoencoder is not None

    def results_row(self, report) -> list[str]:
        return likelihood_row(report)

    def headline(self, report) -> tuple[str, str]:
        return code_prior_headline(report) if self.is_code_prior else likelihood_headline(report)

    # --- as the prior of an autoencoder's codes (code_prior) -----------------------------------------------------
    def dependencies(self) -> dict[str, dict[str, str]]:
        if not self.is_code_prior:
            return {}
        return {"autoencoder": {"name": self.config.autoencoder, "tensors_sha256": hex_digest(self.autoencoder_sha256)}}

    def autoencoder(self):
        """The autoencoder the codes decode through, loaded by name at the first call (never a submodule: its
        weights stay in its own checkpoint), refused if its weights changed since the prior was trained."""
        if not self.is_code_prior:
            raise ValueError("this model is no prior over code grids (config.autoencoder is not set)")
        cached = self.__dict__.get("_autoencoder")
        if cached is None:
            cached = load_autoencoder(self.config.autoencoder, hex_digest(self.autoencoder_sha256), self.device)
            self.__dict__["_autoencoder"] = cached
        return cached.to(self.device)

    def fit_data(self, train) -> None:
        if self.is_code_prior:
            check_code_source(train, self.config.autoencoder, hex_digest(self.autoencoder_sha256), self.categories,
                              self.grid)

    def split_metrics(self, split, accelerator, samples: int | None = None) -> dict[str, float]:
        """A prior's decoded samples scored against the images its split's codes encode (genzoo.metrics)."""
        if self.metric_samples == 0:
            return {}
        quality = SampleQuality(self.config.metric_classifier, self.metric_samples)
        return quality.score(self, split.image_split(), accelerator, samples=samples)

    @property
    def metric_samples(self) -> int:
        return self.config.metric_samples if self.is_code_prior else 0

    def results_rows(self, report):
        if not self.is_code_prior:
            return super().results_rows(report)
        return [(CODE_PRIOR_TABLE, code_prior_row(report)), (SAMPLE_QUALITY_TABLE, sample_quality_row(report))]

    # --- what a subclass provides: forward(one-hot planes) -> logits, or logits itself ---------------------------
    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """int64 tokens (B, H, W) -> logits (B, K, H, W) of p(x_i | x_<i); by default the forward of their
        one-hot planes (a float input, so tests can take gradients)."""
        return self(self.planes(tokens))

    def planes(self, tokens: torch.Tensor) -> torch.Tensor:
        """int64 tokens (B, H, W) -> one-hot planes (B, K, H, W) in the parameters' dtype."""
        dtype = next(self.parameters()).dtype
        return F.one_hot(tokens, self.categories).permute(0, 3, 1, 2).to(dtype)

    # --- inputs ------------------------------------------------------------------------------------------------
    def check_tokens(self, x) -> torch.Tensor:
        """``x`` as int64 tokens (B, H, W), or a ValueError naming what is wrong: binary images (B, 1, H, W) in
        {0, 1} for K = 2 (the checks of every binary autoregressive model), index grids (B, H, W) in [0, K)
        otherwise."""
        H, W = self.grid
        if self.binary:
            return check_binary_images(x, (1, H, W)).view(-1, H, W).long()
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if tuple(x.shape[1:]) != (H, W):
            raise ValueError(f"expected shape (B, {H}, {W}), got {tuple(x.shape)}")
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise ValueError(f"codes must be an integer tensor, got dtype {x.dtype}")
        if x.numel() and (x.min() < 0 or x.max() >= self.categories):
            raise ValueError(f"x must be codes in [0, {self.categories}); found values in "
                             f"[{x.min().item()}, {x.max().item()}]")
        return x.long()

    def to_output(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, H, W) -> what ``sample`` returns: float images (B, 1, H, W) for binary pixels, the decoded
        images for a prior over an autoencoder's codes, else the grid."""
        if self.is_code_prior:
            return self.autoencoder().decode_indices(tokens)
        return tokens.float().unsqueeze(1) if self.binary else tokens

    # --- likelihood --------------------------------------------------------------------------------------------
    def _nll(self, tokens: torch.Tensor) -> torch.Tensor:
        """-log p(tokens) (B,), the cross-entropy in float32 at least (bf16 logits under autocast)."""
        logits = self.logits(tokens)
        logits = logits.float() if torch.finfo(logits.dtype).bits < 32 else logits
        return F.cross_entropy(logits, tokens, reduction="none").flatten(1).sum(1)  # (B, H, W) -> (B,)

    def log_prob(self, x) -> torch.Tensor:
        """Exact log p(x) in nats, (B,)."""
        return -self._nll(self.check_tokens(x))

    def loss(self, batch):
        nll = self._nll(self.check_nonempty(self.check_tokens(batch))).mean()
        return nll, {"nll": nll.detach()}

    # --- sampling --------------------------------------------------------------------------------------------------
    def sampling_noise(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """One uniform per position (n, H, W): every sampler of the model turns the same noise into the same grid."""
        return self.rand(n, *self.grid, generator=generator)

    @staticmethod
    def draw(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Inverse-CDF draw from categorical ``logits`` (n, K) with uniforms ``u`` (n,) -> int64 (n,)."""
        cdf = torch.softmax(logits.float(), -1).cumsum(-1)
        return torch.searchsorted(cdf, u[:, None].contiguous()).clamp_max(logits.shape[-1] - 1)[:, 0]

    def stepper(self, n: int) -> RasterStepper:
        """The fast path of ``sample``: logits one position at a time (subclasses cache; default: the naive one)."""
        return NaiveStepper(self)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` samples, one position at a time through ``stepper`` (a prior's decoded to images); exact at
        ``temperature`` 1, see ``sample_tokens``."""
        return self.to_output(self.sample_tokens(n, generator, temperature=temperature))

    @torch.no_grad()
    def sample_tokens(self, n: int, generator: torch.Generator | None = None, rows: int | None = None,
                      naive: bool = False, temperature: float = 1.0) -> torch.Tensor:
        """``n`` samples as int64 token grids (n, H, W) (a prior's codes, before decoding). ``temperature``: each
        conditional drawn from softmax(logits / T), exact at 1, sharper below (the trade of sample quality for
        diversity that VQGAN's and DALL-E's priors use; log_prob stays the T = 1 model). ``naive``: through the full
        forward at every position; ``rows``: draw the first ``rows`` rows only, the rest left 0 (bench/ times the
        naive sampler on a few rows: its cost per position is constant)."""
        n = self.check_sample_count(n)
        temperature = self.check_temperature(temperature)
        rows = self.grid[0] if rows is None else rows
        stepper = NaiveStepper(self) if naive else self.stepper(n)
        u = self.sampling_noise(n, generator)  # (n, H, W)
        tokens = torch.zeros(n, *self.grid, dtype=torch.long, device=self.device)
        for r, c in itertools.product(range(rows), range(self.grid[1])):
            tokens[:, r, c] = self.draw(stepper(tokens, r, c).float() / temperature, u[:, r, c])
        return tokens

    @torch.no_grad()
    def sample_naive(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reference sampler: the full forward at every position, H*W of them (for tests and bench/)."""
        return self.to_output(self.sample_tokens(n, generator, naive=True))

    @torch.no_grad()
    def stepped_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """The logits (B, K, H, W) of ``tokens`` computed position by position through ``stepper``, the path
        ``sample`` takes: tests pin them to the full forward's ``logits``."""
        step = self.stepper(tokens.shape[0])
        logits = [step(tokens, r, c) for r, c in itertools.product(*map(range, self.grid))]
        return torch.stack(logits, -1).unflatten(-1, self.grid)

    @property
    def num_positions(self) -> int:
        return math.prod(self.grid)


class RasterStepper:
    """Logits (n, K) of one position at a time, called in raster order with the tokens (n, H, W) drawn so far
    (every position before (r, c) is final; the rest may hold anything). Subclasses keep what they cached."""

    def __init__(self, grid: tuple[int, int]):
        self.grid, self.t = grid, 0

    def __call__(self, tokens: torch.Tensor, r: int, c: int) -> torch.Tensor:
        if (r, c) != divmod(self.t, self.grid[1]):
            raise RuntimeError(f"a stepper goes in raster order: expected position {divmod(self.t, self.grid[1])}, "
                               f"got {(r, c)}")
        logits = self.step(tokens, r, c)
        self.t += 1
        return logits

    @property
    def previous(self) -> tuple[int, int] | None:
        """The position drawn just before the current one (None at the first)."""
        return divmod(self.t - 1, self.grid[1]) if self.t else None

    def step(self, tokens: torch.Tensor, r: int, c: int) -> torch.Tensor:
        raise NotImplementedError


class NaiveStepper(RasterStepper):
    """The full forward at every position: H*W forwards per sample, the reference the fast steppers match."""

    def __init__(self, model: GridAutoregressiveModel):
        super().__init__(model.grid)
        self.model = model

    def step(self, tokens: torch.Tensor, r: int, c: int) -> torch.Tensor:
        return self.model.logits(tokens)[:, :, r, c]


class OneHotCache:
    """The one-hot planes of the tokens drawn so far, zero-padded (n, K, top + H, left + W + right), written
    one position at a time: the input a convolutional stepper reads its patches from."""

    def __init__(self, model: GridAutoregressiveModel, n: int, top: int, left: int, right: int):
        H, W = model.grid
        self.top, self.left = top, left
        self.planes = torch.zeros(n, model.categories, top + H, left + W + right, dtype=model.dtype,
                                  device=model.device)

    def write(self, tokens: torch.Tensor, r: int, c: int) -> None:
        self.planes[:, :, self.top + r, self.left + c].scatter_(1, tokens[:, r, c, None], 1.0)
