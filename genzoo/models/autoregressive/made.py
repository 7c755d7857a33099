"""MADE: Masked Autoencoder for Distribution Estimation (Germain, Gregor, Murray, Larochelle 2015).

A masked MLP whose masks (eq. 12-13 of the paper, here 0-based) give each hidden unit k of layer l a degree
m_l(k) and connect it only to units of the previous layer with degree <= m_l(k); output d (at position p(d)
of the order) sees only units of degree < p(d). Inputs have degree m_0(d) = p(d). So output d depends on
inputs at positions < p(d) alone: an autoregressive model with one pass for all D conditionals.

With ``num_masks = K > 1`` training is order- and connectivity-agnostic (sec. 4): each batch uses one of K
fixed mask sets (cycled), and the model is the uniform mixture over the K (log_prob is
logsumexp_k log p_k(x) - log K, never an average of logits).

With ``direct = True`` the inputs also reach the outputs through one masked linear layer with mask
[p(j) < p(d)], an FVSBN beside the MLP: the authors' code calls it ``direct_input_connect="Output"`` and uses
it for the paper's binarized MNIST results. Without it a 500-unit, one-mask MADE stalls near 94 nats (as
independent reimplementations also find); with it the hidden units only model what a logistic regression on
the earlier pixels cannot.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import Config, NonNegativeFloat, NonNegativeInt, PositiveInt
from genzoo.models.autoregressive.base import BinaryAutoregressiveModel
from genzoo.models.autoregressive.prefix_linear import prefix_blocks, prefix_masked_linear
from genzoo.registry import register_model


@dataclass
class MADEConfig(Config):
    image_shape: tuple[PositiveInt, ...] = (1, 28, 28)
    hidden: NonNegativeInt = 500  # units per hidden layer
    layers: NonNegativeInt = 1  # hidden layers; 0 gives a fully visible sigmoid belief net
    num_masks: PositiveInt = 1  # K: connectivity (and, with order="random", order) agnostic training over K masks
    order: Literal["natural", "random"] = "natural"  # natural: raster order for every mask; random: a random order per mask
    mask_seed: int = 0  # seeds orders and degrees; they are stored with the weights too
    direct: bool = False  # masked input -> output connections (an FVSBN beside the hidden layers)
    weight_l1: NonNegativeFloat = 0.0  # lambda of the training penalty lambda * sum |w| over the masked weight matrices


def made_degrees(num_pixels: int, hidden: int, layers: int, num_masks: int, order: str, seed: int):
    """Positions (K, D) of each pixel in its order, and hidden degrees (K, L, H), as in MADE sec. 4.

    With one mask each layer's degrees are sorted: the units are exchangeable, so this only relabels them, and
    in raster order it makes every mask a staircase whose zero half ``prefix_masked_linear`` skips. (With
    several masks, sorting each mask's degrees would tie a unit's degree across masks; they stay as drawn.)
    """
    if order not in ("natural", "random"):
        raise ValueError(f"order must be 'natural' or 'random', got {order!r}")
    g = torch.Generator().manual_seed(seed)
    positions = torch.empty(num_masks, num_pixels, dtype=torch.long)
    degrees = torch.empty(num_masks, layers, hidden, dtype=torch.long)
    for k in range(num_masks):
        positions[k] = torch.randperm(num_pixels, generator=g) if order == "random" else torch.arange(num_pixels)
        low = 0  # the smallest degree of the layer below, so no unit is left without inputs
        for l in range(layers):
            degrees[k, l] = torch.randint(low, num_pixels - 1, (hidden,), generator=g)
            low = int(degrees[k, l].min())
    if num_masks == 1:
        degrees = degrees.sort(dim=-1).values
    return positions, degrees


def made_masks(positions: torch.Tensor, degrees: torch.Tensor) -> list[torch.Tensor]:
    """Connectivity masks (K, out, in) for every layer, the output layer last."""
    masks, below = [], positions  # (K, units of the layer below): inputs have degree p(d)
    for l in range(degrees.shape[1]):
        masks.append(below[:, None, :] <= degrees[:, l, :, None])  # unit k sees degrees <= m_l(k)
        below = degrees[:, l]
    masks.append(below[:, None, :] < positions[:, :, None])  # output d sees degrees < p(d)
    return masks


@register_model("made")
class MADE(BinaryAutoregressiveModel):
    config_class = MADEConfig
    derived_buffers = ("positions", "degrees")  # from mask_seed; saved with the weights, checked on load

    def __init__(self, config):
        super().__init__(config)
        c = self.made_config()
        if c.layers < 0 or (c.layers > 0 and c.hidden < 1) or c.num_masks < 1:
            raise ValueError(f"MADE needs layers >= 0, hidden >= 1 and num_masks >= 1, got {c}")
        D = self.num_pixels
        sizes = [D] + [c.hidden] * c.layers + [D]
        self.net = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        # with no hidden layer net[0] already is the direct path
        self.direct = nn.Linear(D, D, bias=False) if c.direct and c.layers > 0 else None
        if self.direct is not None:
            nn.init.zeros_(self.direct.weight)  # start as the plain MADE; the data opens the shortcut
        self.num_masks = c.num_masks
        positions, degrees = made_degrees(D, c.hidden, c.layers, c.num_masks, c.order, c.mask_seed)
        # Orders and degrees travel with the weights (small); the (K, out, in) masks are rebuilt from them.
        self.register_buffer("positions", positions)
        self.register_buffer("degrees", degrees)
        self.register_buffer("mask_step", torch.zeros((), dtype=torch.long))  # which mask trains next
        self._dense = False  # True inside dense_form()
        self._build_masks()
        self.register_load_state_dict_pre_hook(_sort_hidden_units)
        self.register_load_state_dict_post_hook(lambda module, _: module._build_masks())

    def made_config(self) -> MADEConfig:
        """The MADE this module is (FVSBN overrides it: a MADE without hidden layers)."""
        return self.config

    def _build_masks(self) -> None:
        # 0/1 in the weights' dtype: weight * mask then runs at the speed of a plain product (a bool mask costs
        # 2-4x more per step through type promotion; bench/peer_training.py), and the product keeps that dtype.
        dtype = self.net[0].weight.dtype
        for i, mask in enumerate(made_masks(self.positions, self.degrees)):
            self.register_buffer(f"mask{i}", mask.to(dtype), persistent=False)
        if getattr(self, "direct", None) is not None:  # output d sees inputs at positions < p(d)
            direct = made_masks(self.positions, self.degrees[:, :0])[0]
            self.register_buffer("mask_direct", direct.to(dtype), persistent=False)
        # per mask, the row blocks of each mask that is a staircase (raster order, sorted degrees), else None
        names = [f"mask{i}" for i in range(len(self.net))] + (["mask_direct"] if self.direct is not None else [])
        natural = [torch.equal(p, torch.arange(len(p), device=p.device)) for p in self.positions]
        self._prefix_blocks = [{name: prefix_blocks(getattr(self, name)[k]) if natural[k] else None for name in names}
                               for k in range(self.num_masks)]

    def masked_weights(self, mask: int) -> list[torch.Tensor]:
        return [layer.weight * getattr(self, f"mask{i}")[mask] for i, layer in enumerate(self.net)]

    def masked_direct_weight(self, mask: int) -> torch.Tensor | None:
        return None if self.direct is None else self.direct.weight * self.mask_direct[mask]  # (D, D)

    def ordering(self, mask: int = 0) -> torch.Tensor:
        return torch.argsort(self.positions[mask])

    def penalty(self) -> torch.Tensor | float:
        """lambda * sum |w| over the weights any mask keeps: an L1 prior that favours sparse dependencies (the
        conditionals of an image are mostly local); it enters the training loss only, never log_prob."""
        lam = self.made_config().weight_l1
        if lam == 0:
            return 0.0
        union = [getattr(self, f"mask{i}").amax(0) for i in range(len(self.net))]
        total = sum((layer.weight * m).abs().sum() for layer, m in zip(self.net, union))
        if self.direct is not None:
            total = total + (self.direct.weight * self.mask_direct.amax(0)).abs().sum()
        return lam * total

    def conditional_logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        h = x  # (B, D)
        for i, layer in enumerate(self.net):
            h = self._masked_linear(h, layer.weight, layer.bias, f"mask{i}", mask)  # (B, H), the output (B, D)
            if i < len(self.net) - 1:
                h = F.relu(h)
        if self.direct is None:
            return h
        return h + self._masked_linear(x, self.direct.weight, None, "mask_direct", mask)

    @contextmanager
    def dense_form(self):
        """Within it every masked layer is the plain ``F.linear(x, weight * mask, bias)``: the reference the
        blocked products are tested and benchmarked against (same function, same gradients)."""
        before, self._dense = self._dense, True
        try:
            yield self
        finally:
            self._dense = before

    def _masked_linear(self, x, weight, bias, mask_name: str, mask: int) -> torch.Tensor:
        """``F.linear(x, weight * mask, bias)``, skipping the zero half of a staircase mask (not under autocast,
        whose casts the blocked form does not make, nor in ``dense_form``)."""
        connectivity, blocks = getattr(self, mask_name)[mask], self._prefix_blocks[mask][mask_name]
        if blocks is not None and not self._dense and not torch.is_autocast_enabled(x.device.type):
            return prefix_masked_linear(x, weight, bias, connectivity, blocks)
        return F.linear(x, weight * connectivity, bias)

    def training_mask(self) -> int:
        if self.num_masks == 1 or not self.training:
            return 0
        mask = int(self.mask_step) % self.num_masks
        self.mask_step += 1
        return mask

    def _sample_incremental(self, u: torch.Tensor, mask: int) -> torch.Tensor:
        """Each unit is computed once, at the step its last input becomes final (one forward of work).

        A unit of degree t depends only on pixels at positions <= t, so after drawing the pixel at position t
        the units of degree t of every layer, in turn, are final; their contribution to the output
        pre-activations is added then. Output d is read at step p(d), when all units of degree < p(d) are in.
        """
        n, D = u.shape
        weights = self.masked_weights(mask)
        direct = self.masked_direct_weight(mask)
        unit_degrees = [self.positions[mask]] + list(self.degrees[mask])  # layer 0 = the pixels
        # groups[l][t]: units of layer l with degree t (pixels: exactly one per position)
        groups = [_group_by_degree(deg, D) for deg in unit_degrees]
        values = [torch.zeros(n, D, device=u.device)] + [torch.zeros(n, len(d), device=u.device) for d in unit_degrees[1:]]
        out = self.net[-1].bias.expand(n, D).clone()  # (n, D) output pre-activations so far
        order = self.ordering(mask).tolist()
        for t, d in enumerate(order):
            values[0][:, d] = (u[:, d] < torch.sigmoid(out[:, d])).to(u.dtype)
            if direct is not None:  # the pixel just drawn reaches later outputs straight away
                out += values[0][:, d, None] * direct[:, d]
            for l in range(1, len(values)):
                units = groups[l][t]
                if units is not None:
                    pre = F.linear(values[l - 1], weights[l - 1][units], self.net[l - 1].bias[units])
                    values[l][:, units] = F.relu(pre).to(values[l].dtype)  # autocast may give bf16
            last = groups[-1][t]
            if last is not None:
                out += values[-1][:, last] @ weights[-1][:, last].T  # (n, |last|) @ (|last|, D)
        return values[0]


def _group_by_degree(degrees: torch.Tensor, num_pixels: int) -> list[torch.Tensor | None]:
    """For t in 0..D-1, the indices of units of degree t (None where there are none)."""
    order = torch.argsort(degrees, stable=True)
    counts = torch.bincount(degrees, minlength=num_pixels).tolist()
    groups, start = [], 0
    for c in counts:
        groups.append(order[start : start + c] if c else None)
        start += c
    return groups


def _sort_hidden_units(module, state_dict, prefix, *_):
    """Load-state-dict pre-hook: a one-mask MADE saved before its degrees were sorted gets its hidden units
    relabeled in sorted order (rows of the layer's weight and bias, columns of the next layer's weight): the
    same function, with the degrees its config now derives."""
    key = prefix + "degrees"
    if module.num_masks != 1 or key not in state_dict:
        return
    degrees = state_dict[key].clone()  # (1, L, H)
    for l in range(degrees.shape[1]):
        order = torch.argsort(degrees[0, l], stable=True)
        degrees[0, l] = degrees[0, l][order]
        for name in ("weight", "bias"):
            state_dict[f"{prefix}net.{l}.{name}"] = state_dict[f"{prefix}net.{l}.{name}"][order]
        state_dict[f"{prefix}net.{l + 1}.weight"] = state_dict[f"{prefix}net.{l + 1}.weight"][:, order]
    state_dict[key] = degrees
