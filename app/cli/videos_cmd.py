"""`viewcount videos assign|list`: the video catalog (CONTRACT §9)."""

from __future__ import annotations

import json

from app.cli.options import time_option
from viewcount.errors import ViewcountError
from viewcount.events import valid_id
from viewcount.timeutil import HOUR_MS, format_hour, hour_floor, now_ms


def register(commands) -> None:
    videos = commands.add_parser("videos", help="the video catalog: who owns which video from which hour")
    actions = videos.add_subparsers(dest="action", metavar="ACTION", required=True)
    assign = actions.add_parser("assign", help="assign a video to its owner from a UTC hour (an audited, "
                                               "durable record; a billed month is refused)")
    assign.add_argument("video_id")
    assign.add_argument("creator_id")
    assign.add_argument("--from", dest="effective_from", metavar="HOUR",
                        help="the UTC hour it takes effect, e.g. 2026-11-26T06:00:00Z (default: the next hour)")
    assign.set_defaults(run=run_assign)
    listing = actions.add_parser("list", help="current owners in the catalog, one JSON object per line")
    listing.add_argument("--creator", metavar="C", help="only the videos C owns now")
    listing.add_argument("--history", action="store_true", help="every assignment, not only the current owner")
    listing.set_defaults(run=run_list)


def run_assign(args, settings) -> int:
    from app import wiring

    effective = time_option(args.effective_from, "--from")
    if effective is None:
        effective = hour_floor(now_ms()) + HOUR_MS
    elif effective % HOUR_MS:
        raise ViewcountError(f"--from: {args.effective_from} is not a UTC hour (e.g. {format_hour(hour_floor(effective))})")
    assignment = wiring.catalog_store(settings).assign(args.video_id, args.creator_id, effective)
    print(f"{assignment.video_id} belongs to {assignment.creator_id} from {format_hour(assignment.effective_from_ms)} "
          f"(audit seq {assignment.seq})")
    return 0


def run_list(args, settings) -> int:
    from app import wiring

    if args.creator is not None and not valid_id(args.creator):
        raise ViewcountError("--creator must match ^[A-Za-z0-9_-]{1,64}$")
    catalog = wiring.catalog(settings)
    hour = hour_floor(now_ms())
    for a in catalog.assignments() if args.history else ():
        print(json.dumps({"video_id": a.video_id, "creator_id": a.creator_id,
                          "effective_from": format_hour(a.effective_from_ms), "audit_seq": a.seq}))
    if args.history:
        return 0
    for video in sorted({a.video_id for a in catalog.assignments()}):
        owner = catalog.owner_at(video, hour)
        if owner is None or (args.creator and owner != args.creator):
            continue
        upcoming = [a for a in catalog.history(video) if a.effective_from_ms > hour]
        line = {"video_id": video, "creator_id": owner}
        if upcoming:
            line["next"] = {"creator_id": upcoming[0].creator_id,
                            "effective_from": format_hour(upcoming[0].effective_from_ms)}
        print(json.dumps(line))
    return 0
