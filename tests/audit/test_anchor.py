"""Comparing a ledger with its anchor: each way the two can differ is named, most serious first."""

from __future__ import annotations

import re

import pytest

from audit.anchor import CONFLICT, CUT_OFF, DELETED, REWRITTEN, UNANCHORED, compare

WHERE = "the anchor topic a"


def chain(*hashes: str) -> list[tuple[int, str]]:
    return [(seq, h) for seq, h in enumerate(hashes, start=1)]


def anchored(*hashes: str, skip: tuple[int, ...] = ()) -> dict[int, set[str]]:
    return {seq: {h} for seq, h in enumerate(hashes, start=1) if seq not in skip}


def test_a_ledger_whose_every_record_is_anchored_agrees():
    assert compare(chain("a1", "b2", "c3"), anchored("a1", "b2", "c3"), WHERE) is None
    assert compare([], {}, WHERE) is None


@pytest.mark.parametrize("store, anchor, kind, names", [
    # a chain rewritten from seq 2 with every hash recomputed: it verifies on its own
    (chain("a1", "B2", "C3"), anchored("a1", "b2", "c3"), REWRITTEN, "rewritten from seq 2"),
    # the last two records removed
    (chain("a1"), anchored("a1", "b2", "c3"), CUT_OFF, "records 2..3 were cut off"),
    # the whole store gone (or AUDIT_STORE pointed elsewhere)
    ([], anchored("a1", "b2"), DELETED, "holds no records, but the anchor topic a holds 2 up to seq 2"),
    # a writer that stopped between the store and the anchor, or a record added by hand
    (chain("a1", "b2", "c3"), anchored("a1", "b2"), UNANCHORED, "1 records .* \\(seq 3..3\\)"),
    (chain("a1", "b2", "c3"), anchored("a1", "b2", "c3", skip=(2,)), UNANCHORED, "seq 2..2"),
    # something else wrote to the anchor
    (chain("a1", "b2"), {1: {"a1"}, 2: {"b2", "x2"}}, CONFLICT, "two different records for seq 2"),
    # rewritten and then cut shorter than the anchor: the rewrite is what matters
    (chain("A1"), anchored("a1", "b2"), REWRITTEN, "rewritten from seq 1"),
])
def test_each_disagreement_is_named(store, anchor, kind, names):
    found = compare(store, anchor, WHERE)
    assert found is not None and found.kind == kind
    assert re.search(names, found.message), found.message


def test_an_anchored_duplicate_of_the_same_record_is_not_a_conflict():
    # `audit anchor` after a writer's publish that did arrive: the same bytes twice
    assert compare(chain("a1"), {1: {"a1"}}, WHERE) is None
