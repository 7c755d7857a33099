"""Gradient estimators: forward values and Jacobians against explicit matrices."""
from __future__ import annotations

import pytest
import torch

from genzoo.quantizers import rotation_trick, straight_through


def explicit_rotation(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """R = I - 2 r r^T + 2 q^ e^^T, r = (e^ + q^) / ||e^ + q^||, built as a d x d matrix."""
    e_hat, q_hat = e / e.norm(), q / q.norm()
    r = (e_hat + q_hat) / (e_hat + q_hat).norm()
    return torch.eye(e.numel(), dtype=e.dtype) - 2 * torch.outer(r, r) + 2 * torch.outer(q_hat, e_hat)


def jacobian(estimator, e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.jacobian(lambda v: estimator(v[None], q[None])[0], e)


@pytest.mark.parametrize("d", [2, 3, 7])
def test_rotation_trick_forward_is_q_and_jacobian_is_scaled_rotation(d):
    g = torch.Generator().manual_seed(d)
    for _ in range(5):
        e, q = torch.randn(d, generator=g, dtype=torch.float64), 3 * torch.randn(d, generator=g, dtype=torch.float64)
        torch.testing.assert_close(rotation_trick(e[None], q[None])[0], q, rtol=0, atol=1e-12)
        R = explicit_rotation(e, q)
        torch.testing.assert_close(jacobian(rotation_trick, e, q), q.norm() / e.norm() * R, rtol=0, atol=1e-12)


@pytest.mark.parametrize("d", [2, 5])
def test_rotation_matrix_is_orthogonal_and_maps_e_hat_to_q_hat(d):
    g = torch.Generator().manual_seed(0)
    e, q = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    R = explicit_rotation(e, q)
    torch.testing.assert_close(R.T @ R, torch.eye(d, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(R @ (e / e.norm()), q / q.norm(), rtol=0, atol=1e-12)


def test_rotation_trick_gradient_is_not_the_straight_through_copy():
    e, q = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 2.0], dtype=torch.float64)
    J = jacobian(rotation_trick, e, q)
    assert not torch.allclose(J, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(J, torch.tensor([[0.0, -2.0], [2.0, 0.0]], dtype=torch.float64))  # 90 deg, x2


def test_straight_through_jacobian_is_identity():
    e, q = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    torch.testing.assert_close(straight_through(e[None], q[None])[0], q)
    torch.testing.assert_close(jacobian(straight_through, e, q), torch.eye(4, dtype=torch.float64))


def test_rotation_trick_is_safe_at_zero_and_antiparallel():
    q = torch.tensor([[1.0, 2.0, -1.0]], dtype=torch.float64)
    zero = torch.zeros_like(q, requires_grad=True)
    out = rotation_trick(zero, q)
    out.sum().backward()
    torch.testing.assert_close(out.detach(), q)
    assert torch.isfinite(zero.grad).all()  # falls back to straight-through: gradient of ones
    torch.testing.assert_close(zero.grad, torch.ones_like(q))

    e = (-0.5 * q).clone().requires_grad_(True)  # q^ = -e^
    out = rotation_trick(e, q)
    torch.testing.assert_close(out.detach(), q, rtol=0, atol=1e-12)
    J = torch.autograd.functional.jacobian(lambda v: rotation_trick(v, q)[0], e.detach())[:, 0, :]
    R = J / (q.norm() / e.detach().norm())
    torch.testing.assert_close(R.T @ R, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-12)  # orthogonal
