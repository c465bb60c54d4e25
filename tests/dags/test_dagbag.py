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
    # Where each timetable puts its next run after an instant, and what the DAG's own resolution
    # makes of that run: the month a scheduled billing run bills, the W an hourly run recomputes.
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction
    from app.dag_periods import billing_period, hourly_watermark
    from viewcount.timeutil import format_ms

    def next_run(dag_id, after):
        timetable = coerce_to_core_timetable(bag.dags[dag_id].timetable)
        return timetable.next_dagrun_info(last_automated_data_interval=None, restriction=TimeRestriction(
            earliest=pendulum.parse(after), latest=None, catchup=True))

    def unreachable():
        raise AssertionError("a scheduled run must not need the published watermark")

    out["boundaries"] = {}
    for after in ("2026-11-30T23:59:59Z", "2026-12-01T00:00:00Z", "2026-12-31T23:00:00Z"):
        info = next_run("viewcount_billing_monthly", after)
        out["boundaries"][after] = [info.run_after.isoformat(), str(billing_period(
            "", "scheduled", info.logical_date, unreachable))]
    for after in ("2026-11-20T10:17:00Z", "2026-11-20T23:59:59Z"):
        info = next_run("viewcount_batch_hourly", after)
        out["boundaries"][after] = [info.run_after.isoformat(), format_ms(hourly_watermark(
            "", info.data_interval.end, info.run_after))]
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
    assert set(bag["dags"]) == {"viewcount_batch_hourly", "viewcount_billing_monthly",
                                "viewcount_billing_on_publish", "viewcount_replay"}
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
    for dag_id, schedule in [("viewcount_billing_monthly", "CronTriggerTimetable"),
                             ("viewcount_billing_on_publish", "AssetTriggeredTimetable")]:
        billing = bag["dags"][dag_id]
        assert billing["schedule"] == schedule and billing["params"] == {"period": ""}
        assert billing["tasks"]["wait_until_closed"]["mode"] == "reschedule"
        assert billing["tasks"]["bill"]["upstream"] == ["checks", "resolve_period"]
        assert billing["tasks"]["statement"]["upstream"] == ["bill"]
    replay = bag["dags"]["viewcount_replay"]
    assert replay["schedule"] == "NullTimetable"   # manual only
    assert replay["params"]["dry_run"] is True
    assert replay["tasks"]["publish"]["upstream"] == ["replay"]


def test_a_scheduled_billing_run_at_midnight_on_the_first_bills_the_month_that_ended(bag):
    """The run the timetable places at 00:00 UTC on the 1st resolves to the previous month."""
    assert bag["boundaries"]["2026-11-30T23:59:59Z"] == ["2026-12-01T00:00:00+00:00", "2026-11"]
    assert bag["boundaries"]["2026-12-01T00:00:00Z"] == ["2026-12-01T00:00:00+00:00", "2026-11"]
    assert bag["boundaries"]["2026-12-31T23:00:00Z"] == ["2027-01-01T00:00:00+00:00", "2026-12"]


def test_a_scheduled_hourly_run_recomputes_at_the_hour_it_closes(bag):
    assert bag["boundaries"]["2026-11-20T10:17:00Z"] == ["2026-11-20T11:00:00+00:00", "2026-11-20T11:00:00.000Z"]
    assert bag["boundaries"]["2026-11-20T23:59:59Z"] == ["2026-11-21T00:00:00+00:00", "2026-11-21T00:00:00.000Z"]


class Ti:
    dag_id, task_id, try_number = "viewcount_replay", "replay", 2


def test_the_failure_callback_logs_the_task_and_pushes_when_it_failed(caplog, monkeypatch, gateway):
    import time

    from app.dag_support import on_task_failure

    url, got = gateway
    monkeypatch.setenv("VIEWCOUNT_PUSHGATEWAY", url)
    before = time.time()
    with caplog.at_level("ERROR", logger="viewcount.dags"):
        on_task_failure({"task_instance": Ti(), "run_id": "manual__1", "exception": ValueError("no raw data")})
    assert "dag=viewcount_replay task=replay run=manual__1 try=2: no raw data" in caplog.text
    [(method, path, body)] = got
    assert (method, path) == ("POST", "/metrics/job/viewcount_dags/dag_id/viewcount_replay/task_id/replay")
    [value] = [line.split()[-1] for line in body.decode().splitlines()
               if line.startswith("viewcount_dag_task_last_failure_timestamp_seconds ")]
    assert before <= float(value) <= time.time()


def test_a_failure_is_still_logged_when_the_gateway_is_down_or_not_set(caplog, monkeypatch):
    import socket

    from app.dag_support import on_task_failure

    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("VIEWCOUNT_PUSHGATEWAY", f"http://127.0.0.1:{s.getsockname()[1]}")
    with caplog.at_level("WARNING", logger="viewcount.dags"):
        on_task_failure({"task_instance": Ti(), "run_id": "manual__2", "exception": ValueError("boom")})
        monkeypatch.delenv("VIEWCOUNT_PUSHGATEWAY")
        on_task_failure({"task_instance": Ti(), "run_id": "manual__3", "exception": ValueError("boom")})
    assert "run=manual__2" in caplog.text and "could not push the failure of viewcount_replay.replay" in caplog.text
    assert "run=manual__3" in caplog.text and "VIEWCOUNT_PUSHGATEWAY is not set" in caplog.text
