"""The Chinchilla fit's optima against direct numerical minimisation (scipy), and the LLaMA view: with an
inference volume the lifetime-optimal model is smaller and trained on more tokens."""

from __future__ import annotations

import math

import pytest
from scipy.optimize import minimize_scalar

from lamina.plan import scaling

FITS = list(scaling.FITS.values())
COMPUTES = [1e19, 1e21, 5.76e23, 1e25, 1e27]  # 5.76e23: Chinchilla's own budget


def _numeric_optimum(fit: scaling.ScalingFit, compute: float) -> float:
    """argmin over N of L(N, C / 6N), by bounded Brent search in log N (no use of the closed form)."""
    res = minimize_scalar(
        lambda t: fit.loss(math.exp(t), compute / 6.0 / math.exp(t)),
        bounds=(math.log(1e3), math.log(compute / 6.0 / 1e3)),
        method="bounded",
        options={"xatol": 1e-10, "maxiter": 2000},
    )
    assert res.success
    return math.exp(res.x)


@pytest.mark.parametrize("fit", FITS, ids=lambda f: f.name)
@pytest.mark.parametrize("compute", COMPUTES)
def test_closed_form_equals_numerical_minimisation(fit, compute):
    closed = scaling.compute_optimal(fit, compute)
    n_num = _numeric_optimum(fit, compute)
    assert closed.n == pytest.approx(n_num, rel=1e-4)
    assert closed.compute == pytest.approx(compute, rel=1e-12)
    # The closed form is the minimum: no numerically found N does better, and neighbours do worse.
    assert closed.loss <= fit.loss(n_num, compute / 6.0 / n_num) + 1e-12
    for factor in (0.9, 1.1):
        n = closed.n * factor
        assert fit.loss(n, compute / 6.0 / n) > closed.loss


@pytest.mark.parametrize("fit", FITS, ids=lambda f: f.name)
def test_compute_for_loss_inverts_the_frontier(fit):
    for compute in COMPUTES:
        loss = scaling.compute_optimal(fit, compute).loss
        assert scaling.compute_for_loss(fit, loss) == pytest.approx(compute, rel=1e-9)
    n = 7e9
    assert scaling.compute_optimal(fit, scaling.optimal_compute_for_params(fit, n)).n == pytest.approx(n)
    d = 1e12
    assert scaling.compute_optimal(fit, scaling.optimal_compute_for_tokens(fit, d)).d == pytest.approx(d)


@pytest.mark.parametrize("fit", FITS, ids=lambda f: f.name)
@pytest.mark.parametrize("compute", [1e21, 5.76e23, 1e25])
def test_inference_volume_gives_smaller_model_on_more_tokens(fit, compute):
    chin = scaling.compute_optimal(fit, compute)
    # No inference: the lifetime optimum at that loss is Chinchilla's point.
    zero = scaling.inference_optimal(fit, chin.loss, 0.0)
    assert zero.n == pytest.approx(chin.n, rel=1e-6) and zero.d == pytest.approx(chin.d, rel=1e-6)
    previous = chin
    for served in (chin.d / 10, chin.d, 10 * chin.d, 100 * chin.d):
        best = scaling.inference_optimal(fit, chin.loss, served)
        assert best.loss == pytest.approx(chin.loss, abs=1e-9)  # same quality
        assert best.n < previous.n and best.d > previous.d  # smaller and longer, more so as I grows
        assert scaling.lifetime_flops(best, served) < scaling.lifetime_flops(chin, served)
        # It is the minimum of lifetime FLOPs along the iso-loss curve (scipy, in log N).
        log_n_min = math.log(fit.A / (chin.loss - fit.E)) / fit.alpha

        def cost(t, served=served):
            n = math.exp(t)
            return 6 * n * scaling.tokens_for_loss(fit, n, chin.loss) + 2 * n * served

        res = minimize_scalar(
            cost, bounds=(log_n_min + 1e-9, math.log(chin.n) + 1), method="bounded", options={"xatol": 1e-10}
        )
        assert best.n == pytest.approx(math.exp(res.x), rel=1e-3)
        assert scaling.lifetime_flops(best, served) <= cost(res.x) * (1 + 1e-9)
        previous = best


@pytest.mark.parametrize("fit", FITS, ids=lambda f: f.name)
def test_smallest_model_for_a_target_loss(fit):
    compute = 1e23
    best = scaling.compute_optimal(fit, compute)
    target = best.loss + 0.02
    small = scaling.smallest_model(fit, compute, target)
    assert small.compute == pytest.approx(compute)
    assert small.loss <= target + 1e-12 and small.n < best.n
    n = small.n * 0.99  # 1% smaller on the whole budget misses the target
    assert fit.loss(n, compute / 6.0 / n) > target
    assert scaling.smallest_model(fit, compute, best.loss - 0.01) is None  # beyond the budget
    with pytest.raises(ValueError, match="irreducible"):
        scaling.smallest_model(fit, compute, fit.E)
