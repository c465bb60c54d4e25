"""viewcount_billing_monthly: pay creators for a closed month.

Scheduled monthly for the month that just ended (the data interval); trigger it by hand with
``{"period": "YYYY-MM"}`` for any past month. The sensor waits (reschedule mode) until the
published batch watermark closes the month; the checks run without writing; the run writes the
payouts, adjustments and the statement; the last task reads the statement back.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task

from app.dag_support import DEFAULT_ARGS, settings


@dag(dag_id="viewcount_billing_monthly", schedule="@monthly", start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, default_args=DEFAULT_ARGS, tags=["viewcount", "billing"], doc_md=__doc__,
     params={"period": Param("", type="string", pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$",
                             description="YYYY-MM; empty: the month of the data interval")})
def viewcount_billing_monthly():
    @task
    def resolve_period() -> str:
        from billing.period import Period

        context = get_current_context()
        asked = context["params"].get("period") or ""
        start = context.get("data_interval_start") or context["logical_date"]
        return str(Period.parse(asked or f"{start:%Y-%m}"))

    @task.sensor(mode="reschedule", poke_interval=3600, timeout=21 * 86400)
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
        from app.billing_operations import read_statement

        return read_statement(settings(), done["statement"])

    period = resolve_period()
    wait_until_closed(period) >> checks(period) >> (done := bill(period))
    statement(done)


viewcount_billing_monthly()
