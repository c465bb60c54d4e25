"""What anchoring the audit ledger costs: appends per second with and without the Kafka anchor,
side by side in one run, and how long `audit verify --against-topic` takes for the ledger.

On a private stack (Kafka only), each run appends ``--records`` payout-sized records to a fresh
local ledger without an anchor, then to another with its anchor topic; then verifies the
anchored one against its topic.

    .venv/bin/python bench/ledger.py [--records 2000] [--runs 3] [--name ledger]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from common import private_stack, summarize, write_result

from app import wiring
from audit.ledger import AuditLedger


def payload(i: int) -> tuple[dict, dict]:
    return ({"payout_id": f"po-2026-10-{i:020d}", "creator_id": f"creator_{i}", "period": "2026-10",
             "views": 1000 + i, "rate_per_1000": "2.50", "currency": "USD", "amount": "2.50"},
            {"batch_version": "w20261120T00-bench", "code_version": "bench"})


def appends_per_s(ledger: AuditLedger, records: int) -> float:
    started = time.monotonic()
    for i in range(records):
        ledger.append("payout", *payload(i), actor="bench")
    return records / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--name", default="ledger")
    args = parser.parse_args()
    plain, anchored, verify_s = [], [], []
    with private_stack(("kafka",)) as (settings, _), tempfile.TemporaryDirectory(prefix="viewcount-bench-") as tmp:
        admin = wiring.topic_admin(settings)
        for run in range(args.runs):
            local = wiring.file_store(settings, (Path(tmp) / f"plain-{run}").as_uri())
            plain.append(appends_per_s(AuditLedger(local), args.records))
            own = settings.replace(audit_store=(Path(tmp) / f"anchored-{run}").as_uri(),
                                   audit_topic=f"bench-audit-{uuid.uuid4().hex[:8]}")
            admin.ensure_topics([wiring.audit_topic_spec(own)])
            admin.await_visible(own.audit_topic)
            with wiring.audit_ledger(own) as ledger:
                anchored.append(appends_per_s(ledger, args.records))
                started = time.monotonic()
                assert ledger.verify_anchored().records == args.records
                verify_s.append(time.monotonic() - started)
            print(f"run {run + 1}: {plain[-1]:,.0f} appends/s plain, {anchored[-1]:,.0f} anchored, "
                  f"verify against the topic {verify_s[-1]:.2f}s")
        admin.close()
    result = {"records": args.records, "appends_per_s_plain": summarize(plain),
              "appends_per_s_anchored": summarize(anchored), "verify_against_topic_s": summarize(verify_s),
              "anchored_over_plain": summarize([a / p for a, p in zip(anchored, plain)])}
    path = write_result(args.name, result)
    print(f"median: {result['appends_per_s_plain']['median']:,.0f} appends/s plain, "
          f"{result['appends_per_s_anchored']['median']:,.0f} anchored "
          f"(×{result['anchored_over_plain']['median']:.2f}); verify {result['verify_against_topic_s']['median']:.2f}s "
          f"for {args.records} records → {path}")


if __name__ == "__main__":
    main()
