"""viewcount_replay: recompute event days FROM..TO, report the difference, publish on request.

Manual only. Params: ``from`` and ``to`` (YYYY-MM-DD, UTC event days, inclusive) and ``dry_run``
(default true: compute and report, write and publish nothing; ``publish`` is then skipped). The difference report is the
``replay`` task's output (XCom ``return_value``); with ``dry_run`` false the new version is
published and audited as a ``batch_replay``, and the ``viewcount_batch_views`` asset is updated (billing
on publish then writes the adjustment if the replay changed the latest closed month).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task

from app.dag_assets import BATCH_VIEWS
from app.dag_support import DEFAULT_ARGS, settings

DAY = r"^\d{4}-\d{2}-\d{2}$"


@dag(dag_id="viewcount_replay", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, default_args={**DEFAULT_ARGS, "retries": 0}, tags=["viewcount", "replay"],
     doc_md=__doc__,
     params={"from": Param(type="string", pattern=DAY, description="first event day, YYYY-MM-DD"),
             "to": Param(type="string", pattern=DAY, description="last event day, YYYY-MM-DD"),
             "dry_run": Param(True, type="boolean", description="report only; publish nothing")})
def viewcount_replay():
    @task
    def replay() -> dict:
        from app.batch_operations import replay as run
        from batch_layer.replay import parse_day, replay_extra

        params = get_current_context()["params"]
        report = run(settings(), parse_day(params["from"]), parse_day(params["to"]), bool(params["dry_run"]))
        return {"from": report.from_day, "to": report.to_day, "dry_run": bool(params["dry_run"]),
                "previous_version": report.previous_version,
                "version": None if params["dry_run"] else report.result.version,
                "net_views": sum(d.delta for d in report.diffs), "audit": replay_extra(report),
                "diffs": [{"day": d.day, "video_id": d.video_id, "published": d.published,
                           "recomputed": d.recomputed, "delta": d.delta} for d in report.diffs],
                "table": report.table()}

    @task(outlets=[BATCH_VIEWS])
    def publish(report: dict) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from app.batch_operations import publish_version
        from audit.kinds import BATCH_REPLAY

        if report["dry_run"]:   # skipped, so that no asset event says something was published
            raise AirflowSkipException(f"dry run: nothing published; {report['previous_version']} stays")
        done = publish_version(settings(), report["version"], kind=BATCH_REPLAY, extra=report["audit"])
        get_current_context()["outlet_events"][BATCH_VIEWS].extra = {
            "version": done["version"], "watermark": done["watermark"], "replayed": [report["from"], report["to"]]}
        return done

    publish(replay())


viewcount_replay()
