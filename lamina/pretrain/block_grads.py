"""Hand-written gradient pieces shared by the two rematerializing block backwards: the single-device
one (remat.ManualBlockFunction) and the tensor + sequence parallel one (tp_block.TPManualBlockFunction).
Pure tensor math, no autograd and no communication."""

from __future__ import annotations

import torch


def rms_parts(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """n = x * r and r = (mean(x^2) + eps)^-1/2, in fp32: rmsnorm(x) = n * g."""
    x32 = x.float()
    r = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)  # (..., 1)
    return x32 * r, r


def rms_norm_backward(
    grad_y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, eps: float, parts=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of y = n * g with n = x * r, r = (mean(x^2) + eps)^-1/2, in fp32:
    dg = sum over tokens of dy * n;  dx = r * (dn - n * mean(dn * n)),  dn = dy * g.
    `parts`: (n, r) from `rms_parts` when the caller already has them. dx comes back in x's dtype,
    dg in weight's dtype."""
    n, r = parts if parts is not None else rms_parts(x, eps)
    dy = grad_y.float()
    dg = (dy * n).reshape(-1, n.shape[-1]).sum(0)
    dn = dy * weight.float()
    dx = r * (dn - n * (dn * n).mean(-1, keepdim=True))
    return dx.to(x.dtype), dg.to(weight.dtype)


def weight_grad(grad_out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
    """dW of y = inp W^T: grad_out^T inp, summed over every token. (out, in)."""
    return grad_out.reshape(-1, grad_out.shape[-1]).t() @ inp.reshape(-1, inp.shape[-1])


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the plain block's matmuls would run in: autocast's when it is on, else x's."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype
