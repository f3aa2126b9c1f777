"""BG/NBD and Gamma-Gamma against the published CDNOW fits, model properties, and the fallback.

The CDNOW sample ships with the `lifetimes` package; its files are read directly (the package
itself is never imported) and the tests that need them skip when it is not installed.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import hyp2f1

from app.domain import predictions as predictions_module
from app.domain.predictions import (
    DEFAULT_HORIZON_DAYS,
    BgNbdParams,
    CustomerSummary,
    GammaGammaParams,
    ModelFitError,
    ShopModel,
    Transaction,
    bgnbd_log_likelihood,
    clv,
    expected_average_spend,
    expected_purchases,
    expected_time_to_next_purchase,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    predict_shop,
    prior_bgnbd,
    probability_alive,
    summarise,
)

CDNOW_CALIBRATION_END = datetime(1997, 9, 30, tzinfo=UTC)
PUBLISHED_BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_BGNBD_LOG_LIKELIHOOD = -9582.4
# Fader & Hardie (2013) report v = 15.44, the lifetimes documentation 15.45.
PUBLISHED_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, v=15.44)
PUBLISHED_GAMMA_GAMMA_LOG_LIKELIHOOD = -4055.92
# The published estimates are rounded to three decimals (0.243 carries ±0.2 %); 0.5 % leaves room
# for that rounding and the optimiser's tolerance, and nothing more.
PUBLISHED_TOLERANCE = 0.005


def _lifetimes_dataset(name: str) -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the lifetimes package (which ships the CDNOW sample) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / name


@pytest.fixture(scope="module")
def cdnow_transactions() -> list[Transaction]:
    """CDNOW sample rows: master id, sample id, date (YYYYMMDD), CDs bought, dollar value."""
    transactions = []
    with _lifetimes_dataset("CDNOW_sample.txt").open() as rows:
        for row in rows:
            _, customer_id, day, _, dollars = row.split()
            ordered_at = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
            transactions.append(Transaction(int(customer_id), ordered_at, Decimal(dollars)))
    return transactions


@pytest.fixture(scope="module")
def cdnow_calibration(cdnow_transactions: list[Transaction]) -> tuple[CustomerSummary, ...]:
    return summarise(cdnow_transactions, CDNOW_CALIBRATION_END, period_days=7)


def _arrays(
    summaries: tuple[CustomerSummary, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array([s.frequency for s in summaries], dtype=float),
        np.array([s.recency for s in summaries], dtype=float),
        np.array([s.T for s in summaries], dtype=float),
        np.array([float(s.monetary_value) for s in summaries], dtype=float),
    )


def _cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- CDNOW: the published calibration summary and estimates ------------------------------------


def test_summary_reproduces_the_cdnow_calibration_summary(
    cdnow_calibration: tuple[CustomerSummary, ...],
) -> None:
    with _lifetimes_dataset("cdnow_customers_summary_with_transactions.csv").open() as handle:
        published = list(csv.DictReader(handle))

    assert len(cdnow_calibration) == len(published) == 2357
    assert sum(1 for s in cdnow_calibration if s.frequency > 0) == 946
    for ours, theirs in zip(cdnow_calibration, published, strict=True):
        assert ours.customer_id == int(theirs["ID"])
        assert ours.frequency == int(theirs["x"])
        # The published file rounds half up to two decimals.
        assert _cents(ours.recency) == Decimal(theirs["t_x"])
        assert _cents(ours.T) == Decimal(theirs["T"])
        assert _cents(ours.monetary_value) == Decimal(theirs["zbar"])


def test_bgnbd_reproduces_the_published_cdnow_estimates(
    cdnow_calibration: tuple[CustomerSummary, ...],
) -> None:
    x, t_x, age, _ = _arrays(cdnow_calibration)

    fitted = fit_bgnbd(x, t_x, age)

    assert fitted.r == pytest.approx(PUBLISHED_BGNBD.r, rel=PUBLISHED_TOLERANCE)
    assert fitted.alpha == pytest.approx(PUBLISHED_BGNBD.alpha, rel=PUBLISHED_TOLERANCE)
    assert fitted.a == pytest.approx(PUBLISHED_BGNBD.a, rel=PUBLISHED_TOLERANCE)
    assert fitted.b == pytest.approx(PUBLISHED_BGNBD.b, rel=PUBLISHED_TOLERANCE)
    log_likelihood = float(np.sum(bgnbd_log_likelihood(fitted, x, t_x, age)))
    assert log_likelihood == pytest.approx(PUBLISHED_BGNBD_LOG_LIKELIHOOD, abs=0.1)


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(
    cdnow_calibration: tuple[CustomerSummary, ...],
) -> None:
    x, _, _, spend = _arrays(cdnow_calibration)

    fitted = fit_gamma_gamma(x, spend)

    assert fitted.p == pytest.approx(PUBLISHED_GAMMA_GAMMA.p, rel=PUBLISHED_TOLERANCE)
    assert fitted.q == pytest.approx(PUBLISHED_GAMMA_GAMMA.q, rel=PUBLISHED_TOLERANCE)
    assert fitted.v == pytest.approx(PUBLISHED_GAMMA_GAMMA.v, rel=PUBLISHED_TOLERANCE)
    log_likelihood = float(np.sum(gamma_gamma_log_likelihood(fitted, x, spend)))
    assert log_likelihood == pytest.approx(PUBLISHED_GAMMA_GAMMA_LOG_LIKELIHOOD, abs=0.01)


def test_conditional_expectation_matches_hardies_spreadsheet() -> None:
    # Hardie's BG/NBD spreadsheet implementation (which lifetimes also tests against): the first
    # CDNOW customer, x = 2, t_x = 30.43, T = 38.86, expects 1.226 purchases in the next 39 weeks.
    expected = expected_purchases(PUBLISHED_BGNBD, 39, 2, 30.43, 38.86)

    assert float(expected) == pytest.approx(1.226, abs=0.001)


def test_cdnow_shop_gets_the_fitted_model_with_high_confidence(
    cdnow_transactions: list[Transaction],
) -> None:
    predictions = predict_shop(cdnow_transactions, CDNOW_CALIBRATION_END)

    assert predictions.confidence == "high"
    assert predictions.model == "fitted"
    assert predictions.bgnbd is not None
    assert predictions.bgnbd.r == pytest.approx(PUBLISHED_BGNBD.r, rel=PUBLISHED_TOLERANCE)
    assert (predictions.customer_count, predictions.repeat_buyers) == (2357, 946)
    assert predictions.history_days == 272
    # Stored without a language: a key and the numbers its text quotes (worded at display).
    assert predictions.reason["params"]["customers"] == 2357
    first = predictions.customers[0]
    assert first.customer_id == 1
    assert first.historic_spend == Decimal("29.33") + Decimal("29.73") + Decimal("14.96")
    assert first.expected_next_order_at is not None
    assert first.expected_next_order_at > CDNOW_CALIBRATION_END


# --- the formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "t_x", "age", "t"),
    [(0, 0.0, 38.86, 39.0), (2, 30.43, 38.86, 39.0), (7, 35.0, 38.0, 10.0), (1, 1.0, 60.0, 52.0)],
)
def test_transformed_expectation_equals_equation_10_as_printed(
    x: int, t_x: float, age: float, t: float
) -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    as_printed = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + age) / (alpha + age + t)) ** (r + x)
            * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + age + t))
        )
    ) / (1 + (x > 0) * a / (b + x - 1) * ((alpha + age) / (alpha + t_x)) ** (r + x))

    ours = expected_purchases(PUBLISHED_BGNBD, t, x, t_x, age)

    assert float(ours) == pytest.approx(as_printed, rel=1e-9)


def test_expectation_is_continuous_through_a_equal_to_one() -> None:
    near = [BgNbdParams(r=0.5, alpha=5.0, a=a, b=3.0) for a in (1 - 1e-3, 1.0, 1 + 1e-3)]

    below, at, above = (float(expected_purchases(p, 20.0, 3, 10.0, 30.0)) for p in near)

    assert math.isfinite(at)
    assert min(below, above) - 1e-3 <= at <= max(below, above) + 1e-3


def test_next_purchase_time_is_where_the_expectation_reaches_one() -> None:
    x, t_x, age = np.array([6.0, 0.0]), np.array([30.0, 0.0]), np.array([31.0, 38.0])

    periods = expected_time_to_next_purchase(PUBLISHED_BGNBD, x, t_x, age, horizon=52.0)

    assert math.isfinite(periods[0])
    assert float(expected_purchases(PUBLISHED_BGNBD, periods[0], 6, 30.0, 31.0)) == pytest.approx(
        1.0, abs=1e-6
    )
    # A one-time buyer of 38 weeks ago is not expected to buy once within a year.
    assert float(expected_purchases(PUBLISHED_BGNBD, 52.0, 0, 0.0, 38.0)) < 1.0
    assert periods[1] == math.inf


def test_expected_spend_shrinks_own_mean_towards_the_population_mean() -> None:
    params = PUBLISHED_GAMMA_GAMMA
    population_mean = params.p * params.v / (params.q - 1)

    spends = expected_average_spend(params, [0, 1, 5, 50], [0.0, 100.0, 100.0, 100.0])

    assert spends[0] == pytest.approx(population_mean)
    assert population_mean < spends[1] < spends[2] < spends[3] < 100.0
    assert spends[3] == pytest.approx(100.0, rel=0.05)


def test_clv_discounting_and_horizon() -> None:
    args = (PUBLISHED_BGNBD, PUBLISHED_GAMMA_GAMMA, [3], [30.0], [38.0], [40.0])

    undiscounted = clv(*args, annual_discount_rate=0.0)
    discounted = clv(*args, annual_discount_rate=0.10)
    half_year = clv(*args, horizon_days=182, annual_discount_rate=0.0)

    spend = expected_average_spend(PUBLISHED_GAMMA_GAMMA, [3], [40.0])
    purchases = expected_purchases(PUBLISHED_BGNBD, 365 / 7, 3, 30.0, 38.0)
    assert undiscounted[0] == pytest.approx(spend[0] * purchases, rel=1e-9)
    assert undiscounted[0] / 1.10 < discounted[0] < undiscounted[0]
    assert 0 < half_year[0] < undiscounted[0]


# --- properties --------------------------------------------------------------------------------

positive = st.floats(min_value=0.01, max_value=50.0, allow_nan=False, allow_infinity=False)
bgnbd_params = st.builds(BgNbdParams, r=positive, alpha=positive, a=positive, b=positive)


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, float, float]:
    age = draw(st.floats(min_value=0.0, max_value=5000.0))
    frequency = draw(st.integers(min_value=0, max_value=300))
    recency = 0.0 if frequency == 0 else draw(st.floats(min_value=0.0, max_value=age))
    return frequency, recency, age


@settings(max_examples=300, deadline=None)
@given(params=bgnbd_params, history=histories())
def test_probability_alive_is_a_probability(
    params: BgNbdParams, history: tuple[int, float, float]
) -> None:
    frequency, recency, age = history

    alive = float(probability_alive(params, frequency, recency, age))

    assert 0.0 <= alive <= 1.0
    if frequency == 0:
        assert alive == 1.0


@settings(max_examples=300, deadline=None)
@given(
    params=bgnbd_params,
    history=histories(),
    shorter=st.floats(min_value=0.0, max_value=500.0),
    extra=st.floats(min_value=0.5, max_value=500.0),
)
def test_expected_purchases_are_finite_non_negative_and_grow_with_time(
    params: BgNbdParams, history: tuple[int, float, float], shorter: float, extra: float
) -> None:
    frequency, recency, age = history

    earlier, later = expected_purchases(
        params, np.array([shorter, shorter + extra]), frequency, recency, age
    )

    assert math.isfinite(earlier)
    assert math.isfinite(later)
    assert 0.0 <= earlier <= later * (1 + 1e-9) + 1e-12


@settings(max_examples=100, deadline=None)
@given(
    params=bgnbd_params,
    history=histories(),
    spend=st.floats(min_value=0.0, max_value=10_000.0),
)
def test_clv_is_finite_and_non_negative(
    params: BgNbdParams, history: tuple[int, float, float], spend: float
) -> None:
    frequency, recency, age = history

    value = clv(params, PUBLISHED_GAMMA_GAMMA, frequency, recency, age, spend)

    assert np.all(np.isfinite(value))
    assert np.all(value >= 0.0)


# --- summaries ---------------------------------------------------------------------------------


def _order(customer_id: int, when: datetime, amount: str) -> Transaction:
    return Transaction(customer_id, when, Decimal(amount))


def test_summary_merges_same_day_orders_and_ignores_later_ones() -> None:
    start = datetime(2024, 1, 1, 9, tzinfo=UTC)
    as_of = datetime(2024, 1, 29, 12, tzinfo=UTC)
    orders = [
        _order(1, start, "10"),
        _order(1, start + timedelta(hours=3), "5"),
        _order(1, start + timedelta(days=7), "20"),
        _order(1, start + timedelta(days=14, hours=1), "40"),
        _order(1, as_of + timedelta(minutes=1), "999"),
        _order(2, as_of, "7"),
    ]

    first, second = summarise(orders, as_of, period_days=7)

    assert first == CustomerSummary(
        customer_id=1,
        frequency=2,
        recency=2.0,
        T=4.0,
        monetary_value=Decimal(30),
        total_spent=Decimal(75),
    )
    assert (second.frequency, second.recency, second.T) == (0, 0.0, 0.0)
    assert second.monetary_value == 0


def test_summary_requires_aware_times() -> None:
    naive = datetime(2024, 1, 1)  # noqa: DTZ001
    aware = datetime(2024, 1, 1, tzinfo=UTC)

    with pytest.raises(ValueError, match="timezone-aware"):
        summarise([_order(1, naive, "1")], aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        summarise([_order(1, aware, "1")], naive)


# --- fitting edge cases and the fallback -------------------------------------------------------


def test_maximum_likelihood_without_repeat_buyers_is_refused() -> None:
    with pytest.raises(ModelFitError):
        fit_bgnbd([0, 0, 0], [0.0, 0.0, 0.0], [10.0, 20.0, 30.0])
    with pytest.raises(ModelFitError):
        fit_gamma_gamma([0, 0], [0.0, 0.0])


def test_prior_keeps_a_one_customer_fit_near_the_prior() -> None:
    prior = prior_bgnbd(period_days=7)

    fitted = fit_bgnbd([0], [0.0], [10.0], prior=prior)

    for name in ("r", "alpha", "a", "b"):
        assert math.isfinite(getattr(fitted, name))
        assert getattr(fitted, name) == pytest.approx(getattr(prior, name), rel=math.e - 1)


def _assert_all_finite(predictions_customers: tuple) -> None:
    for customer in predictions_customers:
        assert 0.0 <= customer.probability_alive <= 1.0
        assert math.isfinite(customer.expected_purchases)
        assert customer.expected_purchases >= 0.0
        assert customer.expected_average_spend.is_finite()
        assert customer.expected_average_spend > 0
        assert customer.predicted_clv.is_finite()
        assert customer.predicted_clv >= 0


@pytest.mark.parametrize(
    "orders",
    [
        [("1", 0)],
        [("1", 400)],
        [("25.00", 3), ("30.00", 2), ("12.50", 1)],
        [("5000", 3650), ("5000", 3000), ("5000", 10)],
    ],
    ids=["one-order-today", "one-old-order", "three-orders", "ten-year-customer"],
)
def test_tiny_shops_get_finite_low_confidence_predictions(orders: list[tuple[str, int]]) -> None:
    as_of = datetime(2025, 6, 1, tzinfo=UTC)
    transactions = [_order(1, as_of - timedelta(days=days), amount) for amount, days in orders]

    predictions = predict_shop(transactions, as_of)

    assert predictions.confidence == "low"
    assert predictions.model == "prior_blended"
    assert predictions.reason["key"] in ("low", "fit_failed", "no_orders")
    assert len(predictions.customers) == 1
    _assert_all_finite(predictions.customers)


def test_spend_fallback_is_centred_on_the_shop_average_order_value() -> None:
    as_of = datetime(2025, 6, 1, tzinfo=UTC)
    transactions = [_order(i, as_of - timedelta(days=i), "3000") for i in range(1, 6)]

    predictions = predict_shop(transactions, as_of)

    for customer in predictions.customers:
        assert customer.expected_average_spend == Decimal("3000.00")


def test_shop_without_orders_has_no_predictions() -> None:
    predictions = predict_shop([], datetime(2025, 6, 1, tzinfo=UTC))

    assert predictions.customers == ()
    assert predictions.confidence == "low"
    assert predictions.bgnbd is None
    assert predictions.reason["key"] == "no_orders"


def _simulated_shop(
    customers: int, history_days: int, as_of: datetime, seed: int
) -> list[Transaction]:
    """Customers joining uniformly over the history and buying as the BG/NBD assumes."""
    rng = np.random.default_rng(seed)
    transactions = []
    for customer_id in range(1, customers + 1):
        rate_per_day = rng.gamma(shape=0.8, scale=1 / 30)
        dropout = rng.beta(1.5, 4.0)
        day = float(rng.uniform(0, history_days))
        while day <= history_days:
            when = as_of - timedelta(days=history_days - day)
            transactions.append(_order(customer_id, when, f"{rng.gamma(4.0, 12.5):.2f}"))
            if rng.random() < dropout:
                break
            day += rng.exponential(1 / rate_per_day)
    return transactions


def test_mid_sized_young_shop_gets_its_own_fit_with_medium_confidence() -> None:
    as_of = datetime(2025, 6, 1, tzinfo=UTC)
    transactions = _simulated_shop(customers=300, history_days=120, as_of=as_of, seed=7)

    predictions = predict_shop(transactions, as_of)

    assert predictions.customer_count == 300
    assert predictions.repeat_buyers >= 30
    assert predictions.confidence == "medium"
    assert predictions.model == "fitted"
    _assert_all_finite(predictions.customers)


def test_expectation_survives_where_scipy_hypergeometric_returns_nan() -> None:
    # With r = 1, a = 2, b = 1 and x = 102, c - a - b of the transformed 2F1 is an integer and
    # scipy's hyp2f1(1, 1; 104; z) is nan for z = 10/11. The expectation is continuous in r.
    history = (102, 1.0, 1.0)
    at = BgNbdParams(r=1.0, alpha=1.0, a=2.0, b=1.0)
    nearby = [replace(at, r=1.0 + offset) for offset in (-1e-6, 1e-6)]
    assert math.isnan(hyp2f1(1.0, 1.0, 104.0, 10.0 / 11.0))

    value = float(expected_purchases(at, 20.0, *history))

    neighbours = [float(expected_purchases(p, 20.0, *history)) for p in nearby]
    assert value == pytest.approx(sum(neighbours) / 2, rel=1e-6)


@pytest.mark.parametrize("r", [0.001, 1.0, 1000.0])
@pytest.mark.parametrize("alpha", [0.001, 1.0, 1000.0])
@pytest.mark.parametrize("a", [0.001, 0.999999, 1.0, 7.0, 1000.0])
@pytest.mark.parametrize("b", [0.001, 1.0, 1000.0])
def test_expectation_stays_finite_and_ordered_for_extreme_parameters(
    r: float, alpha: float, a: float, b: float
) -> None:
    params = BgNbdParams(r=r, alpha=alpha, a=a, b=b)
    x = np.array([0.0, 1.0, 5.0, 102.0, 2000.0])
    for age in (0.0, 10.0, 20_000.0):
        t_x = np.where(x > 0, age / 2, 0.0)
        horizons = np.array([[0.1], [52.0], [1000.0]])

        expected = expected_purchases(params, horizons, x, t_x, age)

        assert np.all(np.isfinite(expected))
        assert np.all(expected >= 0.0)
        assert np.all(np.diff(expected, axis=0) >= -1e-9 * expected[1:])
        ceiling = (r + x) / (alpha + age) * horizons
        assert np.all(expected <= ceiling * (1 + 1e-9))


def test_shop_whose_own_fit_fails_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    as_of = datetime(2025, 6, 1, tzinfo=UTC)
    transactions = _simulated_shop(customers=300, history_days=120, as_of=as_of, seed=7)
    fit_with_prior_only = predictions_module.fit_bgnbd

    def refuse_maximum_likelihood(*args: object, prior: BgNbdParams | None = None) -> BgNbdParams:
        if prior is None:
            raise ModelFitError("no interior optimum")
        return fit_with_prior_only(*args, prior=prior)  # type: ignore[arg-type]

    monkeypatch.setattr(predictions_module, "fit_bgnbd", refuse_maximum_likelihood)

    predictions = predict_shop(transactions, as_of)

    assert predictions.confidence == "low"
    assert predictions.model == "prior_blended"
    assert predictions.reason["key"] == "fit_failed"
    _assert_all_finite(predictions.customers)


# --- where the closed form fails: Gauss rules over the dropout posterior -----------------------

# A shop whose customers buy at nearly the same rate and almost never drop out: scipy's 2F1 is
# nan for every customer, so every expectation comes from the fallback.
UNIFORM_RATE_FIT = BgNbdParams(r=298516.85, alpha=3269012.44, a=0.000668953335058742, b=294.042)
EXTREME_VALUES = (0.001, 1.0, 1000.0)
EXTREME_FITS = [
    BgNbdParams(r=r, alpha=alpha, a=a, b=b)
    for r in EXTREME_VALUES
    for alpha in EXTREME_VALUES
    for a in (0.001, 0.999999, 1.0, 7.0, 1000.0)
    for b in EXTREME_VALUES
]
# The published fit, a < 1 with b < 1 (so b+x < 1 for one-time buyers), and both below 1.
ORDINARY_FITS = [
    PUBLISHED_BGNBD,
    BgNbdParams(r=2.0, alpha=10.0, a=0.05, b=0.5),
    BgNbdParams(r=0.5, alpha=5.0, a=0.3, b=0.4),
]


def _fit_id(params: BgNbdParams) -> str:
    return f"r={params.r:g},alpha={params.alpha:g},a={params.a:g},b={params.b:g}"


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [
        (UNIFORM_RATE_FIT.a, UNIFORM_RATE_FIT.b + 3.0),
        # b+x in the thousands with a tiny a: scipy's roots_jacobi overflows to inf weights here.
        (UNIFORM_RATE_FIT.a, UNIFORM_RATE_FIT.b + 3000.0),
        (0.001, 0.001),
        (0.3, 0.4),
        (1.0, 1.0),
        (1000.0, 0.001),
        (7.0, 3000.0),
        (1e-6, 10.0),
    ],
)
def test_beta_gauss_rule_reproduces_the_beta_moments(shape_a: float, shape_b: float) -> None:
    for nodes in (40, 80):
        points, weights = predictions_module._beta_gauss_rule(shape_a, shape_b, nodes)

        assert np.all((points >= 0.0) & (points <= 1.0))
        assert np.all(weights >= 0.0)
        assert float(np.sum(weights)) == pytest.approx(1.0, rel=1e-14)
        moment = 1.0
        for degree in range(1, 6):
            moment *= (shape_a + degree - 1) / (shape_a + shape_b + degree - 1)
            assert float(weights @ points**degree) == pytest.approx(moment, rel=1e-10)


def _assert_gauss_rules_match_the_integration(
    params: BgNbdParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rules and integration agree wherever the rules settle; returns x, T, t and settled."""
    x, age, horizon = (
        v.ravel()
        for v in np.meshgrid(
            [0.0, 1.0, 3.0, 5.0, 102.0, 2000.0],
            [0.0, 16.428571428571427, 20_000.0],
            [0.1, 1.0, 52.142857142857146, 520.0],
            indexing="ij",
        )
    )

    values, settled = predictions_module._expected_purchases_if_alive_by_gauss_rules(
        params, horizon, x, age
    )

    for i in np.flatnonzero(settled):
        integrated = predictions_module._expected_purchases_if_alive_by_integration(
            params, float(horizon[i]), float(x[i]), float(age[i])
        )
        assert values[i] == pytest.approx(integrated, rel=1e-8), (horizon[i], x[i], age[i])
    return x, age, horizon, settled


