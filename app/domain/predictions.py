"""Customer-lifetime predictions: BG/NBD purchase counts, Gamma-Gamma spend, 365-day CLV.

Layer: domain (pure numerics, numpy/scipy). Money enters and leaves as `Decimal`. Every prediction
is finite for valid input, one-time buyers and one-customer shops included.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.integrate import quad
from scipy.linalg import eigh_tridiagonal
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1, xlog1py, xlogy

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike
Confidence = Literal["high", "medium", "low"]
ModelSource = Literal["fitted", "prior_blended"]

DEFAULT_PERIOD_DAYS = 7.0
DEFAULT_HORIZON_DAYS = 365
# An annual rate in the range commonly used for retail CLV; merchants may pass their own.
DEFAULT_ANNUAL_DISCOUNT_RATE = 0.10
CLV_SLICES_PER_HORIZON = 12

# When a shop's own fit is trusted. 500 customers and 180 days is the bar Klaviyo sets before it
# shows predictions at all; from 200 customers, 30 repeat buyers (who carry all the information
# about dropout) and 90 days, the fitted model is still used but labelled medium confidence.
HIGH_CONFIDENCE_CUSTOMERS = 500
HIGH_CONFIDENCE_REPEAT_BUYERS = 100
HIGH_CONFIDENCE_HISTORY_DAYS = 180
FITTED_MODEL_CUSTOMERS = 200
FITTED_MODEL_REPEAT_BUYERS = 30
FITTED_MODEL_HISTORY_DAYS = 90

# Priors for shops too small to fit alone: the published CDNOW estimates, in weeks, of Fader,
# Hardie & Lee (2005a, BG/NBD) and of the Gamma-Gamma fit to the same customers (Fader & Hardie
# 2013). Each log-parameter gets a normal prior with this standard deviation, wide enough (a
# factor of e either way at one sd) that a shop's own orders soon outweigh it.
PRIOR_BGNBD_WEEKS = (0.243, 4.414, 0.793, 2.426)
PRIOR_GAMMA_GAMMA_SHAPE = (6.25, 3.74)
PRIOR_LOG_SD = 1.0

# Optimiser box on every log-parameter; a fit that ends on it has not found an interior optimum.
_LOG_PARAMETER_BOUND = 15.0
# The BG/NBD conditional expectation has a removable singularity at a = 1 (eq. 10 divides by a-1).
_SINGULARITY_GAP = 1e-6
# A year's horizon (52 weekly periods) halved 26 times: the date is exact to under a second.
_NEXT_PURCHASE_BISECTIONS = 26
# Where the closed form fails, a Gauss rule for the dropout posterior with this many nodes is
# checked against one with twice as many; values on which they differ by more than the relative
# tolerance are integrated adaptively instead.
_GAUSS_RULE_NODES = 40
_GAUSS_RULE_AGREEMENT = 1e-9
# Below this p·t/(alpha+T) (times r+x+1) the purchases given dropout p are (r+x) t/(alpha+T)
# to double precision.
_LINEAR_PURCHASES = 1e-17
# full_output returns quadrature diagnostics instead of warning; the result is still its best.
_QUADRATURE: dict[str, Any] = {"epsabs": 0.0, "epsrel": 1e-10, "limit": 200, "full_output": 1}
# Keeps the spend prior's scale positive for shops whose orders so far net to nothing.
_SMALLEST_PRIOR_ORDER_VALUE = 0.01
# The generator of the random fit sample, fixed so that a rerun fits on the same customers.
FIT_SAMPLE_SEED = 20_050_101


class ModelFitError(ValueError):
    """The likelihood could not be maximised to an interior, finite optimum."""


@dataclass(frozen=True)
class Transaction:
    """One order: who, when (timezone-aware) and how much."""

    customer_id: int
    ordered_at: datetime
    amount: Decimal


@dataclass(frozen=True)
class CustomerSummary:
    """A customer's history up to `as_of` in the models' terms (Fader, Hardie & Lee 2005a).

    Orders on the same UTC day count as one purchase. `frequency` is the number of repeat
    purchases, `recency` the customer's age at the last purchase and `T` their age at `as_of`,
    both in periods. `monetary_value` is the mean repeat-purchase value (0 without repeats).
    """

    customer_id: int
    frequency: int
    recency: float
    T: float
    monetary_value: Decimal
    total_spent: Decimal


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD: purchase rates ~ Gamma(r, alpha); dropout probabilities ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma: spend per order ~ Gamma(p, nu); nu ~ Gamma(q, v) across customers."""

    p: float
    q: float
    v: float


@dataclass(frozen=True)
class CustomerPrediction:
    """One customer's outlook over the horizon; `expected_next_order_at` None if not expected."""

    customer_id: int
    probability_alive: float
    expected_purchases: float
    expected_next_order_at: datetime | None
    expected_average_spend: Decimal
    predicted_clv: Decimal
    historic_spend: Decimal


@dataclass(frozen=True)
class ShopModel:
    """The models chosen for a shop, how far to trust them, and how many customers they were
    fitted on (`fitted_on`: every customer, or the random sample). `bgnbd` and `gamma_gamma`
    are None only for a shop without orders."""

    confidence: Confidence
    reason: Mapping[str, Any]
    model: ModelSource
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    customer_count: int
    repeat_buyers: int
    history_days: int
    fitted_on: int


