"""DeepNADE: one network for every ordering, the mask given as input (Uria, Murray, Larochelle 2014, "A Deep and
Tractable Density Estimator"), and its ensemble over orderings (EoNADE).

A feed-forward network f (ReLU hidden layers) reads the observed pixels and which ones they are,
[x * m, m] (2D inputs), and gives for every pixel d the logit of p(x_d = 1 | x_m). For an ordering o,

    log p(x | o) = sum_t log p(x_{o_t} | x_{o_<t}),

each factor read from f with m = 1 on o_<t: D passes, but consecutive masks differ in one pixel, so the first
layer's pre-activation is updated by two of its columns per step and only the upper layers run in full.

Training minimizes the expected negative log-likelihood over all D! orderings, E_o[-log p(x | o)], through its
unbiased one-pass estimate: draw k uniformly in 0..D-1 and a uniformly random set of k observed pixels, then

    -log p(x) ~ D / (D - k) * sum_{j unobserved} -log p(x_j | x_observed)

(for a random ordering and a random position t, the pixel o_t is uniform over the D - k unobserved ones). The
model is the uniform mixture over ``num_orderings`` = K fixed random orderings,
log p(x) = logsumexp_k log p(x | o_k) - log K (EoNADE); the orderings are drawn from ``ordering_seed`` so the
first K of a larger ensemble are the same orderings.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import Config, PositiveInt
from genzoo.models.autoregressive.base import BinaryAutoregressiveModel, check_binary_images
from genzoo.registry import register_model


@dataclass
class DeepNADEConfig(Config):
    image_shape: tuple[PositiveInt, ...] = (1, 28, 28)
    hidden: PositiveInt = 500  # units per hidden layer
    layers: PositiveInt = 2  # hidden layers
    num_orderings: PositiveInt = 1  # K: log_prob is the uniform mixture over K fixed random orderings
    ordering_seed: int = 0  # seeds the orderings; they are stored with the weights too


def random_orderings(num_pixels: int, num_orderings: int, seed: int) -> torch.Tensor:
    """(K, D) random permutations of the pixels; the first k of K are those of any ensemble of k."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(num_pixels, generator=g) for _ in range(num_orderings)])


