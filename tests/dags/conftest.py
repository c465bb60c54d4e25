"""Airflow for the DAG tests: a metadata DB (SQLite) in a temporary AIRFLOW_HOME, initialised once
per session, and a factory that runs a DAG with ``dag.test()`` in its own process against the
session's real stack."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dags.run_dag import MARKER
from viewcount.settings import Settings

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow")
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"}
    done = subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return env


@pytest.fixture
def run_dag(airflow_env) -> Callable[..., dict]:
    """``run_dag(dag_id, settings, conf={}, logical_date=None)`` → the run's state, seconds and
    each task's state and output."""

    def run(dag_id: str, settings: Settings, conf: dict | None = None, logical_date: str = "") -> dict:
        env = {**os.environ, **airflow_env, **settings.to_env()}
        done = subprocess.run([sys.executable, "-m", "tests.dags.run_dag", dag_id, json.dumps(conf or {}),
                               logical_date], env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-4000:]
        lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
        assert lines, done.stdout[-3000:] + done.stderr[-3000:]
        result = json.loads(lines[-1][len(MARKER):])
        result["log"] = done.stderr
        return result

    return run


@pytest.fixture
def gateway():
    """A loopback HTTP endpoint that answers like a Pushgateway and keeps each request it got:
    ``(url, [(method, path, body)…])``."""
    got: list[tuple[str, str, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((self.command, self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", got
    server.shutdown()