@dataclass(frozen=True)
class ShopPredictions(ShopModel):
    """A shop's predictions: the models chosen (`ShopModel`: how they were made and how far to
    trust them) and every customer's outlook at `as_of`.

    `model` is "fitted" when both models were fitted to the shop alone, "prior_blended" when
    both started from the priors. `reason` explains the confidence to the merchant in no
    language: a message key and its numbers (`{"key": "medium", "params": {...}}`), put into
    words at display (`app.i18n.confidence_reason`). `bgnbd` and `gamma_gamma` are None only
    for a shop without orders.
    """

    as_of: datetime
    period_days: float
    horizon_days: int
    annual_discount_rate: float
    customers: tuple[CustomerPrediction, ...]


def summarise(
    transactions: Iterable[Transaction],
    as_of: datetime,
    period_days: float = DEFAULT_PERIOD_DAYS,
) -> tuple[CustomerSummary, ...]:
    """Per-customer frequency, recency, T and mean repeat spend, ordered by customer id.

    Orders after `as_of` are ignored, so a past `as_of` gives a calibration-period summary.
    Durations count whole days between UTC dates, as in the day-stamped data of the papers.
    """
    _require_aware(as_of, "as_of")
    if period_days <= 0:
        raise ValueError("period_days must be positive")
    spend_by_day: dict[int, dict[date, Decimal]] = {}
    for transaction in transactions:
        _require_aware(transaction.ordered_at, "ordered_at")
        if transaction.ordered_at > as_of:
            continue
        days = spend_by_day.setdefault(transaction.customer_id, {})
        day = _utc_date(transaction.ordered_at)
        days[day] = days.get(day, Decimal(0)) + transaction.amount

    as_of_day = _utc_date(as_of)
    summaries = []
    for customer_id in sorted(spend_by_day):
        days = spend_by_day[customer_id]
        ordered_days = sorted(days)
        first, last = ordered_days[0], ordered_days[-1]
        repeat_values = [days[day] for day in ordered_days[1:]]
        summaries.append(
            CustomerSummary(
                customer_id=customer_id,
                frequency=len(repeat_values),
                recency=(last - first).days / period_days,
                T=(as_of_day - first).days / period_days,
                monetary_value=(
                    sum(repeat_values, Decimal(0)) / len(repeat_values)
                    if repeat_values
                    else Decimal(0)
                ),
                total_spent=sum(days.values(), Decimal(0)),
            )
        )
    return tuple(summaries)