@register_model("deepnade")
class DeepNADE(BinaryAutoregressiveModel):
    config_class = DeepNADEConfig
    derived_buffers = ("orderings",)  # from ordering_seed; saved with the weights, checked on load

    def __init__(self, config: DeepNADEConfig):
        super().__init__(config)
        if config.hidden < 1 or config.layers < 1 or config.num_orderings < 1:
            raise ValueError(f"DeepNADE needs hidden, layers and num_orderings >= 1, got {config}")
        D, H = self.num_pixels, config.hidden
        sizes = [2 * D] + [H] * config.layers
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(H, D)
        self.num_masks = config.num_orderings
        self.register_buffer("orderings", random_orderings(D, config.num_orderings, config.ordering_seed))

    def ordering(self, mask: int = 0) -> torch.Tensor:
        return self.orderings[mask]

    def with_orderings(self, num_orderings: int) -> DeepNADE:
        """The same network as the mixture over the first ``num_orderings`` orderings of its ``ordering_seed``:
        the weights do not depend on K, only log_prob and sample do (so K is chosen after training)."""
        model = type(self)(dataclasses.replace(self.config, num_orderings=num_orderings)).to(self.device, self.dtype)
        weights = {name: value for name, value in self.state_dict().items() if name != "orderings"}
        model.load_state_dict(weights, strict=False)  # the orderings: the new model's own, derived from the seed
        return model.train(self.training)

    # --- the network ------------------------------------------------------------------------------------------
    def _upper(self, a: torch.Tensor) -> torch.Tensor:
        """First-layer pre-activations (B, H) -> last hidden layer (B, H)."""
        h = F.relu(a)
        for layer in self.hidden_layers[1:]:
            h = F.relu(layer(h))
        return h

    def observed_logits(self, x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """(B, D) binary pixels and (B, D) 0/1 observed mask -> (B, D) logits of p(x_d = 1 | x_observed), one pass."""
        first = self.hidden_layers[0]
        return self.out(self._upper(first(torch.cat([x * observed, observed], dim=-1))))

    def _walk(self, x: torch.Tensor, mask: int) -> torch.Tensor:
        """Logits (B, D) of each pixel given the pixels before it in ordering ``mask``, in pixel order."""
        first = self.hidden_layers[0]
        D = self.num_pixels
        W_x, W_m = first.weight[:, :D], first.weight[:, D:]  # (H, D) each: the columns of x * m and of m
        a = first.bias.expand(x.shape[0], -1)  # (B, H): nothing observed yet
        order = self.ordering(mask)
        logits = []
        for d in order.tolist():
            logits.append(self._upper(a) @ self.out.weight[d] + self.out.bias[d])  # (B,)
            a = a + x[:, d, None] * W_x[:, d] + W_m[:, d]  # pixel d becomes observed
        return torch.stack(logits, dim=1)[:, torch.argsort(order)]  # positions -> pixels

    def conditional_logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        return self._walk(x, mask)

    # --- training -----------------------------------------------------------------------------------------------
    def random_observed(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, D) 0/1 masks: per example k uniform in 0..D-1, then a uniformly random set of k observed pixels
        (those whose uniform is below the (k+1)-th smallest)."""
        D = self.num_pixels
        u = self.rand(n, D + 1, generator=generator)
        k = (u[:, :1] * D).long().clamp_(max=D - 1)  # (n, 1)
        ranks = u[:, 1:]
        threshold = ranks.sort(dim=1).values.gather(1, k)  # (n, 1): the (k+1)-th smallest
        return (ranks < threshold).to(self.dtype)

    def order_agnostic_nll(self, x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """(B,) D / (D - k) * sum over unobserved j of -log p(x_j | x_observed): given a mask drawn by
        ``random_observed``, an unbiased estimate of E_o[-log p(x | o)] over all orderings."""
        D = self.num_pixels
        nll = F.binary_cross_entropy_with_logits(self.observed_logits(x, observed), x, reduction="none")
        unobserved = 1 - observed
        return D / unobserved.sum(1) * (nll * unobserved).sum(1)

    def loss(self, batch: torch.Tensor):
        """The order-agnostic estimate above, averaged over the batch (its "nll" estimates the mean over
        orderings, not the K-ordering mixture that log_prob gives)."""
        x = self.check_nonempty(check_binary_images(batch, self.image_shape, self.dtype)).flatten(1)
        nll = self.order_agnostic_nll(x, self.random_observed(x.shape[0])).mean()
        return nll, {"nll": nll.detach()}

    # --- sampling -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` exact samples (n, *image_shape) from the same noise as ``sample_naive`` (so the same images), but
        every row walks its own ordering in one batch: D steps of batch n whatever the number of orderings drawn,
        where the base class walks each ordering apart (with K = 64, 64 walks of about one row each)."""
        n = self.check_sample_count(n)
        masks, u = self._sampling_noise(n, generator)
        return self._walk_rows(u, self.orderings[masks]).view(n, *self.image_shape)

    def _walk_rows(self, u: torch.Tensor, orders: torch.Tensor) -> torch.Tensor:
        """Uniforms (n, D) and orderings (n, D) -> binary (n, D): row i's pixels drawn in the order orders[i],
        x_d = [u_d < p(x_d = 1 | pixels before d)]; sampling only (the gathers would slow ``_walk``'s log_prob)."""
        first = self.hidden_layers[0]
        D = self.num_pixels
        W_x, W_m = first.weight[:, :D].t(), first.weight[:, D:].t()  # (D, H) each: a pixel's columns as rows
        x = torch.zeros_like(u)
        a = first.bias.expand(u.shape[0], -1)  # (n, H): nothing observed yet
        rows = torch.arange(u.shape[0], device=u.device)
        for d in orders.t():  # (n,): the pixel each row draws at this position
            logit = (self._upper(a) * self.out.weight[d]).sum(-1) + self.out.bias[d]  # (n,)
            x_d = (u[rows, d] < torch.sigmoid(logit)).to(x.dtype)  # (n,)
            x[rows, d] = x_d
            a = a + x_d[:, None] * W_x[d] + W_m[d]  # each row's pixel d becomes observed
        return x

    def _sample_naive(self, u: torch.Tensor, mask: int) -> torch.Tensor:
        """One full pass of the network per pixel, the observed mask grown by one pixel each time."""
        x, observed = torch.zeros_like(u), torch.zeros_like(u)
        for d in self.ordering(mask).tolist():
            p = torch.sigmoid(self.observed_logits(x, observed)[:, d])
            x[:, d] = (u[:, d] < p).to(x.dtype)
            observed[:, d] = 1
        return x
