"""The rate card: valid cards load with their hash; every kind of bad card fails naming the key."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from billing.exceptions import RateCardError
from billing.ratecard import load_rate_card, parse_rate_card

GOOD = b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.creator_42]\nrate_per_1000 = "4.00"\n'


def test_a_valid_card_gives_rates_and_its_hash():
    card = parse_rate_card(GOOD)
    assert card.currency == "USD" and card.sha256 == hashlib.sha256(GOOD).hexdigest()
    assert card.rate_for("creator_42") == Decimal("4.00") and card.rate_for("other") == Decimal("2.50")
    assert all(type(r) is Decimal for r in (card.default_rate_per_1000, *card.creator_rates.values()))


@pytest.mark.parametrize("text, message", [
    (b'currency = "USD"\n', "'default_rate_per_1000' is missing"),
    (b'default_rate_per_1000 = "2.50"\n', "'currency' is missing"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "-2.50"\n', "non-negative decimal string"),
    (b'currency = "USD"\ndefault_rate_per_1000 = 2.50\n', "must be a decimal string"),
    (b'currency = "USD"\ndefault_rate_per_1000 = 3\n', "must be a decimal string"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "two"\n', "non-negative decimal string"),
    (b'currency = "usd"\ndefault_rate_per_1000 = "2.50"\n', "ISO 4217"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\ndiscount = "1"\n', "unknown key 'discount'"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.c1]\nrate = "1.00"\n', "creators.c1: unknown key 'rate'"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.c1]\n', "creators.c1.rate_per_1000 is missing"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators."c/1"]\nrate_per_1000 = "1"\n', "creator id"),
    (b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.c1]\nrate_per_1000 = "-1"\n', "creators.c1.rate_per_1000"),
    (b'currency = USD\n', "not valid TOML"),
])
def test_bad_cards_fail_naming_the_problem(text, message):
    with pytest.raises(RateCardError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_rate_card(text)


def test_missing_or_unset_file(tmp_path):
    with pytest.raises(RateCardError, match="RATE_CARD is not set"):
        load_rate_card("")
    with pytest.raises(RateCardError, match="No such file"):
        load_rate_card(str(tmp_path / "nope.toml"))
