"""Publishing a batch version: serving store first, pointer flip, then the audit record. The views
stream from where they are (a written version's files) into the store; none is held whole."""

from __future__ import annotations

from audit.kinds import BATCH_PUBLISH
from audit.ledger import AuditLedger
from batch_layer.exceptions import ChecksFailed, PublishConflict
from batch_layer.job import BatchResult
from viewcount import __version__
from batch_layer.views_store import BatchViewStore
from viewcount.timeutil import format_ms

GRACE_S = 3600  # readers mid-request on the previous version finish long before this


def publish(result: BatchResult, store: BatchViewStore, ledger: AuditLedger, actor: str | None = None,
            kind: str = BATCH_PUBLISH, extra: dict | None = None) -> dict:
    """Publish a version whose data checks passed; a failed one never reaches readers. A version
    whose manifest names what it was computed over (``based_on``) publishes only over that."""
    if not result.checks_passed:
        raise ChecksFailed(f"version {result.version} not published: {result.failed_checks()} "
                           f"(report: {result.checks_path}"
                           + (f"; Data Docs: {result.data_docs})" if result.data_docs else ")"))
    over = result.manifest.get("based_on")
    try:
        previous = store.publish_rows(result.version, result.watermark_ms, result.views.video_rows(),
                                      result.views.hour_rows(), GRACE_S, over=over)
    except PublishConflict as e:
        again = "`viewcount batch replay` again" if kind != BATCH_PUBLISH else "the batch again"
        raise PublishConflict(f"{e}: nothing was published (it would have rolled {e.current} back); run {again}, "
                              f"over what is published now", e.current) from e
    return ledger.append(
        kind,
        payload={"version": result.version, "watermark": format_ms(result.watermark_ms),
                 "previous_version": previous, "videos": result.videos, "views": result.total_views,
                 "outcomes": dict(sorted(result.outcomes.items())), **(extra or {})},
        inputs={"batch_version": result.version,
                "raw_input_fingerprint": result.manifest["raw_input_fingerprint"],
                "code_version": __version__},
        actor=actor)
