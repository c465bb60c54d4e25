"""Who owns a video now, as the API answers it (CONTRACT §9).

The serving store holds each video's *claims* (the creator its first counted view named, as the
batch version and as the speed layer hold it); :class:`Owners` resolves them with the catalog:
the catalog's assignment for the current hour, else the first claim (the batch's once a batch
version holds the video), else no one under ``OWNERSHIP=catalog``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from viewcount.ownership import Assignment, Catalog, OwnershipMode, owner_at
from viewcount.timeutil import hour_floor, now_ms


class CatalogSource(Protocol):
    """The catalog as it stands (``catalog.store.CatalogView``, injected by the application)."""

    def current(self) -> Catalog: ...


class CatalogEditor(CatalogSource, Protocol):
    """A catalog the admin can write to (``PUT /v1/admin/videos/{id}``)."""

    def assign(self, video_id: str, creator_id: str, effective_from_ms: int, actor: str | None = None) -> Assignment:
        """Append an assignment; raises a ``ViewcountError`` with a message safe to show when the
        catalog refuses it (a billed month), or a ``StoreError`` when the ledger is unreachable."""


class FixedCatalog:
    """A catalog that does not change: for a reader without a ledger (tests, a one-off check)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._catalog = catalog or Catalog()

    def current(self) -> Catalog:
        return self._catalog


def first_claim(batch_claim: str | None, speed_claim: str | None) -> str | None:
    """The batch sees all history, so its claim wins once a batch version holds the video."""
    return batch_claim or speed_claim or None


@dataclass(frozen=True)
class OwnersAt:
    """Owners as of one catalog and one hour: a whole answer (every page of a creator's videos)
    is resolved against the same catalog."""

    catalog: Catalog
    mode: OwnershipMode
    hour_ms: int

    def owner(self, video_id: str, claim: str | None) -> str | None:
        return owner_at(self.catalog, claim, self.mode, video_id, self.hour_ms)

    def catalog_candidates(self, creator_id: str) -> set[str]:
        """Videos the catalog ever assigned to the creator (the owner check decides which are theirs now)."""
        return self.catalog.candidates_of(creator_id)


class Owners:
    def __init__(self, catalog: CatalogSource, mode: OwnershipMode,
                 clock: Callable[[], int] = now_ms) -> None:
        self._catalog, self.mode, self._clock = catalog, mode, clock

    def now(self) -> OwnersAt:
        return OwnersAt(self._catalog.current(), self.mode, hour_floor(self._clock()))