def bgnbd_log_likelihood(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """Each customer's BG/NBD log-likelihood (Fader, Hardie & Lee 2005a, eq. 6)."""
    x, t_x, age = _customer_arrays(frequency, recency, T)
    return _bgnbd_log_likelihood(np.log([params.r, params.alpha, params.a, params.b]), x, t_x, age)


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    prior: BgNbdParams | None = None,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters (eq. 6), or the posterior mode given `prior`.

    Optimises log-parameters so all four stay positive. With `prior`, each log-parameter has a
    normal prior centred on the prior's value (sd `PRIOR_LOG_SD`). Raises ModelFitError when no
    interior optimum is found, for example when nobody has repeat purchases and there is no prior.
    """
    x, t_x, age = _customer_arrays(frequency, recency, T)
    if prior is None and not np.any(x > 0):
        # Without a repeat purchase the likelihood does not depend on a or b at all.
        raise ModelFitError("dropout cannot be estimated without repeat purchases")
    if np.any(t_x > age) or np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be within [0, T] and 0 for customers without repeats")
    centre = None if prior is None else np.log([prior.r, prior.alpha, prior.a, prior.b])

    def objective(log_params: FloatArray) -> float:
        return -float(np.sum(_bgnbd_log_likelihood(log_params, x, t_x, age)))

    start = np.zeros(4) if centre is None else centre
    r, alpha, a, b = _maximise(objective, start=start, centre=centre, size=x.size)
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b)


def expected_purchases(
    params: BgNbdParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Expected purchases in the next `t` periods given each customer's history (eq. 10).

    The hypergeometric term is evaluated after Euler's transformation,
    (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z) with c = a+b+x-1,
    whose parameters do not grow with x. Where scipy's 2F1 still fails (nan for some large c
    with z near 1, or for a large r) or the value breaks the bound
    E ≤ P(alive) (r+x) t / (alpha+T), the same expectation is taken over the customer's dropout
    probability instead: by Gauss quadrature for its beta posterior, checked against a rule
    twice as fine, and by adaptive integration where the two disagree.
    """
    x, t_x, age = _customer_arrays(frequency, recency, T)
    horizon = np.asarray(t, dtype=np.float64)
    if np.any(horizon < 0):
        raise ValueError("t must not be negative")
    shape = np.broadcast_shapes(horizon.shape, x.shape)
    if horizon.ndim == 0:
        x, t_x, age = (np.broadcast_to(v, shape).ravel() for v in (x, t_x, age))
        expected = _expected_purchases(params, float(horizon), x, t_x, age, _Pairs(x, age))
    else:
        horizon, x, t_x, age = (np.broadcast_to(v, shape).ravel() for v in (horizon, x, t_x, age))
        expected = _expected_purchases(params, horizon, x, t_x, age)
    return np.asarray(expected.reshape(shape), dtype=np.float64)


class _Pairs:
    """The distinct (x, T) pairs of a set of customers and each customer's pair.

    What an alive customer is expected to buy depends on x and T alone, and a million customers
    hold a few thousand distinct pairs: it is computed once per pair (`_expected_purchases`).
    """

    def __init__(self, x: FloatArray, age: FloatArray) -> None:
        order = np.lexsort((age, x))
        xs, ages = x[order], age[order]
        first = np.ones(xs.size, dtype=bool)
        first[1:] = (xs[1:] != xs[:-1]) | (ages[1:] != ages[:-1])
        self.x, self.age = xs[first], ages[first]
        self.inverse = np.empty(xs.size, dtype=np.intp)
        self.inverse[order] = np.cumsum(first) - 1


def _expected_purchases(
    params: BgNbdParams,
    horizon: float | FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    pairs: _Pairs | None = None,
    alive: FloatArray | None = None,
) -> FloatArray:
    """`expected_purchases` on flat arrays; with `pairs` (of these customers, for one scalar
    `horizon`) the expectation if alive is computed once per distinct pair, and `alive` spares
    recomputing P(alive) when it is already known."""
    if pairs is not None:
        if_alive = _bounded_if_alive(params, horizon, pairs.x, pairs.age)[pairs.inverse]
    else:
        if_alive = _bounded_if_alive(params, horizon, x, age)
    if alive is None:
        alive = probability_alive(params, x, t_x, age)
    return np.asarray(if_alive * alive, dtype=np.float64)


def _bounded_if_alive(
    params: BgNbdParams, horizon: float | FloatArray, x: FloatArray, age: FloatArray
) -> FloatArray:
    """Expected purchases in `horizon` of customers still alive, within [0, the bound]."""
    if_alive = _expected_purchases_if_alive(params, np.asarray(horizon), x, age)
    # (1 - e^(-λpt)) / p ≤ λt, averaged over the posterior rate of an alive customer.
    ceiling = (params.r + x) / (params.alpha + age) * horizon
    slack = 1e-9 * ceiling
    suspect = np.flatnonzero(
        ~np.isfinite(if_alive) | (if_alive < -slack) | (if_alive > ceiling + slack)
    )
    if suspect.size:
        horizons = np.broadcast_to(np.asarray(horizon, dtype=np.float64), x.shape)[suspect]
        values, settled = _expected_purchases_if_alive_by_gauss_rules(
            params, horizons, x[suspect], age[suspect]
        )
        if_alive[suspect] = values
        for i in np.flatnonzero(~settled):
            if_alive[suspect[i]] = _expected_purchases_if_alive_by_integration(
                params, float(horizons[i]), float(x[suspect[i]]), float(age[suspect[i]])
            )
    return np.asarray(np.clip(if_alive, 0.0, ceiling), dtype=np.float64)


def probability_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(still active | history) under BG/NBD (Fader, Hardie & Lee 2008, "Computing P(alive)
    Using the BG/NBD Model").

    BG/NBD lets a customer drop out only right after a purchase, so anyone without repeat
    purchases is alive with probability 1; their fading outlook shows in `expected_purchases`.
    """
    x, t_x, age = _customer_arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    # log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x), kept in logs so old customers never
    # overflow; b + max(x, 1) - 1 keeps the unused x = 0 branch away from log(b - 1).
    log_odds_dead = (
        math.log(a)
        - np.log(b + np.maximum(x, 1.0) - 1.0)
        + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
    )
    alive = np.where(x > 0, expit(-log_odds_dead), 1.0)
    return np.asarray(alive, dtype=np.float64)


def expected_time_to_next_purchase(
    params: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    horizon: float,
) -> FloatArray:
    """Periods until each customer's expected purchase count reaches one, `inf` beyond `horizon`.

    This is the expected next order date: the first t with E[Y(t) | history] = 1 (eq. 10). For a
    customer likely to have dropped out the expectation may never reach one; they get `inf`.
    """
    x, t_x, age = _customer_arrays(frequency, recency, T)
    if horizon <= 0:
        raise ValueError("horizon must be positive")
    shape = x.shape
    x, t_x, age = x.ravel(), t_x.ravel(), age.ravel()
    periods = _time_to_next_purchase(params, x, t_x, age, horizon, _Pairs(x, age))
    return periods.reshape(shape)


def _time_to_next_purchase(
    params: BgNbdParams,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    horizon: float,
    pairs: _Pairs,
    alive: FloatArray | None = None,
) -> FloatArray:
    alive = probability_alive(params, x, t_x, age) if alive is None else alive
    reaches = _expected_purchases(params, horizon, x, t_x, age, pairs, alive) >= 1.0
    # Only those who reach one purchase within the horizon are searched, each distinct history
    # (x, t_x, T) once: customers alike in it take the same path.
    histories = np.stack([x[reaches], t_x[reaches], age[reaches]], axis=1)
    distinct, inverse = np.unique(histories, axis=0, return_inverse=True)
    x, t_x, age = distinct[:, 0].copy(), distinct[:, 1].copy(), distinct[:, 2].copy()
    alive = probability_alive(params, x, t_x, age)
    low = np.zeros_like(x)
    high = np.full_like(x, horizon)
    # E[Y(t)] rises with t, so bisection on [0, horizon] converges for every customer at once.
    for _ in range(_NEXT_PURCHASE_BISECTIONS):
        middle = (low + high) / 2.0
        below_one = _expected_purchases(params, middle, x, t_x, age, alive=alive) < 1.0
        low = np.where(below_one, middle, low)
        high = np.where(below_one, high, middle)
    periods = np.full(reaches.shape, np.inf, dtype=np.float64)
    periods[reaches] = high[np.ravel(inverse)]
    return periods


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """Each repeat buyer's log-likelihood of their mean repeat spend m̄ over x purchases.

    The marginal density of m̄ in Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary
    Value". Only customers with frequency > 0 and positive mean spend are included.
    """
    x, spend = _spend_arrays(frequency, monetary)
    return _gamma_gamma_log_likelihood(
        np.array([math.log(params.p), math.log(params.q - 1.0), math.log(params.v)]), x, spend
    )


def fit_gamma_gamma(
    frequency: ArrayLike,
    monetary: ArrayLike,
    *,
    prior: GammaGammaParams | None = None,
) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters, or the posterior mode given `prior`.

    Fitted on repeat buyers with positive mean repeat spend only. q is kept above 1 (q = 1 +
    e^θ), because the population mean spend pv/(q-1) that predictions shrink towards exists only
    there. Raises ModelFitError when no interior optimum is found.
    """
    x, spend = _spend_arrays(frequency, monetary)
    if prior is None and x.size == 0:
        raise ModelFitError("no repeat buyers with positive spend to fit")
    centre = (
        None
        if prior is None
        else np.array([math.log(prior.p), math.log(prior.q - 1.0), math.log(prior.v)])
    )
    # Without a prior, start with p = 1 and q = 2, so that v is the population mean pv/(q-1)
    # and can start at the observed mean spend.
    start = np.array([0.0, 0.0, math.log(float(np.mean(spend)))]) if centre is None else centre

    def objective(log_params: FloatArray) -> float:
        return -float(np.sum(_gamma_gamma_log_likelihood(log_params, x, spend)))

    p, q_minus_one, v = _maximise(objective, start=start, centre=centre, size=x.size)
    return GammaGammaParams(p=p, q=1.0 + q_minus_one, v=v)


def expected_average_spend(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """Expected spend per future order, E(M | p, q, v, m̄, x) (Fader & Hardie 2013, eq. 5).

    A weighted mean of the population mean pv/(q-1) and the customer's own mean repeat spend,
    the latter weighing more with every repeat purchase. Customers without repeats, or whose
    repeats net to no spend, get the population mean.
    """
    x = np.asarray(frequency, dtype=np.float64)
    spend = np.asarray(monetary, dtype=np.float64)
    informative = _repeat_spenders(x, spend)
    x = np.where(informative, x, 0.0)
    spend = np.where(informative, spend, 0.0)
    p, q, v = params.p, params.q, params.v
    return np.asarray(p * (v + x * spend) / (p * x + q - 1.0), dtype=np.float64)


def clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    *,
    period_days: float = DEFAULT_PERIOD_DAYS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
) -> FloatArray:
    """Discounted expected revenue per customer over `horizon_days` (365 by default).

    The horizon is cut into `CLV_SLICES_PER_HORIZON` equal slices; the purchases expected in each
    slice (differences of eq. 10) are valued at the expected spend per order and discounted from
    the end of the slice at `annual_discount_rate` per 365 days. Margin is not deducted.
    """
    if annual_discount_rate <= -1.0:
        raise ValueError("annual_discount_rate must be above -100%")
    x, t_x, age = _customer_arrays(frequency, recency, T)
    spend = np.broadcast_to(np.asarray(monetary, dtype=np.float64), x.shape).ravel()
    shape = x.shape
    x, t_x, age = x.ravel(), t_x.ravel(), age.ravel()
    value = _clv(
        bgnbd,
        gamma_gamma,
        x,
        t_x,
        age,
        spend,
        _Forecast(period_days, horizon_days, annual_discount_rate),
        _Pairs(x, age),
    )
    return value.reshape(shape)


@dataclass(frozen=True)
class _Forecast:
    """How far ahead predictions look, and how future revenue is discounted."""

    period_days: float = DEFAULT_PERIOD_DAYS
    horizon_days: int = DEFAULT_HORIZON_DAYS
    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE


def _clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    monetary: FloatArray,
    forecast: _Forecast,
    pairs: _Pairs,
    alive: FloatArray | None = None,
) -> FloatArray:
    alive = probability_alive(bgnbd, x, t_x, age) if alive is None else alive
    spend = expected_average_spend(gamma_gamma, x, monetary)
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for slice_index in range(1, CLV_SLICES_PER_HORIZON + 1):
        end_days = forecast.horizon_days * slice_index / CLV_SLICES_PER_HORIZON
        cumulative = _expected_purchases(
            bgnbd, end_days / forecast.period_days, x, t_x, age, pairs, alive
        )
        discount = (1.0 + forecast.annual_discount_rate) ** (end_days / 365.0)
        total += (cumulative - previous) / discount
        previous = cumulative
    return np.asarray(total * spend, dtype=np.float64)


def prior_bgnbd(period_days: float = DEFAULT_PERIOD_DAYS) -> BgNbdParams:
    """The CDNOW BG/NBD estimates expressed in periods of `period_days` days.

    Purchase rates scale with the period length, so the gamma rate parameter alpha (in periods)
    is the weekly value times 7 / period_days; r, a and b carry no unit.
    """
    r, alpha_weeks, a, b = PRIOR_BGNBD_WEEKS
    return BgNbdParams(r=r, alpha=alpha_weeks * 7.0 / period_days, a=a, b=b)


def prior_gamma_gamma(average_order_value: float) -> GammaGammaParams:
    """The CDNOW Gamma-Gamma shape, scaled so the population mean spend is the shop's AOV."""
    p, q = PRIOR_GAMMA_GAMMA_SHAPE
    return GammaGammaParams(p=p, q=q, v=average_order_value * (q - 1.0) / p)


def predict_shop(
    transactions: Iterable[Transaction],
    as_of: datetime,
    *,
    period_days: float = DEFAULT_PERIOD_DAYS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
    fit_sample: int | None = None,
) -> ShopPredictions:
    """Predict every customer of a shop, picking the model its history can support.

    The shop's own maximum-likelihood fit is used from `FITTED_MODEL_CUSTOMERS` customers,
    `FITTED_MODEL_REPEAT_BUYERS` repeat buyers and `FITTED_MODEL_HISTORY_DAYS` days of orders
    (confidence "high" from the `HIGH_CONFIDENCE_*` levels, "medium" below). Smaller shops, and
    fits without an interior optimum, get the posterior mode under the CDNOW-based priors with
    spend centred on the shop's average order value: confidence "low". With `fit_sample`, a shop
    with more customers is fitted on that many of them drawn at random (see `fit_shop_model`).
    """
    customers = summarise(transactions, as_of, period_days)
    summaries = np.array(
        [(c.frequency, c.recency, c.T, float(c.monetary_value)) for c in customers],
        dtype=np.float64,
    ).reshape(-1, 4)
    x, t_x, age, spend = summaries.T
    total_spent = float(sum((c.total_spent for c in customers), Decimal(0)))
    fitted = fit_shop_model(
        x, t_x, age, spend, total_spent, period_days=period_days, fit_sample=fit_sample
    )
    forecast = _Forecast(period_days, horizon_days, annual_discount_rate)
    predicted = predict_arrays(fitted, x, t_x, age, spend, **vars(forecast)) if customers else None
    return ShopPredictions(
        **{
            model_field.name: getattr(fitted, model_field.name) for model_field in fields(ShopModel)
        },
        **vars(forecast),
        as_of=as_of,
        customers=(
            _customer_predictions(customers, predicted, as_of, period_days)
            if predicted is not None
            else ()
        ),
    )


@dataclass(frozen=True)
class PredictionArrays:
    """Per-customer predictions aligned with the input arrays; `periods_to_next` is `inf` for a
    customer not expected to order within the horizon."""

    probability_alive: FloatArray
    expected_purchases: FloatArray
    periods_to_next: FloatArray
    expected_average_spend: FloatArray
    predicted_clv: FloatArray


def fit_shop_model(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    total_spent: float,
    *,
    period_days: float = DEFAULT_PERIOD_DAYS,
    fit_sample: int | None = None,
    seed: int = FIT_SAMPLE_SEED,
) -> ShopModel:
    """Choose and fit the shop's models from per-customer summaries (one element a customer).

    Confidence and the reason are judged on every customer. With `fit_sample` and more
    customers than that, both likelihoods are maximised over `fit_sample` customers drawn
    without replacement by a generator seeded with `seed` (so a rerun fits the same sample);
    `total_spent` (all customers' spend) centres the spend prior when the priors are used.
    """
    x, t_x, age = _customer_arrays(frequency, recency, T)
    spend = np.asarray(monetary, dtype=np.float64)
    profile = _ShopProfile(
        customers=int(x.size),
        repeat_buyers=int(np.count_nonzero(x)),
        history_days=round(float(np.max(age, initial=0.0)) * period_days),
    )
    if not x.size:
        return ShopModel(
            "low", _reason("no_orders", profile), "prior_blended", None, None, 0, 0, 0, 0
        )
    if fit_sample is not None and x.size > fit_sample:
        chosen = np.sort(np.random.default_rng(seed).choice(x.size, fit_sample, replace=False))
        x, t_x, age, spend = x[chosen], t_x[chosen], age[chosen], spend[chosen]

    model: ModelSource
    confidence: Confidence
    reason_key: str
    fitted = _fit_shop_models(profile, x, t_x, age, spend)
    if fitted is not None:
        bgnbd, gamma_gamma = fitted
        model = "fitted"
        confidence = "high" if profile.supports_high_confidence else "medium"
        reason_key = confidence
    else:
        # Each customer's purchase occasions are the first one plus the repeats.
        occasions = float(np.sum(np.asarray(frequency, dtype=np.float64))) + profile.customers
        average_order_value = max(total_spent / occasions, _SMALLEST_PRIOR_ORDER_VALUE)
        bgnbd, gamma_gamma = _prior_blended_models(
            x, t_x, age, spend, period_days, average_order_value
        )
        model, confidence = "prior_blended", "low"
        reason_key = "fit_failed" if profile.supports_fitted_model else "low"
    return ShopModel(
        confidence=confidence,
        reason=_reason(reason_key, profile),
        model=model,
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        customer_count=profile.customers,
        repeat_buyers=profile.repeat_buyers,
        history_days=profile.history_days,
        fitted_on=int(x.size),
    )


def predict_arrays(
    fitted: ShopModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    *,
    period_days: float = DEFAULT_PERIOD_DAYS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
) -> PredictionArrays:
    """Every customer's predictions under `fitted` (which must have models: a shop with
    orders), as arrays aligned with the summaries."""
    bgnbd, gamma_gamma = fitted.bgnbd, fitted.gamma_gamma
    if bgnbd is None or gamma_gamma is None:
        raise ValueError("a shop without orders has nothing to predict")
    x, t_x, age = (v.ravel() for v in _customer_arrays(frequency, recency, T))
    spend = np.asarray(monetary, dtype=np.float64).ravel()
    forecast = _Forecast(period_days, horizon_days, annual_discount_rate)
    horizon = horizon_days / period_days
    # Computed once for every step below: each customer's P(alive) and the distinct (x, T).
    pairs = _Pairs(x, age)
    alive = probability_alive(bgnbd, x, t_x, age)
    return PredictionArrays(
        probability_alive=alive,
        expected_purchases=_expected_purchases(bgnbd, horizon, x, t_x, age, pairs, alive),
        periods_to_next=_time_to_next_purchase(bgnbd, x, t_x, age, horizon, pairs, alive),
        expected_average_spend=expected_average_spend(gamma_gamma, x, spend),
        predicted_clv=_clv(bgnbd, gamma_gamma, x, t_x, age, spend, forecast, pairs, alive),
    )


def _fit_shop_models(
    profile: _ShopProfile,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    spend: FloatArray,
) -> tuple[BgNbdParams, GammaGammaParams] | None:
    if not profile.supports_fitted_model:
        return None
    try:
        return fit_bgnbd(x, t_x, age), fit_gamma_gamma(x, spend)
    except ModelFitError:
        return None


def _prior_blended_models(
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    spend: FloatArray,
    period_days: float,
    average_order_value: float,
) -> tuple[BgNbdParams, GammaGammaParams]:
    purchase_prior = prior_bgnbd(period_days)
    spend_prior = prior_gamma_gamma(average_order_value)
    # The prior alone is the answer of last resort when even the posterior mode is not interior.
    try:
        bgnbd = fit_bgnbd(x, t_x, age, prior=purchase_prior)
    except ModelFitError:
        bgnbd = purchase_prior
    try:
        gamma_gamma = fit_gamma_gamma(x, spend, prior=spend_prior)
    except ModelFitError:
        gamma_gamma = spend_prior
    return bgnbd, gamma_gamma


def _customer_predictions(
    customers: tuple[CustomerSummary, ...],
    predicted: PredictionArrays,
    as_of: datetime,
    period_days: float,
) -> tuple[CustomerPrediction, ...]:
    periods_to_next = predicted.periods_to_next
    return tuple(
        CustomerPrediction(
            customer_id=customer.customer_id,
            probability_alive=float(predicted.probability_alive[i]),
            expected_purchases=float(predicted.expected_purchases[i]),
            expected_next_order_at=(
                as_of + timedelta(days=float(periods_to_next[i]) * period_days)
                if math.isfinite(periods_to_next[i])
                else None
            ),
            expected_average_spend=_money(predicted.expected_average_spend[i]),
            predicted_clv=_money(predicted.predicted_clv[i]),
            historic_spend=customer.total_spent,
        )
        for i, customer in enumerate(customers)
    )


@dataclass(frozen=True)
class _ShopProfile:
    customers: int
    repeat_buyers: int
    history_days: int

    @property
    def supports_fitted_model(self) -> bool:
        return (
            self.customers >= FITTED_MODEL_CUSTOMERS
            and self.repeat_buyers >= FITTED_MODEL_REPEAT_BUYERS
            and self.history_days >= FITTED_MODEL_HISTORY_DAYS
        )

    @property
    def supports_high_confidence(self) -> bool:
        return (
            self.customers >= HIGH_CONFIDENCE_CUSTOMERS
            and self.repeat_buyers >= HIGH_CONFIDENCE_REPEAT_BUYERS
            and self.history_days >= HIGH_CONFIDENCE_HISTORY_DAYS
        )


def _reason(key: str, profile: _ShopProfile) -> dict[str, Any]:
    """Why the predictions deserve `key`'s confidence, as a message key (`confidence_reason.*`
    in `app.i18n`) and the numbers its text quotes; no language."""
    params = {
        "customers": profile.customers,
        "repeat_buyers": profile.repeat_buyers,
        "history_days": profile.history_days,
        "high_customers": HIGH_CONFIDENCE_CUSTOMERS,
        "high_repeat_buyers": HIGH_CONFIDENCE_REPEAT_BUYERS,
        "high_history_days": HIGH_CONFIDENCE_HISTORY_DAYS,
        "fitted_customers": FITTED_MODEL_CUSTOMERS,
        "fitted_repeat_buyers": FITTED_MODEL_REPEAT_BUYERS,
        "fitted_history_days": FITTED_MODEL_HISTORY_DAYS,
    }
    return {"key": key, "params": params}


def _bgnbd_log_likelihood(
    log_params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> FloatArray:
    r, alpha, a, b = np.exp(log_params)
    # Eq. 6 as a sum of logs: the first term of the likelihood is always present, the second
    # only after a repeat purchase; b + max(x, 1) - 1 keeps the unused x = 0 branch finite.
    common = (
        gammaln(r + x)
        - gammaln(r)
        + r * math.log(alpha)
        + gammaln(a + b)
        + gammaln(b + x)
        - gammaln(b)
        - gammaln(a + b + x)
    )
    survived = -(r + x) * np.log(alpha + age)
    dropped = np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) - (r + x) * np.log(alpha + t_x)
    both = np.logaddexp(survived, dropped)
    return np.asarray(common + np.where(x > 0, both, survived), dtype=np.float64)


def _gamma_gamma_log_likelihood(
    log_params: FloatArray, x: FloatArray, spend: FloatArray
) -> FloatArray:
    p, q_minus_one, v = np.exp(log_params)
    q = 1.0 + q_minus_one
    shape = p * x
    return np.asarray(
        gammaln(shape + q)
        - gammaln(shape)
        - gammaln(q)
        + q * math.log(v)
        + (shape - 1.0) * np.log(spend)
        + shape * np.log(x)
        - (shape + q) * np.log(v + x * spend),
        dtype=np.float64,
    )


def _maximise(
    negative_log_likelihood: Callable[[FloatArray], float],
    *,
    start: FloatArray,
    centre: FloatArray | None,
    size: int,
) -> tuple[float, ...]:
    def objective(log_params: FloatArray) -> float:
        value = float(negative_log_likelihood(log_params))
        if centre is not None:
            value += 0.5 * float(np.sum(((log_params - centre) / PRIOR_LOG_SD) ** 2))
        # Averaging keeps the optimiser's tolerances meaningful whatever the shop's size.
        return value / max(size, 1)

    bounds = [(-_LOG_PARAMETER_BOUND, _LOG_PARAMETER_BOUND)] * start.size
    result = minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    log_params = np.asarray(result.x, dtype=np.float64)
    on_bound = np.any(np.abs(log_params) >= _LOG_PARAMETER_BOUND - 1e-6)
    if not result.success or not np.all(np.isfinite(log_params)) or on_bound:
        raise ModelFitError(f"no interior optimum: {result.message}")
    return tuple(float(value) for value in np.exp(log_params))


def _customer_arrays(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x, t_x, age = np.broadcast_arrays(
        np.asarray(frequency, dtype=np.float64),
        np.asarray(recency, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
    )
    if np.any(x < 0) or np.any(t_x < 0) or np.any(age < 0):
        raise ValueError("frequency, recency and T must not be negative")
    return x.astype(np.float64), t_x.astype(np.float64), age.astype(np.float64)


def _spend_arrays(frequency: ArrayLike, monetary: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(frequency, dtype=np.float64)
    spend = np.asarray(monetary, dtype=np.float64)
    informative = _repeat_spenders(x, spend)
    return x[informative], spend[informative]


def _repeat_spenders(x: FloatArray, spend: FloatArray) -> npt.NDArray[np.bool_]:
    """The customers whose mean repeat spend informs the Gamma-Gamma model: repeat buyers whose
    repeats came to a positive amount."""
    return np.asarray((x > 0) & (spend > 0), dtype=np.bool_)


def _expected_purchases_if_alive(
    params: BgNbdParams, horizon: FloatArray, x: FloatArray, age: FloatArray
) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < _SINGULARITY_GAP:
        a = 1.0 + math.copysign(_SINGULARITY_GAP, a - 1.0)
    z = horizon / (alpha + age + horizon)
    c = a + b + x - 1.0
    # Overflow or nan here is caught by the caller's bound check and integrated instead.
    with np.errstate(all="ignore"):
        transformed = np.power(1.0 - z, a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        return np.asarray((c / (a - 1.0)) * (1.0 - transformed), dtype=np.float64)


def _expected_purchases_if_alive_by_gauss_rules(
    params: BgNbdParams, horizon: FloatArray, x: FloatArray, age: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """The expectation if alive, E[g(p)] over the dropout posterior p ~ Beta(a, b+x), by Gauss
    quadrature for that distribution; also whether a rule with half the nodes agreed.

    g(p) = (1 - (1 + p t/(alpha+T))^-(r+x)) / p (see `_expected_purchases_if_alive_by_integration`)
    is smooth and bounded on [0, 1], so an n-node rule, exact for polynomials of degree below
    2n, converges fast wherever g bends on a scale the rule resolves; where it bends far more
    sharply than the posterior spreads (a long horizon for a customer of high rate) the two
    rules disagree and the caller integrates. Customers with the same x share the rules' nodes,
    so each x is one matrix product.
    """
    shape = params.r + x
    scaled_horizon = horizon / (params.alpha + age)
    at_zero = shape * scaled_horizon
    values = np.empty_like(at_zero)
    settled = np.zeros(at_zero.shape, dtype=np.bool_)
    if not x.size:
        return values, settled
    by_frequency = np.argsort(x, kind="stable")
    frequencies, starts = np.unique(x[by_frequency], return_index=True)
    for frequency, group in zip(frequencies, np.split(by_frequency, starts[1:]), strict=True):
        coarse, fine = (
            _beta_expectation_of_purchases(
                _beta_gauss_rule(params.a, params.b + float(frequency), nodes),
                float(params.r + frequency),
                scaled_horizon[group],
                at_zero[group],
            )
            for nodes in (_GAUSS_RULE_NODES, 2 * _GAUSS_RULE_NODES)
        )
        values[group] = fine
        settled[group] = np.abs(fine - coarse) <= _GAUSS_RULE_AGREEMENT * np.abs(fine)
    return values, settled


def _beta_expectation_of_purchases(
    rule: tuple[FloatArray, FloatArray],
    shape: float,
    scaled_horizon: FloatArray,
    at_zero: FloatArray,
) -> FloatArray:
    nodes, weights = rule
    scaled_nodes = np.outer(scaled_horizon, nodes)
    linear = (shape + 1.0) * scaled_nodes < _LINEAR_PURCHASES
    with np.errstate(divide="ignore", invalid="ignore"):
        given_dropout = -np.expm1(-shape * np.log1p(scaled_nodes)) / nodes
    given_dropout = np.where(linear, at_zero[:, None], given_dropout)
    return np.asarray(given_dropout @ weights, dtype=np.float64)


@functools.lru_cache(maxsize=1024)
def _beta_gauss_rule(shape_a: float, shape_b: float, nodes: int) -> tuple[FloatArray, FloatArray]:
    """Nodes in [0, 1] and weights (summing to 1) of the `nodes`-point Gauss rule for the
    Beta(shape_a, shape_b) distribution, by Golub & Welsch (1969): the eigenvalues of the Jacobi
    matrix of its orthogonal polynomials, and the squared first components of the eigenvectors.

    The matrix is the recurrence of the Jacobi polynomials P^(shape_b-1, shape_a-1) moved from
    [-1, 1] to [0, 1]. Its diagonal is written as one fraction (not as 1 + A_k, which cancels
    for a tiny a and a large b) and its first entries as the distribution's mean and variance
    (where the general formulas divide 0 by 0). Neither 2^(shape_a+shape_b) nor B(shape_a,
    shape_b) is formed, so neither a tiny a nor thousands of repeat purchases overflow it, as
    they do scipy's `roots_jacobi`.
    """
    a, b = shape_a, shape_b
    s = a + b - 2.0
    k = np.arange(1, nodes, dtype=np.float64)
    diagonal = np.empty(nodes, dtype=np.float64)
    diagonal[0] = a / (a + b)
    diagonal[1:] = (2.0 * k * k + 2.0 * k * (s + 1.0) + s * a) / (
        (2.0 * k + s) * (2.0 * k + s + 2.0)
    )
    j = k[1:]
    squared_off_diagonal = np.empty(nodes - 1, dtype=np.float64)
    squared_off_diagonal[0] = a * b / ((a + b) ** 2 * (a + b + 1.0))
    squared_off_diagonal[1:] = (
        j
        * (j + b - 1.0)
        * (j + a - 1.0)
        * (j + s)
        / ((2.0 * j + s) ** 2 * (2.0 * j + s + 1.0) * (2.0 * j + s - 1.0))
    )
    eigenvalues, eigenvectors = eigh_tridiagonal(diagonal, np.sqrt(squared_off_diagonal))
    weights = eigenvectors[0] ** 2
    rule = (np.clip(eigenvalues, 0.0, 1.0), weights / np.sum(weights))
    for array in rule:
        array.setflags(write=False)
    return rule


def _expected_purchases_if_alive_by_integration(
    params: BgNbdParams, horizon: float, x: float, age: float
) -> float:
    # Given λ and p, E[X(t)] = (1 - e^(-λpt)) / p (Fader, Hardie & Lee 2005a). An alive
    # customer's posterior is λ ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x); integrating λ out
    # analytically leaves E[(1 - (1 + p t/(alpha+T))^-(r+x)) / p] over that beta distribution.
    shape = params.r + x
    scaled_horizon = horizon / (params.alpha + age)
    beta_a, beta_b = params.a, params.b + x
    log_norm = float(betaln(beta_a, beta_b))

    def purchases_given_dropout(p: float) -> float:
        if p <= 0.0:
            return shape * scaled_horizon
        return -math.expm1(-shape * math.log1p(p * scaled_horizon)) / p

    def on_p(p: float) -> float:
        log_density = xlogy(beta_a - 1.0, p) + xlog1py(beta_b - 1.0, -p) - log_norm
        return purchases_given_dropout(p) * math.exp(log_density)

    # A density singular at 0 (a < 1) leaves its factor p^(a-1) to QUADPACK's algebraic weight
    # (QAWS) next to 0; one singular at 1 (b+x < 1) is integrated in v = (1-p)^(b+x), where
    # (1-p)^(b+x-1) dp = -dv / (b+x).
    def beside_zero(p: float) -> float:
        log_rest = xlog1py(beta_b - 1.0, -p) - log_norm
        return purchases_given_dropout(p) * math.exp(log_rest)

    def on_v(v: float) -> float:
        p = 1.0 - v ** (1.0 / beta_b)
        log_rest = xlogy(beta_a - 1.0, p) - log_norm - math.log(beta_b)
        return purchases_given_dropout(p) * math.exp(log_rest)

    # Where the integrand bends: the density's mode and mean, p ≈ (alpha+T)/t, below which the
    # purchases term is nearly linear in p, and p ≈ (alpha+T)/((r+x) t), beyond which it falls
    # away from its value at 0. The quadrature splits there.
    marks = [
        (beta_a - 1.0) / (beta_a + beta_b - 2.0) if beta_a + beta_b > 2.0 else 0.5,
        beta_a / (beta_a + beta_b),
    ]
    if scaled_horizon > 0.0:
        marks += [1.0 / scaled_horizon, 1.0 / (shape * scaled_horizon)]
    split = 0.5
    lower_marks = [m for m in marks if 0.0 < m < split]
    upper_marks = [m for m in marks if split < m < 1.0]
    if beta_a < 1.0:
        # The weight's interval ends before anything but p^(a-1) changes much: (1-p)^(b+x-1)
        # over 1/(b+x-1), the purchases term at the last two marks.
        near_zero = min([split, 1.0 / max(beta_b - 1.0, 1.0), *marks[2:]])
        value = float(
            quad(
                beside_zero, 0.0, near_zero, weight="alg", wvar=(beta_a - 1.0, 0.0), **_QUADRATURE
            )[0]
        )
        value += _integrate(on_p, near_zero, split, lower_marks)
    else:
        value = _integrate(on_p, 0.0, split, lower_marks)
    if beta_b < 1.0:
        upper_end = (1.0 - split) ** beta_b
        value += _integrate(on_v, 0.0, upper_end, [(1.0 - m) ** beta_b for m in upper_marks])
    else:
        value += _integrate(on_p, split, 1.0, upper_marks)
    if not math.isfinite(value):
        # Only parameter values no real shop produces get here; the value at the posterior
        # mean keeps the prediction finite and within the bound the caller applies.
        value = purchases_given_dropout(beta_a / (beta_a + beta_b))
    return float(value)


def _integrate(
    integrand: Callable[[float], float], low: float, high: float, points: list[float]
) -> float:
    if high <= low:
        return 0.0
    inside = [point for point in points if low < point < high]
    return float(quad(integrand, low, high, points=inside or None, **_QUADRATURE)[0])


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.01"))


def _utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
