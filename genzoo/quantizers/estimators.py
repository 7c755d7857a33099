"""Gradient estimators through the nearest-code lookup: forward value q, different backward rules.

Both take the encoder output ``e`` and its code ``q`` (rows of shape (N, d)) and return q~ with q~ == q in the
forward pass; they differ in d q~ / d e.
"""
from __future__ import annotations

import torch

EPS = 1e-12


def straight_through(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """q~ = e + sg(q - e) (van den Oord et al. 2017, eq. 3 discussion): d q~ / d e = I."""
    return e + (q - e).detach()


def rotation_trick(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Rotation trick (Fifty et al. 2024, sec. 4.2): q~ = sg(||q|| / ||e|| R) e.

    R = I - 2 r r^T + 2 q^ e^^T with r = (e^ + q^) / ||e^ + q^|| rotates e^ onto q^, so q~ == q, while the
    gradient reaching e is (||q|| / ||e||) R^T times the gradient at q: it keeps the angle between the gradient
    and the codebook vector, unlike the straight-through copy. Computed in O(d) per row:
    R e = e - 2 r (r . e) + 2 q^ (e^ . e), never forming R.

    Degenerate rows: where e = 0 there is no direction to rotate, and those rows fall back to straight-through
    (forward value still q). Where q^ = -e^ the sum e^ + q^ vanishes; r is then taken as 0, which leaves
    R = I - 2 e^ e^^T, the reflection that maps e^ to -e^ = q^ (orthogonal, as R must be).
    """
    e_norm = e.norm(dim=-1, keepdim=True)  # (N, 1)
    q_norm = q.norm(dim=-1, keepdim=True)
    degenerate = e_norm <= EPS
    e_safe_norm = torch.where(degenerate, torch.ones_like(e_norm), e_norm)
    e_hat = (e / e_safe_norm).detach()
    q_hat = (q / q_norm.clamp_min(EPS)).detach()
    s = e_hat + q_hat
    s_norm = s.norm(dim=-1, keepdim=True)
    r = torch.where(s_norm > 1e-6, s / s_norm.clamp_min(EPS), torch.zeros_like(s))
    rotated = e - 2 * r * (r * e).sum(-1, keepdim=True) + 2 * q_hat * (e_hat * e).sum(-1, keepdim=True)
    rotated = rotated * (q_norm / e_safe_norm).detach()
    return torch.where(degenerate, straight_through(e, q), rotated)


ESTIMATORS = {"ste": straight_through, "rotation": rotation_trick}
