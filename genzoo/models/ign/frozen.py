"""Applications of a network whose parameters take no gradient and whose buffers do not move: the frozen
copies of IGN's objective and the critic a GAN's generator is scored by, without a second copy of the network
kept in sync (``torch.func.functional_call`` on detached parameters)."""
from __future__ import annotations

from torch import nn
from torch.func import functional_call


def frozen_call(module: nn.Module, *args):
    """``module(*args)`` as a function of ``args`` only: the parameters are detached (no gradient reaches
    them; gradients still flow to ``args``) and the buffers are copies (running statistics, spectral norm's
    power-iteration vectors stay as they are)."""
    state = {name: p.detach() for name, p in module.named_parameters()}
    state.update({name: b.clone() for name, b in module.named_buffers()})
    return functional_call(module, state, args)


def call_with_gradient_scales(module: nn.Module, x):
    """``module(x)`` through aliases of ``x`` and of every parameter, so that the gradient of this one
    application can be scaled per path after the forward (when the scale is known):

        y, scale = call_with_gradient_scales(f, x)
        scale(parameters=s_p, inputs=s_x)   # before backward: this pass's parameter gradients times s_p,
                                            # the gradient it sends back to x times s_x

    The other applications of ``module`` in the same graph keep their gradients: the hooks sit on this pass's
    aliases, not on the parameters.
    """
    aliases = {name: p.view_as(p) for name, p in module.named_parameters()}
    x_alias = x.view_as(x)
    y = functional_call(module, aliases, (x_alias,))

    def scale(parameters, inputs) -> None:
        for alias in aliases.values():
            if alias.requires_grad:
                alias.register_hook(lambda grad: grad * parameters)
        if x_alias.requires_grad:
            x_alias.register_hook(lambda grad: grad * inputs)

    return y, scale
