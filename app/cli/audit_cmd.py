"""`viewcount audit verify`."""


def register(commands) -> None:
    audit = commands.add_parser("audit", help="the audit ledger")
    actions = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="recompute every hash and link; exit 0 only if intact")
    verify.set_defaults(run=run_verify)


def run_verify(args, settings) -> int:
    from audit.ledger import AuditLedger
    from app import wiring

    report = AuditLedger(wiring.file_store(settings, settings.audit_store)).verify()
    print(f"audit ledger intact: {report.records} records under {settings.audit_store}, head {report.head_hash}")
    return 0
