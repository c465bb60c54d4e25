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
    from audit.ledger import AuditLedger
    from billing.period import Period
    from billing.ratecard import load_rate_card
    from billing.run import MonthlyBilling
    from billing.statement import totals
    from billing.money import money_str
    from viewcount import wiring

    period = Period.parse(args.period)
    rate_card = load_rate_card(settings.rate_card)
    audit_store = wiring.file_store(settings, settings.audit_store)
    billing = MonthlyBilling(wiring.serving_store(settings), wiring.raw_store(settings), audit_store,
                             AuditLedger(audit_store), rate_card, settings.rules,
                             say=lambda line: print(line, file=sys.stderr))
    outcome = billing.run(period)
    views, amount = totals(outcome.lines)
    currency = outcome.lines[0].entry.currency if outcome.lines else rate_card.currency
    if outcome.written:
        seqs = [r["seq"] for r in outcome.written]
        print(f"billed {period} from batch version {outcome.version}: {len(outcome.written)} records written "
              f"(audit seq {seqs[0]}..{seqs[-1]})")
    else:
        print(f"billed {period} from batch version {outcome.version}: nothing new to write")
    print(f"{period}: {views} views, {money_str(amount)} {currency} over {len(outcome.lines)} payouts and adjustments")
    print(f"parquet: {outcome.statement_parquet}")
    print(outcome.statement_csv)
    return 0
