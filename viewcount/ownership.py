"""Who owns a video (CONTRACT §9), as pure functions every layer builds on.

A video's owner for an hour is the creator the **catalog** assigns it to for that hour; without
an entry, under ``OWNERSHIP=first-claim``, the creator named by its first counted view (the
lowest offset); under ``OWNERSHIP=catalog``, no one. The ``creator_id`` of later records never
moves a video: that is what stops a take-over by one forged event.

The catalog is a list of assignments, each effective from a UTC hour. For an hour, the
assignment with the latest ``effective_from`` at or before it wins; of two with the same hour,
the later one written (higher ``seq``). Hours before a video's first assignment fall back to the
first claim, so a creator's history from before the catalog knew the video stays theirs.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from viewcount.timeutil import HOUR_MS


class OwnershipMode(str, Enum):
    FIRST_CLAIM = "first-claim"
    CATALOG = "catalog"


@dataclass(frozen=True, order=True)
class Assignment:
    """One catalog entry: ``video_id`` belongs to ``creator_id`` from ``effective_from_ms`` on."""

    video_id: str
    effective_from_ms: int
    seq: int
    creator_id: str


class Catalog:
    """The catalog at one moment: every assignment, indexed for ``owner_at`` (an immutable value;
    :meth:`with_assignments` returns a new one)."""

    def __init__(self, assignments: Iterable[Assignment] = ()) -> None:
        self._by_video: dict[str, list[Assignment]] = {}
        self._videos_of: dict[str, set[str]] = {}
        self._add(assignments)

    def _add(self, assignments: Iterable[Assignment]) -> None:
        for a in assignments:
            if a.effective_from_ms % HOUR_MS:
                raise ValueError(f"an assignment takes effect on a UTC hour, not at {a.effective_from_ms} ms")
            bisect.insort(self._by_video.setdefault(a.video_id, []), a)
            self._videos_of.setdefault(a.creator_id, set()).add(a.video_id)

    def with_assignments(self, assignments: Iterable[Assignment]) -> Catalog:
        catalog = Catalog()
        catalog._add(a for entries in self._by_video.values() for a in entries)
        catalog._add(assignments)
        return catalog

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_video.values())

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._by_video

    def videos(self) -> set[str]:
        """Every video the catalog has an assignment for."""
        return set(self._by_video)

    def history(self, video_id: str) -> list[Assignment]:
        """The video's assignments in effect order."""
        return list(self._by_video.get(video_id, ()))

    def assignments(self) -> list[Assignment]:
        return sorted(a for entries in self._by_video.values() for a in entries)

    def owner_at(self, video_id: str, hour_ms: int) -> str | None:
        """The creator the catalog assigns the video to at ``hour_ms``, or None (no entry yet)."""
        entries = self._by_video.get(video_id)
        if not entries:
            return None
        # The last entry whose effective hour is at or before hour_ms (seq breaks ties: insort
        # keeps entries ordered by (effective hour, seq)).
        i = bisect.bisect_right(entries, hour_ms, key=lambda a: a.effective_from_ms)
        return entries[i - 1].creator_id if i else None

    def candidates_of(self, creator_id: str) -> set[str]:
        """Every video ever assigned to the creator (a superset of what they own at any hour)."""
        return set(self._videos_of.get(creator_id, ()))


def owner_at(catalog: Catalog, first_claim: str | None, mode: OwnershipMode, video_id: str,
             hour_ms: int) -> str | None:
    """CONTRACT §9: the catalog's assignment for the hour, else the first claim (``first-claim``
    mode), else no one."""
    assigned = catalog.owner_at(video_id, hour_ms)
    if assigned is not None:
        return assigned
    return first_claim if mode is OwnershipMode.FIRST_CLAIM else None


@dataclass(frozen=True)
class Payable:
    """A set of counted views divided by owner: what each creator is paid for, and what no one is."""

    by_creator: dict[str, int]
    unassigned: int
    unassigned_videos: dict[str, int]   # video → views that no one owned


def payable_views(hourly: Iterable[tuple[str, int, int]], first_claims: Mapping[str, str], catalog: Catalog,
                  mode: OwnershipMode) -> Payable:
    """``(video, event hour ms, views)`` rows → views per owner at each view's event hour (§7)."""
    by_creator: Counter = Counter()
    unassigned: Counter = Counter()
    for video, hour_ms, views in hourly:
        owner = owner_at(catalog, first_claims.get(video), mode, video, hour_ms)
        if owner is None:
            unassigned[video] += views
        else:
            by_creator[owner] += views
    return Payable(dict(by_creator), sum(unassigned.values()), dict(unassigned))


def owner_mismatches(rows: Iterable[tuple[str, int, str, int]], first_claims: Mapping[str, str], catalog: Catalog,
                     mode: OwnershipMode) -> dict[str, int]:
    """``(video, event hour ms, creator named by the records, views)`` rows → per video, the
    counted views naming a creator other than the owner (§9 ``owner_mismatch``). Views of an hour
    that no one owns are unassigned, not mismatched."""
    return mismatched_views(((video, hour_ms, named, views, first_claims.get(video))
                             for video, hour_ms, named, views in rows), catalog, mode)


def mismatched_views(rows: Iterable[tuple[str, int, str, int, str | None]], catalog: Catalog,
                     mode: OwnershipMode) -> dict[str, int]:
    """:func:`owner_mismatches` over rows that carry their video's first claim:
    ``(video, event hour ms, named creator, views, first claim)``. A row of a video the catalog
    does not know, named by its first claim, can never mismatch: callers may leave such rows out."""
    found: Counter = Counter()
    for video, hour_ms, named, views, first_claim in rows:
        owner = owner_at(catalog, first_claim, mode, video, hour_ms)
        if owner is not None and owner != named:
            found[video] += views
    return dict(found)
