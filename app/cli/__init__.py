"""The `viewcount` command line (CONTRACT §4). Each command lives in its own module."""

from __future__ import annotations

import argparse
import logging
import sys

from app import logs
from app.cli.options import OneLineParser
from viewcount.errors import ViewcountError
from viewcount.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    from app.cli import (
        audit_cmd, batch_cmd, billing_cmd, collect_cmd, config_cmd, demo_cmd, generate_cmd, ingest_cmd, keys_cmd,
        produce_cmd, serve_cmd, speed_cmd, stack_cmd, topics_cmd, videos_cmd,
    )

    parser = OneLineParser(
        prog="viewcount",
        description="Exact video view counts. Settings come from VIEWCOUNT_* variables "
                    "(see `viewcount config`).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (config_cmd, stack_cmd, topics_cmd, produce_cmd, generate_cmd, ingest_cmd, speed_cmd,
                   batch_cmd, billing_cmd, serve_cmd, keys_cmd, collect_cmd, videos_cmd, audit_cmd, demo_cmd):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level, settings.log_format)
        # The Kafka driver narrates every connection attempt; its failures reach the user as
        # viewcount's own one-line errors, so its log shows only when debugging.
        if settings.log_level != "DEBUG":
            for driver in ("kafka", "adapters.kafka.librdkafka"):
                logging.getLogger(driver).setLevel(logging.CRITICAL)
            # Spark's Python bridge logs each of its socket connections opening and closing.
            logging.getLogger("py4j").setLevel(logging.WARNING)
        return int(args.run(args, settings) or 0)
    except ViewcountError as e:
        print(f"viewcount {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"viewcount {args.command}: interrupted", file=sys.stderr)
        return 130
