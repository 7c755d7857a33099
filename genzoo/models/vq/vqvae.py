"""VQ-VAE (van den Oord, Vinyals, Kavukcuoglu 2017) for 28x28 images with a 7x7 grid of discrete codes; any
genzoo quantizer plugs in: a VectorQuantizer with straight-through or rotation-trick gradients, or FSQ."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from einops import rearrange

from genzoo.config import Config, NonNegativeFloat, NonNegativeInt, PositiveInt, Range, UnitInterval
from genzoo.models.base import GenerativeModel
from genzoo.models.images import check_unit_images
from genzoo.models.vq.convnets import decoder, encoder
from genzoo.preview import save_image_grid
from genzoo.quantizers import FSQ, FSQ_PRESETS, VectorQuantizer
from genzoo.quantizers.base import usage_from_counts
from genzoo.registry import register_model
from genzoo.results import ResultsTable, fmt

AUTOENCODER_TABLE = ResultsTable(
    "autoencoder",
    (("checkpoint", "l"), ("quantizer", "l"), ("parameters", "r"), ("data", "l"), ("test MSE", "r"),
     ("PSNR (dB)", "r"), ("codes used", "r"), ("perplexity", "r"), ("quantization error", "r")),
    order=10)

QUANTIZERS = ("vq", "fsq")
VQ_ONLY = ("code_dim", "estimator", "distance", "beta", "ema_decay", "dead_code_threshold", "kmeans_init")


@dataclass
class VQVAEConfig(Config):
    image_shape: tuple[PositiveInt, ...] = (1, 28, 28)
    channels: PositiveInt = 64  # width of the encoder and decoder
    res_blocks: NonNegativeInt = 2
    quantizer: Literal["vq", "fsq"] = "vq"  # vq | fsq
    codebook_size: Annotated[int, Range(ge=2, le=2**16)] = 1024  # evaluation counts codes densely
    code_dim: PositiveInt = 64  # vq only; FSQ's latent dimension is len(levels)
    estimator: Literal["ste", "rotation"] = "rotation"  # vq: ste | rotation
    distance: Literal["l2", "cosine"] = "l2"  # vq: l2 | cosine
    beta: NonNegativeFloat = 0.25  # vq: commitment weight
    ema_decay: UnitInterval = 0.99  # vq: 0 trains the codebook by its loss instead
    dead_code_threshold: NonNegativeFloat = 0.0  # vq: restart codes whose EMA count falls below this
    kmeans_init: bool = True  # vq: k-means on the first batch
    levels: tuple[Annotated[int, Range(ge=2)], ...] | None = None  # fsq: levels per channel; None: the paper's preset for codebook_size
    # (FSQ's presets are near powers of two: [8, 6, 5] has 240 codes, [8, 5, 5, 5] 1000)

    def __post_init__(self):
        super().__post_init__()
        defaults = VQVAEConfig.__dataclass_fields__
        if self.quantizer == "fsq":
            given = [name for name in VQ_ONLY if getattr(self, name) != defaults[name].default]
            if given:
                raise ValueError(f"model.{', model.'.join(given)} apply to quantizer: vq only, not fsq")
        elif self.levels is not None:
            raise ValueError("model.levels applies to quantizer: fsq only, not vq")


@register_model("vqvae")
class VQVAE(GenerativeModel):
    """x (B, 1, 28, 28) in [0, 1] -> codes (B, 7, 7) -> x_hat; trained on mean squared error plus the
    quantizer's loss. ``encode``/``decode_indices`` give and take the index grids a prior over codes learns.

    A VQ-VAE alone has no prior over its codes, so ``sample`` is not defined; the grid written during training
    shows validation inputs beside their reconstructions (``preview``).
    """

    config_class = VQVAEConfig
    selection_metric = "mse"
    results_table = AUTOENCODER_TABLE

    def __init__(self, config: VQVAEConfig):
        super().__init__(config)
        c = config
        if len(c.image_shape) != 3 or tuple(c.image_shape[1:]) != (28, 28):
            raise ValueError(f"VQVAE is built for (C, 28, 28) images, got image_shape {c.image_shape}")
        if c.quantizer not in QUANTIZERS:
            raise ValueError(f"unknown quantizer {c.quantizer!r}; choose from {', '.join(QUANTIZERS)}")
        if c.quantizer == "fsq":
            # codebook_size names the paper's preset (2^10 -> [8, 5, 5, 5], 1000 codes); explicit levels must agree
            self.quantizer = FSQ(c.levels) if c.levels else FSQ.from_codebook_size(c.codebook_size)
            if c.levels and c.codebook_size not in (self.quantizer.codebook_size, *[
                    size for size, preset in FSQ_PRESETS.items() if preset == self.quantizer.levels]):
                raise ValueError(f"FSQ levels {list(c.levels)} give {self.quantizer.codebook_size} codes, "
                                 f"not codebook_size={c.codebook_size}")
        else:
            self.quantizer = VectorQuantizer(c.code_dim, c.codebook_size, estimator=c.estimator, distance=c.distance,
                                             beta=c.beta, ema_decay=c.ema_decay,
                                             dead_code_threshold=c.dead_code_threshold, kmeans_init=c.kmeans_init)
        latent = self.quantizer.dim
        self.encoder = encoder(c.image_shape[0], c.channels, c.res_blocks, latent)
        self.decoder = decoder(latent, c.channels, c.res_blocks, c.image_shape[0])

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    def _check_images(self, x: torch.Tensor) -> torch.Tensor:
        return check_unit_images(x, self.config.image_shape, self.dtype)

    def quantize(self, x: torch.Tensor):
        """x -> (quantized latents (B, d, 7, 7), indices (B, 7, 7), quantizer info)."""
        e = rearrange(self.encoder(x), "b d h w -> b h w d")  # channels last for the quantizer
        q, indices, info = self.quantizer(e)
        return rearrange(q, "b h w d -> b d h w"), indices, info

    def forward(self, x: torch.Tensor):
        """x -> (x_hat, indices, quantizer info); x_hat is the decoder's linear output (``reconstruct`` clamps
        it to [0, 1]). A sigmoid output under squared error saturates on MNIST's black background and stops
        learning within a few hundred steps, hence the linear output."""
        q, indices, info = self.quantize(self._check_images(x))
        return self.decoder(q), indices, info

    def loss(self, batch: torch.Tensor):
        batch = self.check_nonempty(self._check_images(batch))
        x_hat, _, info = self(batch)
        mse = F.mse_loss(x_hat.float(), batch.float())
        metrics = {"mse": mse.detach(), **{k: v.detach() for k, v in info.items() if k != "loss"}}
        return mse + info["loss"], metrics

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) -> code indices (B, 7, 7) (int64)."""
        return self.quantize(self.check_nonempty(self._check_images(x), "encode"))[1]

    @torch.no_grad()
    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices (B, 7, 7) -> images (B, 1, 28, 28) in [0, 1]."""
        if indices.dim() != 3:
            raise ValueError(f"expected an index grid (B, H, W), got shape {tuple(indices.shape)}")
        q = rearrange(self.quantizer.lookup(indices), "b h w d -> b d h w")
        return self.decoder(q.to(next(self.decoder.parameters()).dtype)).clamp(0, 1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x -> reconstruction in [0, 1]."""
        return self(x)[0].clamp(0, 1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError("a VQ-VAE has no prior over its codes: fit one on its code grids (data: "
                                  "{name: code_grids, autoencoder: ...}) and decode its samples with decode_indices")

    @property
    def has_sampler(self) -> bool:
        return False

    @torch.no_grad()
    def write_preview(self, path, n: int = 64, seed: int = 0, reference=None):
        """About n images: rows of inputs from the ``reference()`` split alternating with rows of their
        reconstructions."""
        if reference is None:
            raise ValueError("a VQ-VAE preview shows reconstructions and needs reference images")
        split = reference()
        per_row = max(1, int(math.sqrt(n)))  # the grid's row length
        m = max(per_row, min(n // 2, len(split)) // per_row * per_row)
        x = split.head(m).to(self.device)
        pairs = torch.stack([x, self.reconstruct(x)])  # (2, m, C, H, W)
        return save_image_grid(rearrange(pairs, "two (r c) ch h w -> (r two c) ch h w", c=per_row), path,
                               nrow=per_row)

    def headline(self, report) -> tuple[str, str]:
        t = report.test
        return f"MSE {fmt(t['mse'], 5)}, PSNR {fmt(t['psnr'])} dB, {t['usage']:.1%} of the codes used", "-"

    def results_row(self, report) -> list[str]:
        t = report.test
        return [f"`{report.name}`", self.quantizer.describe(), f"{self.num_parameters():,}",
                report.dataset.describe(), fmt(t["mse"], 5), fmt(t["psnr"]), f"{t['usage']:.1%}",
                fmt(t["perplexity"], 1), fmt(t["quant_error"], 4)]

    def evaluation_metrics(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per image: squared error, PSNR, quantization error ||sg(e) - q||^2 (mean over its 49 codes), and code
        counts (B, K) that ``summarize_metrics`` turns into usage and perplexity over the whole split."""
        x = self._check_images(x)
        e = rearrange(self.encoder(x), "b d h w -> b h w d")
        q, indices, _ = self.quantizer(e)
        x_hat = self.decoder(rearrange(q, "b h w d -> b d h w")).float().clamp(0, 1)
        mse = (x_hat - x).pow(2).flatten(1).mean(1)  # (B,)
        if isinstance(self.quantizer, FSQ):
            target = self.quantizer.bound(e.float()) / self.quantizer._half_width
        else:
            target = self.quantizer._prepare(e.float())
        quant_error = (target - q.float()).pow(2).sum(-1).flatten(1).mean(1)  # (B,)
        counts = F.one_hot(indices.flatten(1), self.codebook_size).sum(1).float()  # (B, K)
        return {"mse": mse, "psnr": 10 * torch.log10(1.0 / mse.clamp_min(1e-10)), "quant_error": quant_error,
                "code_counts": counts}

    def summarize_metrics(self, means: dict[str, torch.Tensor]) -> dict[str, float]:
        out = {k: float(v) for k, v in means.items() if k != "code_counts"}
        usage = usage_from_counts(means["code_counts"])
        out.update(usage=float(usage["usage"]), perplexity=float(usage["perplexity"]))
        return out
