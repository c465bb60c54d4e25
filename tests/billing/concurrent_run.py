"""One billing run of October 2026 as its own process, for the concurrency test.

``python -m tests.billing.concurrent_run BARRIER_DIR PARTIES``: the run stops after its checks,
announces itself in BARRIER_DIR and waits until PARTIES runs are there, so that every run writes
its records at the same time. Prints ``{"written": n, "statement": path}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from billing.period import Period
from billing.ratecard import load_rate_card
from billing.run import MonthlyBilling
from app import wiring
from viewcount.settings import Settings


def rendezvous(directory: Path, parties: int, timeout_s: float = 120.0) -> None:
    (directory / str(os.getpid())).touch()
    deadline = time.monotonic() + timeout_s
    while len(list(directory.iterdir())) < parties:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(list(directory.iterdir()))} of {parties} runs arrived")
        time.sleep(0.01)


def main(barrier_dir: str, parties: str) -> None:
    settings = Settings.from_env()
    audit = wiring.file_store(settings, settings.audit_store)
    say = lambda line: rendezvous(Path(barrier_dir), int(parties)) if line.startswith("[5/7]") else None  # noqa: E731
    billing = MonthlyBilling(wiring.batch_views(settings), wiring.raw_store(settings), audit, wiring.audit_ledger(settings),
                             load_rate_card(settings.rate_card), settings.rules, say=say)
    outcome = billing.run(Period.parse("2026-10"))
    print(json.dumps({"written": len(outcome.written), "statement": outcome.statement_csv}))


if __name__ == "__main__":
    main(*sys.argv[1:])
