"""viewcount_billing_monthly: pay creators for a closed month.

**Timetable.** ``CronTriggerTimetable("0 0 1 * *", timezone="UTC")``: one run at 00:00 UTC on the
1st, whose logical date is that tick. It is spelled out, rather than ``"@monthly"``, to say what
the month is derived from: a trigger timetable's data interval is empty and starts at the run
itself, so taking the month of ``data_interval_start`` (as a data-interval timetable would
suggest) bills the month that has just begun.

**Which month.** The ``period`` param (``YYYY-MM``) when given. Otherwise a scheduled run bills the
latest month that has ended by its logical date (the run at 00:00 on 1 December bills November),
and a manual run bills the latest month the published batch watermark has closed.

**Flow.** ``resolve_period`` (fails at once, with the reason, for a month that cannot close before
the sensor's 21 days run out) → ``wait_until_closed`` (sensor, reschedule mode: no worker slot is
held while it waits) → ``checks`` (everything, writing nothing) → ``bill`` (payouts, adjustments,
statement) → ``statement`` (reads it back and logs where finance downloads it).

viewcount_billing_on_publish is the same flow, run whenever a batch version is published (the
``viewcount_batch_views`` asset): it bills the latest closed month, so a month is billed as soon as
a published watermark closes it, and a replay that changes that month writes its adjustment. A
re-run with unchanged inputs writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from app.dag_assets import BATCH_VIEWS
from app.dag_support import DEFAULT_ARGS, settings

MONTHLY = CronTriggerTimetable("0 0 1 * *", timezone="UTC")
CLOSE_WAIT = timedelta(days=21)   # the sensor's timeout; a month closes about a week after its end


def billing_dag(dag_id: str, schedule, doc: str):
    @dag(dag_id=dag_id, schedule=schedule, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1,
         default_args=DEFAULT_ARGS, tags=["viewcount", "billing"], doc_md=doc,
         params={"period": Param("", type="string", pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$",
                                 description="YYYY-MM; empty: the month this run is for (see the DAG's doc)")})
    def billing():
        @task
        def resolve_period() -> str:
            from airflow.sdk.exceptions import AirflowFailException

            from app.billing_operations import latest_closed_month
            from app.dag_periods import billing_period, closes_too_late
            from viewcount.timeutil import now_ms

            context, s = get_current_context(), settings()

            def latest_closed():
                period = latest_closed_month(s)
                if period is None:
                    raise AirflowFailException('no batch version is published yet, so no month is closed; '
                                               'name the month with {"period": "YYYY-MM"}')
                return period

            run = context["dag_run"]
            period = billing_period(context["params"].get("period") or "", str(run.run_type),
                                    context.get("logical_date") or run.run_after, latest_closed)
            reason = closes_too_late(period, s.max_event_age, s.max_clock_skew, now_ms(),
                                     int(CLOSE_WAIT.total_seconds() * 1000))
            if reason:
                raise AirflowFailException(reason)
            return str(period)

        @task.sensor(mode="reschedule", poke_interval=3600, timeout=CLOSE_WAIT.total_seconds())
        def wait_until_closed(period: str) -> bool:
            import logging

            from app.billing_operations import month_closed
            from billing.period import Period

            closed, why = month_closed(settings(), Period.parse(period))
            logging.getLogger(__name__).info(why)
            return closed

        @task
        def checks(period: str) -> dict:
            from app.billing_operations import monthly_billing, summary
            from billing.period import Period

            return summary(monthly_billing(settings()).run(Period.parse(period), write=False))

        @task
        def bill(period: str) -> dict:
            from app.billing_operations import monthly_billing, summary
            from billing.period import Period

            return summary(monthly_billing(settings()).run(Period.parse(period)))

        @task
        def statement(done: dict) -> dict:
            import logging

            from app.billing_operations import read_statement

            s = settings()
            read = read_statement(s, done["statement"])
            logging.getLogger(__name__).info(
                "statement for %s: %s rows, total %s; download with the admin token: %s and %s", done["period"],
                read["rows"], read["total"]["amount"] if read["total"] else "0.00", read["download_csv"],
                read["download_parquet"])
            return read

        period = resolve_period()
        wait_until_closed(period) >> checks(period) >> (done := bill(period))
        statement(done)

    return billing()


viewcount_billing_monthly = billing_dag("viewcount_billing_monthly", MONTHLY, __doc__)
viewcount_billing_on_publish = billing_dag(
    "viewcount_billing_on_publish", [BATCH_VIEWS],
    "viewcount_billing_on_publish: whenever a batch version is published, bill the latest month its watermark "
    "has closed (nothing is written when that month's inputs are unchanged). See viewcount_billing_monthly.")
