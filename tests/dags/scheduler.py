"""Airflow under its own scheduler, for the tests: the API server, the scheduler (LocalExecutor)
and the DAG processor on SQLite in a temporary AIRFLOW_HOME, with the project's dags folder, and
a client that talks to it over the REST API as a user would (a JWT from ``/auth/token``).

The scheduler is started with ``[scheduler] use_job_schedule = False``: it runs what is
triggered and creates no runs from the timetables on its own, so a test is not raced by the
cron tick of the day it runs on (which month a scheduled run bills is asserted through the
timetables' own API, in ``test_dagbag.py``). ``schedule_runs()`` restarts it with schedules on,
for asset-triggered runs, once every DAG with a cron schedule is paused.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devtools.sandbox import free_ports, wait_for
from tests.dags.conftest import DAGS

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
USER = "finance"
DONE = {"success", "failed"}


class AirflowClient:
    """The REST API (``/api/v2``) with a bearer token, as finance's scripts would use it."""

    def __init__(self, base: str, password: str) -> None:
        self.base = base
        self.process_groups: list[int] = []   # of every Airflow process started, for checking they are gone
        self.schedule_runs = lambda: None      # set by airflow_scheduler
        answer = httpx.post(f"{base}/auth/token", json={"username": USER, "password": password}, timeout=30)
        answer.raise_for_status()
        self._headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        return httpx.request(method, f"{self.base}/api/v2{path}", json=body, headers=self._headers, timeout=30)

    def trigger(self, dag_id: str, conf: dict) -> str:
        """Unpause the DAG and trigger a run with ``conf``; returns the run id."""
        self.call("PATCH", f"/dags/{dag_id}", {"is_paused": False}).raise_for_status()
        answer = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        assert answer.status_code == 200, answer.text
        return answer.json()["dag_run_id"]

    def wait_done(self, dag_id: str, run_id: str, timeout_s: float) -> dict:
        def finished():
            run = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()
            return run if run["state"] in DONE else None

        return wait_for(finished, timeout_s, interval_s=1.0, what=f"{dag_id} run {run_id} to finish")

    def wait_run(self, dag_id: str, run_type: str, timeout_s: float) -> str:
        """The id of the first run of ``run_type`` the scheduler creates for the DAG."""
        def created():
            runs = self.call("GET", f"/dags/{dag_id}/dagRuns?run_type={run_type}").json()["dag_runs"]
            return runs[0]["dag_run_id"] if runs else None

        return wait_for(created, timeout_s, interval_s=1.0, what=f"a {run_type} run of {dag_id}")

    def tasks(self, dag_id: str, run_id: str) -> dict[str, dict]:
        answer = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        answer.raise_for_status()
        return {t["task_id"]: t for t in answer.json()["task_instances"]}

    def output(self, dag_id: str, run_id: str, task_id: str):
        answer = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
        answer.raise_for_status()
        return answer.json()["value"]


@contextmanager
def airflow_scheduler(home: Path, env: dict[str, str]) -> Iterator[AirflowClient]:
    """Start the API server, the scheduler and the DAG processor with ``env`` (the workers' VIEWCOUNT_*
    settings among it); yield a client once the project's DAGs are parsed; stop every process."""
    port = free_ports(1)[0]
    password = secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({USER: password}))
    airflow_env = {
        **os.environ, **env,
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32), "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
    }
    migrated = subprocess.run([AIRFLOW, "db", "migrate"], env=airflow_env, capture_output=True, text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    processes: dict[str, subprocess.Popen] = {}
    started: list[int] = []

    def start(name: str, args: list[str], overrides: dict[str, str] | None = None) -> None:
        with open(home / f"{name}.log", "ab") as log:   # the child keeps its own descriptor
            processes[name] = subprocess.Popen([AIRFLOW, *args], env={**airflow_env, **(overrides or {})}, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)  # workers die with it
        started.append(processes[name].pid)

    try:
        start("api-server", ["api-server", "--port", str(port), "--host", "127.0.0.1"])
        start("scheduler", ["scheduler"])
        start("dag-processor", ["dag-processor"])

        def healthy():
            _fail_if_exited(processes, home)
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, 180, interval_s=1.0, what="the Airflow API server")
        client = AirflowClient(f"http://127.0.0.1:{port}", password)

        def parsed():
            _fail_if_exited(processes, home)
            listed = client.call("GET", "/dags?dag_id_pattern=viewcount").json().get("dags", [])
            return len(listed) == len(expected_dags()) or None

        wait_for(parsed, 180, interval_s=1.0, what="the DAG processor to parse the project's DAGs")

        def schedule_runs() -> None:
            """Restart the scheduler so that it creates runs from schedules and assets too."""
            _stop(processes["scheduler"])
            start("scheduler", ["scheduler"], {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True"})

        client.process_groups, client.schedule_runs = started, schedule_runs
        yield client
    finally:
        for process in processes.values():
            _stop(process)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def expected_dags() -> set[str]:
    return {"viewcount_batch_hourly", "viewcount_billing_monthly", "viewcount_billing_on_publish", "viewcount_replay"}


def _fail_if_exited(processes: dict[str, subprocess.Popen], home: Path) -> None:
    for name, process in processes.items():
        if process.poll() is not None:
            raise AssertionError(f"airflow {name} exited with {process.returncode}: "
                                 f"{(home / f'{name}.log').read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (the server's workers, the executor's task processes), then
    SIGKILL to whatever is left."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
        try:   # the leader is gone; its group may not be
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
