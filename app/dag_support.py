"""What the DAGs in ``dags/`` share: retries with exponential backoff, a failure callback that
logs and counts, and the settings of the worker's environment. Imports nothing heavy."""

from __future__ import annotations

import logging
from datetime import timedelta

logger = logging.getLogger("viewcount.dags")

FAILURE_METRIC = "viewcount.dag.task_failures"


def on_task_failure(context) -> None:
    """Log which task failed and why, and count it (Airflow's StatsD/OpenTelemetry metrics)."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    logger.error("viewcount task failed: dag=%s task=%s run=%s try=%s: %s", dag_id, task_id,
                 context.get("run_id"), getattr(ti, "try_number", "?"), context.get("exception"))
    try:
        from airflow.sdk.observability.stats import Stats

        Stats.incr(FAILURE_METRIC, tags={"dag_id": dag_id, "task_id": task_id})
    except Exception:  # metrics are best effort; the failure itself is already logged
        logger.exception("could not count the failure")


DEFAULT_ARGS = {
    "owner": "viewcount",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": on_task_failure,
}


def settings():
    """The VIEWCOUNT_* settings of the worker's environment (validated: a bad value fails the task)."""
    from viewcount.settings import Settings

    return Settings.from_env()