@pytest.mark.parametrize("params", [UNIFORM_RATE_FIT, *ORDINARY_FITS], ids=_fit_id)
def test_gauss_rules_match_the_integration_on_shop_like_fits(params: BgNbdParams) -> None:
    x, age, horizon, settled = _assert_gauss_rules_match_the_integration(params)

    # Within a year, every history a shop can have (one purchase a day at most) is settled by
    # the rules; some ten-year horizons for new customers are left to the integration.
    possible = age >= x / 7.0
    assert np.all(settled[possible & (horizon <= 365 / 7)])
    if params == UNIFORM_RATE_FIT:
        assert np.all(settled)


@pytest.mark.parametrize("params", EXTREME_FITS, ids=_fit_id)
def test_gauss_rules_match_the_integration_for_extreme_parameters(params: BgNbdParams) -> None:
    *_, settled = _assert_gauss_rules_match_the_integration(params)

    assert np.any(settled)


@pytest.mark.parametrize("params", [UNIFORM_RATE_FIT, *ORDINARY_FITS], ids=_fit_id)
def test_integration_has_the_expectations_slope_at_zero(params: BgNbdParams) -> None:
    # E[X(t)] = (r+x) t/(alpha+T) (1 - O(t)): so short a horizon tests that the integral takes
    # in all of the beta posterior's mass, however close to 0 or 1 the density piles up.
    horizon, x, age = 1e-8, 3.0, 16.428571428571427

    integrated = predictions_module._expected_purchases_if_alive_by_integration(
        params, horizon, x, age
    )

    assert integrated == pytest.approx((params.r + x) * horizon / (params.alpha + age), rel=1e-8)


