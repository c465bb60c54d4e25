"""`viewcount topics create`."""

from app import wiring


def register(commands) -> None:
    topics = commands.add_parser("topics", help="manage the Kafka topics")
    actions = topics.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create the views, dead-letter and audit anchor topics (idempotent; "
                                               "an existing topic gets their retention and bounds back)")
    create.set_defaults(run=run)


def run(args, settings) -> int:
    admin = wiring.topic_admin(settings)
    try:
        specs = wiring.topic_specs(settings)
        created = admin.ensure_topics(specs)
        for spec in specs:
            have = len(admin.partitions(spec.name))
            verb = "created" if created[spec.name] else "exists "
            note = "" if have == spec.partitions else f" (wanted {spec.partitions}; existing topics keep theirs)"
            retention = int(spec.configs["retention.ms"])
            kept = "forever" if retention < 0 else f"{retention // 86_400_000}d"
            print(f"{verb} {spec.name}: {have} partitions{note}, retention {kept}")
    finally:
        admin.close()
    return 0
