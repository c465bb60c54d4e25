"""The data checks, as Great Expectations suites over small summary frames.

Raw batch: schema, ids present, offsets unique per partition, invalid share under a threshold.
Batch views: counts >= 0, each video's total = the sum of its hours, totals reconcile with the
raw records, one owner per video.
"""

from __future__ import annotations

RAW_VIEW_COLUMNS = ["topic", "partition", "offset", "timestamp", "ingest_time", "key", "value", "event_id",
                    "video_id", "creator_id", "viewer_id", "event_time", "watch_ms", "fingerprint"]


def raw_batch_suite(name: str, max_invalid_share: float):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    for e in (
        gxe.ExpectColumnPairValuesToBeEqual(column_A="rows", column_B="distinct_offsets"),
        gxe.ExpectColumnValuesToBeBetween(column="missing_ids", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="invalid_share", min_value=0, max_value=max_invalid_share),
        gxe.ExpectColumnValuesToBeUnique(column="partition"),
    ):
        suite.add_expectation(e)
    return suite


def raw_schema_suite(name: str):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    suite.add_expectation(gxe.ExpectTableColumnsToMatchSet(column_set=RAW_VIEW_COLUMNS, exact_match=False))
    return suite


def batch_views_suite(name: str):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    for e in (
        gxe.ExpectColumnValuesToBeBetween(column="views", min_value=0),
        gxe.ExpectColumnValuesToBeUnique(column="video_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="creator_id"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="views", column_B="hourly_sum"),
    ):
        suite.add_expectation(e)
    return suite


def reconcile_suite(name: str):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    for e in (
        gxe.ExpectColumnPairValuesToBeEqual(column_A="total_views", column_B="counted_records"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="distinct_valid_events", column_B="total_views",
                                                    or_equal=True),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="raw_valid_rows", column_B="classified_rows"),
    ):
        suite.add_expectation(e)
    return suite


# --- billing: money as integer cents, so no float ever stands in for an amount ------------------

def payouts_suite(name: str):
    """One row per payout (not adjustment): views and amount never below zero."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    for e in (
        gxe.ExpectColumnValuesToBeBetween(column="amount_cents", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="views", min_value=0),
        gxe.ExpectColumnValuesToBeUnique(column="payout_id"),
        gxe.ExpectColumnValuesToBeUnique(column="creator_id"),
    ):
        suite.add_expectation(e)
    return suite


def creator_month_suite(name: str):
    """One row per creator: what the month is paid for equals the batch views, and is not negative."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    for e in (
        gxe.ExpectColumnValuesToBeUnique(column="creator_id"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="paid_views", column_B="batch_views"),
        gxe.ExpectColumnValuesToBeBetween(column="paid_cents", min_value=0),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="paid_cents", column_B="expected_cents"),
    ):
        suite.add_expectation(e)
    return suite


def statement_suite(name: str):
    """One row: the statement's totals row equals the sum of its rows; the month's views per
    (first claim, day) add up to its views per (video, hour); and every one of those is paid to
    its owner or reported unassigned."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    for e in (
        gxe.ExpectColumnPairValuesToBeEqual(column_A="total_cents", column_B="rows_cents"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="total_views", column_B="rows_views"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="creator_daily_views", column_B="video_hourly_views"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="accounted_views", column_B="video_hourly_views"),
    ):
        suite.add_expectation(e)
    return suite
