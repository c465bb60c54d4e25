"""Which month a billing run bills and which W an hourly run recomputes, from what Airflow knows
about the run. Pure: the DAG tasks pass in the run's type and dates, and these answer.

Airflow 3 gives a run several dates, and which one means what depends on the timetable and on
how the run was started:

- a **scheduled** (or backfill) run has a logical date: its cron tick;
- a **manual** run started from the UI or the REST API may have no logical date, and its data
  interval is inferred from the moment it was triggered (not on the hour);
- an **asset-triggered** run has neither; it exists because a batch version was published.

So the month and the watermark are derived from what each kind of run means, never from
``data_interval_start`` alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from billing.period import Period
from viewcount.timeutil import format_ms, hour_floor, parse_rfc3339_ms

ON_THE_CLOCK = frozenset({"scheduled", "backfill"})   # DagRunType values whose logical date is a cron tick


def billing_period(asked: str, run_type: str, logical_date: datetime | None,
                   latest_closed: Callable[[], Period]) -> Period:
    """The month a billing run bills.

    - ``asked`` (the ``period`` param), when given: finance named the month.
    - A scheduled run: the month that has ended by its logical date. The monthly timetable ticks
      at 00:00 UTC on the 1st, so the run on 1 December bills November.
    - Any other run (manual without a period, or triggered by a published batch version): the
      latest month the published batch watermark has closed (``latest_closed``, which may look it
      up), so a run never picks a month that is still open.
    """
    if asked:
        return Period.parse(asked)
    if run_type in ON_THE_CLOCK and logical_date is not None:
        return Period.ended_by(int(logical_date.timestamp() * 1000))
    return latest_closed()


def closes_too_late(period: Period, max_event_age_ms: int, max_clock_skew_ms: int, now_ms: int,
                    wait_ms: int) -> str | None:
    """Why waiting for ``period`` to close is hopeless, or None when it can close in time.

    The published batch watermark never runs ahead of the wall clock, so a month cannot close
    before ``closes_at``; if that is later than the sensor's timeout from now, the run would only
    wait and then fail. Saying so at once lets finance trigger it again when it can succeed.
    """
    closes = period.closes_at_ms(max_event_age_ms, max_clock_skew_ms)
    gives_up = now_ms + wait_ms
    if closes <= gives_up:
        return None
    return (f"{period} cannot close before this run stops waiting: it closes when the published batch "
            f"watermark reaches {format_ms(closes)} (month end + MAX_EVENT_AGE + MAX_CLOCK_SKEW), and the "
            f"sensor gives up at {format_ms(gives_up)}; trigger the run at or after {format_ms(closes - wait_ms)}")


def hourly_watermark(asked: str, interval_end: datetime | None, run_after: datetime) -> int:
    """The W an hourly batch run recomputes at, floored to the hour.

    ``asked`` (the ``watermark`` param, RFC 3339) when given; otherwise the end of the run's data
    interval (a scheduled run's is on the hour); otherwise the moment the run was triggered. A
    manual run at 10:17 therefore recomputes at 10:00, which is the watermark the batch layer
    accepts (W is a UTC hour boundary, CONTRACT §3).
    """
    if asked:
        return hour_floor(parse_rfc3339_ms(asked))
    moment = interval_end if interval_end is not None else run_after
    return hour_floor(int(moment.timestamp() * 1000))
