"""What `batch run --submit` hands to spark-submit: the command line and the code archive."""

from __future__ import annotations

import sys
import zipfile

from batch_layer.submit import ENTRY, code_archive, spark_home, submit_argv, submit_environment


def test_the_code_archive_holds_the_shipped_packages_and_is_built_once_per_code_version(tmp_path):
    archive = code_archive(tmp_path)
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"viewcount/rules.py", "batch_layer/flip.lua", "batch_layer/spark_rules.py",
            "adapters/redis/connection.py", "expectations/suites.py", "expectations/json/raw_batch.json"} <= names
    assert not any("__pycache__" in n or n.startswith(("app/", "tests/", "speed_layer/")) for n in names)
    built = archive.stat().st_mtime_ns
    assert code_archive(tmp_path) == archive and archive.stat().st_mtime_ns == built
    assert [p.name for p in tmp_path.iterdir()] == [archive.name]       # no partial file left


def test_submit_argv_runs_the_same_command_in_client_mode(tmp_path):
    archive = tmp_path / "code.zip"
    argv = submit_argv("spark://m:7077", "3g", "/etc/spark-defaults.conf", archive, ["batch", "run", "--rehash"])
    assert argv == [str(spark_home() / "bin" / "spark-submit"), "--master", "spark://m:7077",
                    "--deploy-mode", "client", "--name", "viewcount-batch", "--driver-memory", "3g",
                    "--py-files", str(archive), "--properties-file", "/etc/spark-defaults.conf",
                    str(ENTRY), "batch", "run", "--rehash"]
    assert "--properties-file" not in submit_argv("local[2]", "2g", "", archive, [])
    assert ENTRY.is_file()


def test_the_driver_runs_this_interpreter_unless_the_operator_named_another():
    assert submit_environment({})["PYSPARK_PYTHON"] == sys.executable
    assert submit_environment({"PYSPARK_PYTHON": "/opt/python"})["PYSPARK_PYTHON"] == "/opt/python"
