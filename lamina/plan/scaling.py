"""Chinchilla's parametric loss and the optima `lamina plan` reports.

Approach 3 of Hoffmann et al. 2022 fits the final pretraining loss of a model of N parameters trained
on D tokens as

    L(N, D) = E + A / N^alpha + B / D^beta          training compute C = 6 N D FLOPs

Everything here is pure arithmetic on floats (no numpy, no torch):
- `compute_optimal(C)`: the closed form of argmin_{6ND = C} L, with G = (alpha A / (beta B))^(1/(alpha+beta)):
  N* = G (C/6)^(beta/(alpha+beta)), D* = (C/6) / N*. Its loss is E + K (C/6)^-gamma with
  gamma = alpha beta / (alpha + beta), so `compute_for_loss` inverts it in closed form too.
- `inference_optimal(loss, served)`: the LLaMA view (formalised by Sardana & Frankle 2023, "Beyond
  Chinchilla-Optimal"): the (N, D) that reaches `loss` at the lowest lifetime cost, training 6ND plus
  inference 2N per served token. Found by bisection on the first-order condition in log N.
- `smallest_model(C, loss)`: the smallest N that reaches `loss` within training compute C (it spends
  all of C: D = C / 6N); bisection on the left branch of L(N, C/6N), which is convex in log N.

N is every parameter of the model (our `ModelConfig.num_params()`); the fit does not distinguish, and
the input embedding is under 4% of N from 7B up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalingFit:
    name: str  # where the constants come from
    E: float  # irreducible loss (nats per token)
    A: float  # parameter term coefficient
    B: float  # data term coefficient
    alpha: float  # parameter exponent
    beta: float  # data exponent

    def __post_init__(self) -> None:
        for key in ("A", "B", "alpha", "beta"):
            if not getattr(self, key) > 0:
                raise ValueError(f"scaling fit {self.name!r}: {key} must be > 0, got {getattr(self, key)}")

    def loss(self, n: float, d: float) -> float:
        """Predicted final loss of N parameters trained on D tokens."""
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    @property
    def G(self) -> float:
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    @property
    def a(self) -> float:
        """N* grows as C^a."""
        return self.beta / (self.alpha + self.beta)

    @property
    def gamma(self) -> float:
        """L*(C) - E falls as C^-gamma."""
        return self.alpha * self.beta / (self.alpha + self.beta)

    @property
    def K(self) -> float:
        """L*(C) = E + K (C/6)^-gamma."""
        return self.A * self.G**-self.alpha + self.B * self.G**self.beta


FITS: dict[str, ScalingFit] = {
    # Hoffmann et al. 2022 (Chinchilla), approach 3, as published (docs/plan.md, "The fit").
    "chinchilla": ScalingFit("chinchilla", E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28),
    # Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt": approach 3 refitted on the
    # paper's own data; about 20 tokens per parameter at the optimum, like approaches 1 and 2.
    "epoch": ScalingFit("epoch", E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658),
}


@dataclass(frozen=True)
class Point:
    """A model size and token count with its training compute (6ND) and predicted loss."""

    n: float  # parameters
    d: float  # training tokens
    loss: float  # L(N, D)

    @property
    def compute(self) -> float:
        return 6.0 * self.n * self.d

    def to_dict(self) -> dict:
        return {
            "params": self.n,
            "tokens": self.d,
            "compute_flops": self.compute,
            "loss": self.loss,
            "tokens_per_param": self.d / self.n,
        }


def point(fit: ScalingFit, n: float, d: float) -> Point:
    return Point(n, d, fit.loss(n, d))


def compute_optimal(fit: ScalingFit, compute: float) -> Point:
    """Closed form of approach 3: the (N, D) with 6ND = `compute` that minimises L."""
    if not compute > 0:
        raise ValueError(f"compute must be > 0 FLOPs, got {compute}")
    n = fit.G * (compute / 6.0) ** fit.a
    return point(fit, n, compute / 6.0 / n)


def optimal_compute_for_params(fit: ScalingFit, n: float) -> float:
    """The compute at which `n` parameters is compute-optimal (inverse of N*(C))."""
    return 6.0 * (n / fit.G) ** (1.0 / fit.a)


def optimal_compute_for_tokens(fit: ScalingFit, d: float) -> float:
    """The compute at which `d` tokens is compute-optimal (D*(C) = G^-1 (C/6)^(1-a))."""
    return 6.0 * (d * fit.G) ** (1.0 / (1.0 - fit.a))


def compute_for_loss(fit: ScalingFit, loss: float) -> float:
    """The least training compute whose compute-optimal model reaches `loss` (closed form)."""
    _check_loss(fit, loss)
    return 6.0 * (fit.K / (loss - fit.E)) ** (1.0 / fit.gamma)


def tokens_for_loss(fit: ScalingFit, n: float, loss: float) -> float:
    """Tokens that `n` parameters need to reach `loss`; inf when the model is too small to ever get there."""
    room = loss - fit.E - fit.A / n**fit.alpha
    return math.inf if room <= 0 else (fit.B / room) ** (1.0 / fit.beta)


def _check_loss(fit: ScalingFit, loss: float) -> None:
    if not loss > fit.E:
        raise ValueError(
            f"target loss {loss} is not above the fit's irreducible loss E = {fit.E} ({fit.name}): "
            "no model reaches it"
        )


def _bisect(f, lo: float, hi: float, iters: int = 200) -> float:
    """A root of `f` in [lo, hi] where f(lo) < 0 <= f(hi), to float precision."""
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, abs(mid)):
            break
    return hi  # the side where f >= 0 (a loss reached, a slope turned)


def inference_optimal(fit: ScalingFit, loss: float, served_tokens: float) -> Point:
    """The (N, D) reaching `loss` at the least lifetime FLOPs 6ND + 2N * served_tokens.

    Along the iso-loss curve D(N) = (B / (loss - E - A N^-alpha))^(1/beta); d/dN of the cost is
    6D (1 - (alpha/beta) x/u) + 2I with x = A N^-alpha and u = loss - E - x: it runs from -inf (at the
    smallest N that can reach the loss) to 6 D(inf) + 2I > 0, and its root is the optimum. With
    served_tokens = 0 this is the compute-optimal model for that loss.
    """
    _check_loss(fit, loss)
    if served_tokens < 0:
        raise ValueError(f"served tokens must be >= 0, got {served_tokens}")
    room = loss - fit.E
    log_n_min = math.log(fit.A / room) / fit.alpha  # below this N the loss is out of reach

    def slope(log_n: float) -> float:
        x = fit.A * math.exp(-fit.alpha * log_n)
        u = room - x
        if u <= 0:
            return -math.inf
        d = (fit.B / u) ** (1.0 / fit.beta)
        return 6.0 * d * (1.0 - (fit.alpha / fit.beta) * x / u) + 2.0 * served_tokens

    lo, hi = log_n_min, log_n_min + 1.0
    while slope(hi) < 0:
        hi += 1.0
    n = math.exp(_bisect(slope, lo, hi))
    return point(fit, n, tokens_for_loss(fit, n, loss))


def lifetime_flops(p: Point, served_tokens: float) -> float:
    """Training 6ND + inference 2N per served token (attention's share of inference left out)."""
    return p.compute + 2.0 * p.n * served_tokens


def smallest_model(fit: ScalingFit, compute: float, loss: float) -> Point | None:
    """The smallest model that reaches `loss` within training compute `compute`, trained on the whole
    budget (D = C / 6N); None when even the compute-optimal model at `compute` falls short."""
    _check_loss(fit, loss)
    best = compute_optimal(fit, compute)
    if best.loss > loss:
        return None

    def excess(log_n: float) -> float:  # decreasing in log N left of the optimum
        n = math.exp(log_n)
        return loss - fit.loss(n, compute / 6.0 / n)

    lo = math.log(fit.A / (loss - fit.E)) / fit.alpha  # the parameter term alone already exceeds
    n = math.exp(_bisect(excess, lo, math.log(best.n)))
    return point(fit, n, compute / 6.0 / n)
