"""viewcount_batch_hourly: every hour, recompute the batch views at W, check them, publish them.

**Timetable.** ``CronTriggerTimetable("0 * * * *", timezone="UTC", interval=1 hour)``: a run at
every full hour whose data interval is the hour that has just ended; W is that interval's end.

**Manual runs.** W is floored to the hour for any trigger: a run triggered at 10:17 recomputes at
10:00. The ``watermark`` param (RFC 3339, e.g. ``2026-11-20T10:00:00Z``) asks for another W, also
floored; it must not be past what every partition has flushed, or the sensor waits for it.

The sensor waits (reschedule mode: no worker slot held) until every partition's flush progress
has passed W, so no record ingested before W can still be missing from the master dataset.
``publish`` updates the ``viewcount_batch_views`` asset, which schedules billing on publish.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from app.dag_assets import BATCH_VIEWS
from app.dag_support import DEFAULT_ARGS, settings

HOURLY = CronTriggerTimetable("0 * * * *", timezone="UTC", interval=timedelta(hours=1))
RFC3339 = r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$"


def _watermark_ms() -> int:
    from app.dag_periods import hourly_watermark

    context = get_current_context()
    return hourly_watermark(context["params"].get("watermark") or "", context.get("data_interval_end"),
                            context["dag_run"].run_after)


@dag(dag_id="viewcount_batch_hourly", schedule=HOURLY, start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, default_args=DEFAULT_ARGS, tags=["viewcount", "batch"], doc_md=__doc__,
     params={"watermark": Param("", type="string", pattern=RFC3339,
                                description="RFC 3339 instant, floored to the hour; empty: this run's hour")})
def viewcount_batch_hourly():
    @task.sensor(mode="reschedule", poke_interval=60, timeout=6 * 3600)
    def wait_for_flush() -> bool:
        from app.batch_operations import safe_watermark_now

        return safe_watermark_now(settings()) >= _watermark_ms()

    @task
    def recompute() -> str:
        from app.batch_operations import recompute as run

        return run(settings(), _watermark_ms()).version

    @task
    def expectations(version: str) -> str:
        from app.batch_operations import require_checks_passed

        require_checks_passed(settings(), version)
        return version

    @task(outlets=[BATCH_VIEWS])
    def publish(version: str) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from app.batch_operations import publish_version

        done = publish_version(settings(), version)
        if not done["published"]:   # a newer W is published: no asset event, nothing to bill anew
            raise AirflowSkipException(f"not published: {done['current']} has a later watermark")
        get_current_context()["outlet_events"][BATCH_VIEWS].extra = {"version": version,
                                                                    "watermark": done["watermark"]}
        return done

    version = recompute()
    wait_for_flush() >> version
    publish(expectations(version))


viewcount_batch_hourly()
