"""The master dataset's offset arithmetic: holes and overlaps between range files."""

from __future__ import annotations

import pytest

from viewcount.rawdata import RangeFile, overlaps


def rf(partition, first, last):
    return RangeFile(partition, first, last, 0, "t")


@pytest.mark.parametrize("files, expected", [
    ([rf(0, 0, 9), rf(0, 10, 19)], []),
    ([rf(0, 0, 9), rf(0, 5, 14)], [(0, 5, 9)]),
    ([rf(0, 0, 99), rf(0, 10, 19)], [(0, 10, 19)]),                    # one file inside another
    ([rf(1, 0, 9), rf(0, 5, 14), rf(1, 9, 20), rf(0, 0, 4)], [(1, 9, 9)]),   # per partition, any order
    ([rf(0, 0, 9), rf(0, 0, 9)], [(0, 0, 9)]),                         # the same range twice
    ([rf(0, 0, 9), rf(0, 10, 19), rf(0, 5, 14)], [(0, 5, 14)]),        # one stray file over two: one stretch
])
def test_overlaps_are_the_offsets_two_files_hold(files, expected):
    assert overlaps(files) == expected
