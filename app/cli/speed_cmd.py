"""`viewcount speed [--until-idle S]` and `viewcount views VIDEO_ID`."""

from __future__ import annotations

import functools
import json

from app.cli.options import seconds
from viewcount.errors import ViewcountError
from viewcount.events import valid_id


def register(commands) -> None:
    speed = commands.add_parser(
        "speed", help="run the speed layer (Kafka → Redis, exactly once)",
        description="Consume the views topic and count views into Redis: deduplicated, capped, one "
                    "atomic step per poll batch and partition.")
    speed.add_argument("--until-idle", type=seconds, metavar="SECONDS",
                       help="exit 0 once no record has arrived for this long and Redis holds every partition "
                            "of the topic applied to its end offset (also partitions other members hold)")
    speed.add_argument("--accept-gap", action="store_true",
                       help="when retention deleted records this layer had not applied yet, go on from the log start "
                            "(the loss is logged, counted and written to the audit ledger) instead of refusing")
    speed.set_defaults(run=run_speed)
    views = commands.add_parser("views", help="print a video's merged count as the API returns it (JSON)")
    views.add_argument("video_id", metavar="VIDEO_ID")
    views.add_argument("--hourly", action="store_true", help="include the merged counts by event hour")
    views.set_defaults(run=run_views)


def run_speed(args, settings) -> int:
    from app import wiring
    from app.cli.layer_cmd import run_layer
    from speed_layer.metrics import SpeedMetrics
    from viewcount.settings import mask_secret

    metrics = SpeedMetrics()
    build = functools.partial(wiring.speed_counter, accept_gap=args.accept_gap)
    run_layer(settings, "speed layer", mask_secret(settings.redis_url), settings.speed_group, metrics,
              settings.speed_metrics_port, build, args.until_idle)
    print("speed layer stopped: " + ", ".join(f"{o.value} {n}" for o, n in metrics.records_applied().items() if n))
    return 0


def run_views(args, settings) -> int:
    from app import wiring

    from serving_layer.documents import hourly_document, video_document

    if not valid_id(args.video_id):
        raise ViewcountError("VIDEO_ID must match ^[A-Za-z0-9_-]{1,64}$")
    views = wiring.view_reader(settings).video_views(args.video_id, settings.topic)
    if not views.known:
        raise ViewcountError(f"unknown video {args.video_id}")
    doc = video_document(views)
    if args.hourly:
        doc["hours"] = hourly_document(views)["hours"]
    print(json.dumps(doc, indent=2))
    return 0
