"""`viewcount config`."""

import json


def register(commands) -> None:
    cmd = commands.add_parser("config", help="print the effective settings as JSON (secrets masked)")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    from app import wiring

    shown = settings.as_public_dict()
    if settings.kafka_config_file:
        shown["kafka_client_properties"] = wiring.kafka_security(settings).masked()
    print(json.dumps(shown, indent=2))
    return 0
