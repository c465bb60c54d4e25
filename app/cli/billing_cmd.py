"""`viewcount billing run --period YYYY-MM`."""

from __future__ import annotations

import sys


def register(commands) -> None:
    billing = commands.add_parser("billing", help="creator payouts for closed months (audited)")
    actions = billing.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run", help="compute payouts for a closed month, write audit records, export the statement",
        description="Pay each creator for the counted views with an event time in the month, from the "
                    "published batch version only, at the rate card's rate (VIEWCOUNT_RATE_CARD). A re-run "
                    "writes nothing new; if a replay changed the month's counts since, it writes one "
                    "adjustment per creator for the difference. The statement's path is the last line.")
    run.add_argument("--period", required=True, metavar="YYYY-MM", help="the UTC month to bill")
    run.set_defaults(run=run_billing_cmd)


def run_billing_cmd(args, settings) -> int:
    from app.billing_operations import monthly_billing, summary
    from billing.period import Period

    period = Period.parse(args.period)
    outcome = monthly_billing(settings, say=lambda line: print(line, file=sys.stderr)).run(period)
    done = summary(outcome)
    if outcome.written:
        seqs = done["written_seqs"]
        print(f"billed {period} from batch version {outcome.version}: {len(seqs)} records written "
              f"(audit seq {seqs[0]}..{seqs[-1]})")
    else:
        print(f"billed {period} from batch version {outcome.version}: nothing new to write")
    currency = outcome.lines[0].entry.currency if outcome.lines else ""
    print(f"{period}: {done['views']} views, {done['amount']} {currency} over {done['rows']} payouts and adjustments")
    print(f"data checks: Data Docs at {outcome.data_docs}")
    print(f"parquet: {outcome.statement_parquet}")
    print(outcome.statement_csv)
    return 0
