"""Errors of the audit ledger."""

from viewcount.errors import DependencyUnavailable, ViewcountError


class AuditError(ViewcountError):
    """Base class for audit-ledger failures."""


class LedgerCorrupt(AuditError):
    """Verification found a record that does not hold; the message names the first one."""


class HeadMoved(AuditError):
    """Another appender took the sequence number this record was built for."""


class AnchorMismatch(LedgerCorrupt):
    """The ledger is consistent in itself but disagrees with its anchor: rewritten, truncated,
    deleted, or holding records the anchor never saw. The message names which and from where."""


class AnchorUnavailable(AuditError, DependencyUnavailable):
    """The anchor could not be read or written (its topic is missing, or the broker is down)."""
