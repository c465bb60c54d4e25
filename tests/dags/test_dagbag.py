"""The dags folder: every DAG imports cleanly, has no cycle, parses in under a second, and keeps
its logic in the layers (retries with backoff, failure callback, reschedule sensors, params)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.dags.conftest import DAGS

PROBE = textwrap.dedent("""
    import json
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag()
    out = {"errors": {k: v[-500:] for k, v in bag.import_errors.items()},
           "seconds": {s.file: s.duration.total_seconds() for s in bag.dagbag_stats}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "schedule": type(dag.timetable).__name__, "params": {k: dag.params.get_param(k).value for k in dag.params},
            "tasks": {t.task_id: {"retries": t.retries, "backoff": t.retry_exponential_backoff,
                                  "callback": bool(t.on_failure_callback), "mode": getattr(t, "mode", None),
                                  "upstream": sorted(t.upstream_task_ids)} for t in dag.tasks}}
    print("probe: " + json.dumps(out, default=str))
""")


@pytest.fixture(scope="module")
def bag(airflow_env) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, **airflow_env}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("probe: "))[7:])


def test_every_dag_imports_without_errors_and_parses_in_under_a_second(bag):
    assert bag["errors"] == {}
    assert set(bag["dags"]) == {"viewcount_batch_hourly", "viewcount_billing_monthly", "viewcount_replay"}
    files = {p.name for p in DAGS.glob("*.py")}
    assert set(bag["seconds"]) == files
    assert all(seconds < 1.0 for seconds in bag["seconds"].values()), bag["seconds"]


def test_no_dag_has_a_cycle(bag):
    for dag_id, dag in bag["dags"].items():
        upstream = {t: set(v["upstream"]) for t, v in dag["tasks"].items()}
        while upstream:     # peel off tasks whose upstreams are all gone; a cycle never peels
            ready = {t for t, ups in upstream.items() if not ups & set(upstream)}
            assert ready, f"{dag_id}: cycle among {sorted(upstream)}"
            upstream = {t: ups for t, ups in upstream.items() if t not in ready}


def test_tasks_retry_with_backoff_and_report_failures(bag):
    for dag_id, dag in bag["dags"].items():
        for task_id, task in dag["tasks"].items():
            assert task["callback"], (dag_id, task_id)
            if dag_id != "viewcount_replay":   # a replay is started by a person, who re-triggers it
                assert task["retries"] == 3 and task["backoff"], (dag_id, task_id)


def test_the_flow_of_each_dag(bag):
    hourly = bag["dags"]["viewcount_batch_hourly"]["tasks"]
    assert hourly["wait_for_flush"]["mode"] == "reschedule"
    assert hourly["recompute"]["upstream"] == ["wait_for_flush"]
    assert hourly["expectations"]["upstream"] == ["recompute"]
    assert hourly["publish"]["upstream"] == ["expectations"]
    billing = bag["dags"]["viewcount_billing_monthly"]
    assert billing["tasks"]["wait_until_closed"]["mode"] == "reschedule"
    assert billing["tasks"]["bill"]["upstream"] == ["checks", "resolve_period"]
    assert billing["tasks"]["statement"]["upstream"] == ["bill"]
    replay = bag["dags"]["viewcount_replay"]
    assert replay["schedule"] == "NullTimetable"   # manual only
    assert replay["params"]["dry_run"] is True
    assert replay["tasks"]["publish"]["upstream"] == ["replay"]


def test_the_failure_callback_logs_the_task(caplog):
    from app.dag_support import on_task_failure

    class Ti:
        dag_id, task_id, try_number = "viewcount_replay", "replay", 2

    with caplog.at_level("ERROR", logger="viewcount.dags"):
        on_task_failure({"task_instance": Ti(), "run_id": "manual__1", "exception": ValueError("no raw data")})
    assert "dag=viewcount_replay task=replay run=manual__1 try=2: no raw data" in caplog.text
