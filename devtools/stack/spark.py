"""A Spark standalone cluster for the local stack: one Master and one Worker, both from the
pyspark install (``spark-class``), on loopback. ``viewcount batch run`` reaches it with
``VIEWCOUNT_SPARK_MASTER=spark://127.0.0.1:{SPARK_PORT_BASE}``."""

from __future__ import annotations

import json
import os
import urllib.request

from viewcount.settings import Settings
from batch_layer.submit import spark_home
from devtools.stack.services import Service, _java

# Every Spark process of the stack binds loopback, and a driver that reaches them does too:
# left to itself, Spark picks the first non-loopback interface.
LOOPBACK = "127.0.0.1"


def master_url(settings: Settings) -> str:
    """The local cluster's master, as ``VIEWCOUNT_SPARK_MASTER`` names it."""
    return f"spark://{LOOPBACK}:{settings.spark_port_base}"


class _SparkService(Service):
    main_class: str

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        base = settings.spark_port_base
        self.master_port, self.master_ui, self.worker_port, self.worker_ui = base, base + 1, base + 2, base + 3

    def prepare(self) -> None:
        _java()   # names the missing runtime before spark-class fails on it
        (self.home / "work").mkdir(parents=True, exist_ok=True)

    def environment(self) -> dict[str, str]:
        return {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": LOOPBACK,
                "SPARK_LOG_DIR": str(self.home), "SPARK_WORKER_DIR": str(self.home / "work"),
                # the daemons are small; executors get their own memory from the application
                "SPARK_DAEMON_MEMORY": "512m"}

    def _master_state(self) -> dict:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{self.master_ui}/json/", timeout=2) as answer:
            return json.load(answer)


class SparkMasterService(_SparkService):
    name = "spark-master"
    main_class = "org.apache.spark.deploy.master.Master"

    @property
    def address(self) -> str:
        return f"{master_url(self.settings)} (web UI http://{LOOPBACK}:{self.master_ui})"

    def ports(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, self.master_port), (LOOPBACK, self.master_ui)]

    def argv(self) -> list[str]:
        return [str(spark_home() / "bin" / "spark-class"), self.main_class, "--host", LOOPBACK,
                "--port", str(self.master_port), "--webui-port", str(self.master_ui)]

    def healthy(self) -> bool:
        return self._master_state().get("status") == "ALIVE"


class SparkWorkerService(_SparkService):
    name = "spark-worker"
    main_class = "org.apache.spark.deploy.worker.Worker"

    @property
    def address(self) -> str:
        return f"spark://{LOOPBACK}:{self.worker_port} (web UI http://{LOOPBACK}:{self.worker_ui})"

    def ports(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, self.worker_port), (LOOPBACK, self.worker_ui)]

    def environment(self) -> dict[str, str]:
        # an application's files under work/ are removed once it has finished
        return {**super().environment(),
                "SPARK_WORKER_OPTS": "-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=3600"}

    def argv(self) -> list[str]:
        return [str(spark_home() / "bin" / "spark-class"), self.main_class, "--host", LOOPBACK,
                "--port", str(self.worker_port), "--webui-port", str(self.worker_ui),
                "--cores", str(os.cpu_count() or 2), "--memory", "4g", "--work-dir", str(self.home / "work"),
                master_url(self.settings)]

    def healthy(self) -> bool:
        workers = self._master_state().get("workers", [])
        return any(w.get("state") == "ALIVE" and w.get("host") == LOOPBACK for w in workers)
