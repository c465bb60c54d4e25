"""`viewcount audit verify [--against-topic]` and `viewcount audit anchor`."""

import sys


def register(commands) -> None:
    audit = commands.add_parser("audit", help="the audit ledger")
    actions = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="recompute every hash and link; exit 0 only if intact")
    verify.add_argument("--against-topic", action="store_true",
                        help="also compare the ledger with its anchor (AUDIT_TOPIC): names a rewritten chain, a "
                             "cut-off tail, a deleted store, or records that were never anchored")
    verify.set_defaults(run=run_verify)
    anchor = actions.add_parser("anchor", help="anchor the records the anchor lacks (written before it existed, or "
                                               "by a writer that stopped in between), after checking the rest")
    anchor.set_defaults(run=run_anchor)


def run_verify(args, settings) -> int:
    from audit.ledger import AuditLedger
    from app import wiring

    if not args.against_topic:
        report = AuditLedger(wiring.file_store(settings, settings.audit_store)).verify()
        print(f"audit ledger intact: {report.records} records under {settings.audit_store}, head {report.head_hash}")
        return 0
    with wiring.audit_ledger(settings) as ledger:
        anchored = ledger.verify_anchored()
    print(f"audit ledger intact and anchored: {anchored.records} records under {settings.audit_store}, every one "
          f"in {settings.audit_topic}; head seq {anchored.head_seq} {anchored.head_hash}")
    return 0


def run_anchor(args, settings) -> int:
    from app import wiring

    with wiring.audit_ledger(settings) as ledger:
        published = ledger.anchor_missing()
    for record in published:
        print(f"anchored seq {record['seq']} {record['kind']} by {record['actor']} at {record['created_at']}: "
              f"{record['hash']}", file=sys.stderr)
    print(f"{len(published)} records anchored in {settings.audit_topic}")
    return 0
