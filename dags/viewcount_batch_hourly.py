"""viewcount_batch_hourly: every hour, recompute the batch views at W = the data interval's end,
check them, publish them.

The sensor waits (reschedule mode: no worker slot held) until every partition's flush progress
has passed W, so no record ingested before W can still be missing from the master dataset.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, get_current_context, task

from app.dag_support import DEFAULT_ARGS, settings


def _end_ms() -> int:
    return int(get_current_context()["data_interval_end"].timestamp() * 1000)


@dag(dag_id="viewcount_batch_hourly", schedule="@hourly", start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, default_args=DEFAULT_ARGS, tags=["viewcount", "batch"],
     doc_md=__doc__)
def viewcount_batch_hourly():
    @task.sensor(mode="reschedule", poke_interval=60, timeout=6 * 3600)
    def wait_for_flush() -> bool:
        from app.batch_operations import safe_watermark_now

        return safe_watermark_now(settings()) >= _end_ms()

    @task
    def recompute() -> str:
        from app.batch_operations import recompute as run

        return run(settings(), _end_ms()).version

    @task
    def expectations(version: str) -> str:
        from app.batch_operations import require_checks_passed

        require_checks_passed(settings(), version)
        return version

    @task
    def publish(version: str) -> dict:
        from app.batch_operations import publish_version

        return publish_version(settings(), version)

    version = recompute()
    wait_for_flush() >> version
    publish(expectations(version))


viewcount_batch_hourly()
