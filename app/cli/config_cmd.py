"""`viewcount config`."""

import json


def register(commands) -> None:
    cmd = commands.add_parser("config", help="print the effective settings as JSON (secrets masked)")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    print(json.dumps(settings.as_public_dict(), indent=2))
    return 0
