"""The stored suites, run through checkpoints: a failure named in the report, every result kept in
the file-backed project, and Data Docs that show a failing check red."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from expectations.runner import Checker, DataDocs, describe_failed
from expectations.suites import SUITE_NAMES, load_suite, suite_document


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_every_stored_suite_loads_with_its_notes(name):
    document = suite_document(name)
    suite = load_suite(name)
    assert suite.name == document["name"] == name and document["notes"]
    assert [e.expectation_type for e in suite.expectations] == [e["type"] for e in document["expectations"]]


def test_an_unknown_suite_is_refused_by_name():
    with pytest.raises(KeyError, match="no suite 'raw'"):
        suite_document("raw")


def raw_batch(invalid_share: float) -> pd.DataFrame:
    return pd.DataFrame([{"partition": 0, "rows": 10, "distinct_offsets": 10, "missing_ids": 0, "invalid_share": 0.01},
                         {"partition": 1, "rows": 10, "distinct_offsets": 10, "missing_ids": 0,
                          "invalid_share": invalid_share}])


def test_the_invalid_share_bound_is_a_parameter_of_the_run():
    checker = Checker()
    assert checker.check("raw_batch", raw_batch(0.04), {"max_invalid_share": 0.05}).success
    failed = checker.check("raw_batch", raw_batch(0.04), {"max_invalid_share": 0.02})
    assert not failed.success
    assert describe_failed([failed]) == "raw_batch: expect_column_values_to_be_between(invalid_share) unexpected=1"


def test_results_are_kept_and_data_docs_show_the_failing_check_red(tmp_path, browser, artifacts):
    docs = DataDocs(tmp_path / "great_expectations")
    Checker(docs, run_name="w20261126T10-good").check("raw_batch", raw_batch(0.01), {"max_invalid_share": 0.05})
    again = Checker(docs, run_name="w20261126T11-bad")       # a second run reuses the project
    failed = again.check("raw_batch", raw_batch(0.30), {"max_invalid_share": 0.05})
    assert not failed.success

    stored = sorted(p.relative_to(docs.context_dir / "gx").as_posix()
                    for p in (docs.context_dir / "gx" / "expectations").glob("*.json"))
    assert stored == ["expectations/raw_batch.json"]
    assert json.loads((docs.context_dir / "gx" / "expectations" / "raw_batch.json").read_text())["name"] == "raw_batch"
    pages = sorted((docs.site_dir / "validations" / "raw_batch").rglob("*.html"))
    assert [p.relative_to(docs.site_dir / "validations" / "raw_batch").parts[0] for p in pages] == \
        ["w20261126T10-good", "w20261126T11-bad"]
    assert docs.index.is_file()

    browser.get(pages[1].as_uri())
    text = browser.find_element("tag name", "body").text
    assert "Failed" in text and "invalid_share" in text, text[:2000]
    failing = browser.find_element("css selector", "strong.text-danger")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", failing)
    browser.save_screenshot(str(artifacts / "data-docs-failing-check.png"))
    red = failing.value_of_css_property("color")
    assert red in ("rgba(192, 57, 43, 1)", "rgb(192, 57, 43)"), red      # readable without the CDN styles
    assert "w20261126T11-bad" in docs.index.read_text()


@pytest.mark.integration
def test_a_spark_dataframe_is_validated_by_spark_and_kept_in_data_docs(spark, tmp_path):
    rows = [("v1", 3, "c1", 3), ("v2", 5, "c2", 5)]
    columns = "video_id string, views long, creator_id string, hourly_sum long"
    docs = DataDocs(tmp_path / "great_expectations")
    checker = Checker(docs, run_name="w20261127T05-spark")
    assert checker.check("batch_views", spark.createDataFrame(rows, columns)).success
    failed = checker.check("batch_views", spark.createDataFrame(rows + [("v2", 1, None, 2)], columns))
    assert describe_failed([failed]) == (
        "batch_views: expect_column_values_to_be_unique(video_id) unexpected=2; "
        "expect_column_values_to_not_be_null(creator_id) unexpected=1; "
        "expect_column_pair_values_to_be_equal(views) unexpected=1")
    pages = sorted((docs.site_dir / "validations" / "batch_views").rglob("*.html"))
    assert [p.relative_to(docs.site_dir / "validations" / "batch_views").parts[0] for p in pages] == \
        ["w20261127T05-spark"] * 2
