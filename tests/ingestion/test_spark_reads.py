"""Spark reads the master dataset as written, on local disk and on HDFS."""

import pytest

from tests.ingestion.conftest import rows

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("store", ["local", pytest.param("hdfs", marks=pytest.mark.hdfs)])
def test_spark_reads_every_row_with_its_types(make_scenario, spark, store, request):
    if store == "hdfs":
        request.getfixturevalue("hdfs")
    scenario = make_scenario(events=1200, store=store, days=0.1)
    scenario.run_sink(flush_records=400)
    df = spark.read.parquet(f"{scenario.store.url}/views/v1")
    types = dict(df.dtypes)
    assert types["event_time"] == "timestamp" and types["ingest_time"] == "timestamp"
    assert types["value"] == "binary" and types["watch_ms"] == "bigint"
    assert {"ingest_date", "ingest_hour"} <= set(types)
    python_rows = rows(scenario.store)
    assert df.count() == len(python_rows)
    assert sorted(tuple(r) for r in df.select("partition", "offset", "event_id").collect()) == sorted(
        (r["partition"], r["offset"], r["event_id"]) for r in python_rows)
    quarantine = spark.read.parquet(f"{scenario.store.url}/quarantine/v1")
    assert quarantine.count() == scenario.truth["outcomes"]["invalid"]
