"""Money math: exact Decimal, half-even to cents, and no float ever reaches an amount."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import amount_for, money_str, parse_decimal, rate_str

rates = st.decimals(min_value=0, max_value=Decimal("999999999.999999"), places=6, allow_nan=False,
                    allow_infinity=False)
views = st.integers(min_value=0, max_value=10**12)


@given(views, rates)
def test_amount_is_a_decimal_in_cents_within_half_a_cent_of_the_exact_product(n, rate):
    amount = amount_for(n, rate)
    assert type(amount) is Decimal
    assert amount.as_tuple().exponent == -2
    exact = Decimal(n) * rate / 1000
    assert abs(amount - exact) <= Decimal("0.005")


@given(views, rates)
def test_amount_survives_its_string_form(n, rate):
    text = money_str(amount_for(n, rate))
    assert "E" not in text and "e" not in text
    assert Decimal(text) == amount_for(n, rate)
    assert parse_decimal(rate_str(rate)) == rate


@pytest.mark.parametrize("n, rate, expected", [
    (1, "2.50", "0.00"),        # 0.0025 → 0.00
    (2, "2.50", "0.00"),        # 0.005 → half-even: 0.00
    (6, "2.50", "0.02"),        # 0.015 → half-even: 0.02
    (10, "2.50", "0.02"),       # 0.025 → half-even: 0.02
    (14, "2.50", "0.04"),       # 0.035 → half-even: 0.04
    (1000, "2.50", "2.50"),
    (1234567, "4.00", "4938.27"),  # 4938.268
    (0, "9.99", "0.00"),
])
def test_half_even_to_cents(n, rate, expected):
    assert money_str(amount_for(n, parse_decimal(rate))) == expected


@pytest.mark.parametrize("bad", [2.5, 2, "-1.00", "1e3", "abc", "", " 2.50", "2.5000001", "1234567890.00", None])
def test_rates_are_non_negative_decimal_strings_only(bad):
    with pytest.raises(ValueError):
        parse_decimal(bad)


@pytest.mark.parametrize("views_arg, rate_arg", [(1.0, Decimal("2.50")), (True, Decimal("2.50")), (10, 2.5), (10, "2.50")])
def test_floats_and_strings_are_refused_where_numbers_are_computed(views_arg, rate_arg):
    with pytest.raises(TypeError):
        amount_for(views_arg, rate_arg)


def test_money_str_refuses_floats():
    with pytest.raises(TypeError):
        money_str(0.1)
