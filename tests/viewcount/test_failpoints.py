"""Failpoints are named, checked and inert unless armed (the kill itself is proven by
tests/faults/test_kill_at_each_step.py, in processes of their own)."""

from __future__ import annotations

import pytest

from viewcount.failpoints import ALL_POINTS, Failpoints


def test_a_list_of_names_arms_exactly_those_points():
    armed = Failpoints.parse(" speed.applied, sink.fenced ,")
    assert armed.armed == {"speed.applied", "sink.fenced"}
    assert Failpoints.parse("").armed == frozenset()


def test_an_unknown_name_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError) as refused:
        Failpoints.parse("sink.fenced,sink.nowhere")
    assert "sink.nowhere" in str(refused.value) and all(p in str(refused.value) for p in ALL_POINTS)


def test_points_not_armed_do_nothing():
    armed = Failpoints.parse("sink.fenced")
    for point in ALL_POINTS:
        if point != "sink.fenced":
            armed(point)     # this process lives on
