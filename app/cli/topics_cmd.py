"""`viewcount topics create`."""

from app import wiring


def register(commands) -> None:
    topics = commands.add_parser("topics", help="manage the Kafka topics")
    actions = topics.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create the views and dead-letter topics (idempotent)")
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
            print(f"{verb} {spec.name}: {have} partitions{note}, retention {settings.topic_retention // 86_400_000}d")
    finally:
        admin.close()
    return 0
