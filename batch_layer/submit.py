"""Running a batch command through ``spark-submit`` (client mode): the way a cluster's own
tooling (spark-defaults, event logs, YARN or Kubernetes submission) expects an application."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

from batch_layer.exceptions import BatchError

# What executors import when a stage runs the project's Python: its core and the batch layer.
SHIPPED_PACKAGES = ("viewcount", "adapters", "batch_layer", "expectations")
ENTRY = Path(__file__).resolve().parent.parent / "app" / "spark_entry.py"


def spark_home() -> Path:
    """The Spark of the pyspark install: its ``bin/spark-submit`` and ``bin/spark-class``."""
    try:
        import pyspark
    except ImportError as e:
        raise BatchError("pyspark is not installed: run `make setup`") from e
    return Path(pyspark.__file__).parent


def code_archive(into: Path) -> Path:
    """The shipped packages as one zip for ``--py-files``, named by a hash of their contents, so
    a changed checkout never runs an old archive and an unchanged one is built once."""
    root = Path(__file__).resolve().parent.parent
    files = sorted(p for package in SHIPPED_PACKAGES for p in (root / package).rglob("*")
                   if p.is_file() and p.suffix in (".py", ".lua", ".json", ".css") and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    archive = into / f"viewcount-code-{digest.hexdigest()[:16]}.zip"
    if not archive.exists():
        into.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out:
            for path in files:
                out.write(path, path.relative_to(root).as_posix())
        partial.replace(archive)
    return archive


def submit_argv(master: str, driver_memory: str, spark_conf: str, archive: Path, args: list[str]) -> list[str]:
    """``spark-submit`` running ``viewcount ARGS`` as the application, in client mode."""
    argv = [str(spark_home() / "bin" / "spark-submit"), "--master", master, "--deploy-mode", "client",
            "--name", "viewcount-batch", "--driver-memory", driver_memory, "--py-files", str(archive)]
    if spark_conf:
        argv += ["--properties-file", spark_conf]
    return [*argv, str(ENTRY), *args]


def submit_environment(environ: dict[str, str]) -> dict[str, str]:
    """The driver and its Python workers run this interpreter (the one with the project's
    dependencies) unless the operator named another."""
    return {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_HOME": str(spark_home()), **environ}
