"""What the DAGs in ``dags/`` share: retries with exponential backoff, a failure callback that
logs, counts and alerts, and the settings of the worker's environment. Imports nothing heavy at
module level (the assets are in :mod:`app.dag_assets`)."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

logger = logging.getLogger("viewcount.dags")

FAILURE_METRIC = "viewcount.dag.task_failures"
FAILURE_GAUGE = "viewcount_dag_task_last_failure_timestamp_seconds"
PUSH_JOB = "viewcount_dags"


def on_task_failure(context) -> None:
    """Log which task failed and why, count it in Airflow's metrics, and push the failure's time to
    the Prometheus Pushgateway (``VIEWCOUNT_PUSHGATEWAY``), where ``ViewcountDagTaskFailed`` in
    ``docker/prometheus/alerts.yml`` pages on it."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    logger.error("viewcount task failed: dag=%s task=%s run=%s try=%s: %s", dag_id, task_id,
                 context.get("run_id"), getattr(ti, "try_number", "?"), context.get("exception"))
    try:
        from airflow.sdk.observability.stats import Stats

        Stats.incr(FAILURE_METRIC, tags={"dag_id": dag_id, "task_id": task_id})
    except Exception:  # Airflow's own metrics are best effort; the push below is the alert
        logger.exception("could not count the failure in Airflow's metrics")
    gateway = os.environ.get("VIEWCOUNT_PUSHGATEWAY", "")
    if gateway:
        push_failure(gateway, dag_id, task_id, time.time())
    else:
        logger.warning("VIEWCOUNT_PUSHGATEWAY is not set: this failure raises no alert")


def push_failure(gateway: str, dag_id: str, task_id: str, at: float) -> None:
    """Set ``viewcount_dag_task_last_failure_timestamp_seconds{dag_id, task_id}`` on the gateway, in
    a group of its own per task so that one task's push never replaces another's."""
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    Gauge(FAILURE_GAUGE, "When a viewcount DAG task last failed (Unix seconds)", registry=registry).set(at)
    try:
        pushadd_to_gateway(gateway, job=PUSH_JOB, registry=registry, timeout=10,
                           grouping_key={"dag_id": dag_id, "task_id": task_id})
    except OSError:   # the failure is logged above; a gateway that is down must not hide it
        logger.exception("could not push the failure of %s.%s to %s", dag_id, task_id, gateway)


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
