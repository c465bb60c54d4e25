"""The batch session's settings: defaults, the operator's spark-defaults.conf, pinned keys."""

from __future__ import annotations

import pytest

from batch_layer.spark_conf import PINNED, SparkConfError, parse_spark_defaults, read_spark_conf, session_conf


def test_spark_defaults_lines_in_both_separators_with_comments():
    text = ("# executors\n"
            "spark.executor.memory   3g\n"
            "spark.cores.max=4\n"
            "\n"
            "spark.executor.extraJavaOptions -XX:+UseG1GC -Dkey=value\n"
            "spark.eventLog.dir = hdfs://nn:8020/spark-events\n")
    assert parse_spark_defaults(text, "f.conf") == {
        "spark.executor.memory": "3g", "spark.cores.max": "4",
        "spark.executor.extraJavaOptions": "-XX:+UseG1GC -Dkey=value",
        "spark.eventLog.dir": "hdfs://nn:8020/spark-events"}


@pytest.mark.parametrize("line, message", [
    ("spark.sql.session.timeZone Europe/Paris", "f.conf:2: spark.sql.session.timeZone is fixed at 'UTC'"),
    ("spark.hadoop.fs.permissions.umask-mode 022", "f.conf:2: spark.hadoop.fs.permissions.umask-mode is fixed"),
    ("spark.master spark://elsewhere:7077", "f.conf:2: set spark.master with VIEWCOUNT_SPARK_MASTER"),
    ("spark.driver.memory 8g", "f.conf:2: set spark.driver.memory with VIEWCOUNT_SPARK_DRIVER_MEMORY"),
    ("executor.memory 3g", "f.conf:2: expected `spark.<key> <value>`"),
    ("spark.executor.cores", "f.conf:2: expected `spark.<key> <value>`"),
    ("spark.cores.max 2", "f.conf:2: spark.cores.max is set twice"),
])
def test_a_line_that_cannot_be_used_is_refused_by_file_and_line(line, message):
    with pytest.raises(SparkConfError) as refused:
        parse_spark_defaults(f"spark.cores.max 4\n{line}\n", "f.conf")
    assert str(refused.value).startswith(message)


def test_the_operator_overrides_defaults_and_never_the_pinned_keys():
    conf = session_conf("spark://cluster:7077", "3g", 8, {"spark.ui.enabled": "true", "spark.executor.memory": "2g"})
    assert conf == {"spark.driver.memory": "3g", "spark.ui.enabled": "true", "spark.sql.shuffle.partitions": "8",
                    "spark.executor.memory": "2g", **PINNED}
    assert session_conf("local[2]", "2g", 4)["spark.locality.wait"] == "0"
    on_loopback = session_conf("spark://127.0.0.1:17077", "2g", 4)
    assert on_loopback["spark.driver.host"] == on_loopback["spark.driver.bindAddress"] == "127.0.0.1"


def test_read_spark_conf(tmp_path):
    assert read_spark_conf("") == {}
    path = tmp_path / "spark-defaults.conf"
    path.write_text("spark.executor.memory 1g\n")
    assert read_spark_conf(str(path)) == {"spark.executor.memory": "1g"}
    with pytest.raises(SparkConfError, match="SPARK_CONF .*missing.conf"):
        read_spark_conf(str(tmp_path / "missing.conf"))