def _uniform_rate_shop(customers: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two years of customers buying at the fit's rate (about one order in eleven weeks)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(1, 731, customers) / 7.0
    x = rng.poisson(UNIFORM_RATE_FIT.r / UNIFORM_RATE_FIT.alpha * age).astype(float)
    t_x = np.where(x > 0, np.floor(age * 7.0 * rng.uniform(0.5, 1.0, customers)) / 7.0, 0.0)
    return x, t_x, age


def test_a_shop_where_the_closed_form_fails_everywhere_is_predicted_without_integrating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, t_x, age = _uniform_rate_shop(customers=4000, seed=11)
    horizon = DEFAULT_HORIZON_DAYS / 7.0
    closed_form = predictions_module._expected_purchases_if_alive(
        UNIFORM_RATE_FIT, np.asarray(horizon), x, age
    )
    assert np.all(np.isnan(closed_form))
    fitted = ShopModel(
        "high", {}, "fitted", UNIFORM_RATE_FIT, PUBLISHED_GAMMA_GAMMA, 4000, 0, 730, 4000
    )
    integrate = predictions_module._expected_purchases_if_alive_by_integration
    by_rules = predictions_module._expected_purchases_if_alive_by_gauss_rules
    counts = {"suspect": 0, "integrated": 0}

    def counting_rules(*args: Any) -> Any:
        counts["suspect"] += args[2].size
        return by_rules(*args)

    def counting_integration(*args: Any) -> float:
        counts["integrated"] += 1
        return integrate(*args)

    monkeypatch.setattr(
        predictions_module, "_expected_purchases_if_alive_by_gauss_rules", counting_rules
    )
    monkeypatch.setattr(
        predictions_module, "_expected_purchases_if_alive_by_integration", counting_integration
    )

    predicted = predictions_module.predict_arrays(fitted, x, t_x, age, np.full(x.shape, 40.0))

    # Each distinct (x, T) for the expectation and the CLV slices, and each distinct history in
    # every step of the next-order search: over ten expectations a customer, all suspect.
    assert counts["suspect"] > 10 * x.size
    assert counts["integrated"] <= 0.01 * counts["suspect"]
    for i in range(0, x.size, 400):
        if_alive = integrate(UNIFORM_RATE_FIT, horizon, float(x[i]), float(age[i]))
        assert predicted.expected_purchases[i] == pytest.approx(
            if_alive * predicted.probability_alive[i], rel=1e-8
        )
    assert np.all(np.isfinite(predicted.periods_to_next))
    assert np.all(predicted.predicted_clv > 0.0)
