"""Every CLI error is one line and a non-zero exit, never a traceback (CONTRACT §4)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from devtools.sandbox import settings_for

BAD = [
    # (arguments, exit status): 2 for a usage error argparse catches, 1 for one the command finds
    ([], 2), (["nosuch"], 2), (["batch"], 2), (["config", "--nosuch"], 2),
    (["produce"], 2), (["produce", "/nonexistent/file.jsonl"], 1),
    (["generate", "--events", "100", "--seed", "1", "--days", "nan", "--out", "OUT"], 2),
    (["generate", "--events", "0", "--seed", "1", "--out", "OUT"], 2),
    (["generate", "--events", "100", "--seed", "-1", "--out", "OUT"], 2),
    (["generate", "--events", "100", "--seed", "1", "--out", "/proc/no/such"], 1),
    (["generate", "--events", "100", "--seed", "1", "--end", "yesterday", "--out", "OUT"], 1),
    (["ingest", "--until-idle", "nan"], 2), (["ingest", "--until-idle", "-1"], 2),
    (["ingest", "replay", "--partition", "x", "--from-offset", "1"], 2),
    (["ingest", "replay", "--partition", "0", "--from-offset", "-5"], 2),
    (["ingest", "replay", "--partition", "0", "--from-time", "nope"], 1),
    (["ingest", "replay", "--partition", "0"], 2),
    (["speed", "--until-idle", "inf"], 2), (["views", "bad!id"], 1), (["views", "vid_1"], 1),
    (["batch", "run", "--watermark", "nope"], 1),
    (["batch", "replay", "--from", "2026-13-01", "--to", "2026-01-01"], 1),
    (["billing", "run", "--period", "9999-12"], 1), (["billing", "run", "--period", "2026-13"], 1),
    (["billing", "run"], 2),
    (["serve", "--port", "99999"], 2), (["serve", "--port", "http"], 2),
    (["serve", "--host", "999.1.1.1", "--port", "8080"], 1),
    (["keys", "issue", "bad id"], 1),
    (["collect"], 1),                                   # no COLLECTOR_IP_HMAC_KEY: it would stamp nothing safe
    (["collect", "--port", "0"], 2),
    (["videos", "assign", "bad!", "creator_a"], 1), (["videos", "assign", "vid_1", "c" * 65], 1),
    (["videos", "assign", "vid_1", "creator_a", "--from", "2026-11-01T00:30:00Z"], 1),
    (["videos", "assign", "vid_1", "creator_a", "--from", "2026"], 1),
    (["videos", "list", "--creator", "bad!"], 1),
    (["demo", "--events", "0"], 2), (["demo", "--port", "70000"], 2),
    (["stack", "up", "nosuch"], 2),
]


@pytest.fixture(scope="module")
def run_cli(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli")
    # Nothing listens on these ports: a command that reaches a service fails the way it would in use.
    rates = home / "rates.toml"
    rates.write_text('currency = "USD"\ndefault_rate_per_1000 = "2.50"\n')
    env = {**os.environ, **settings_for(home, kafka_request_timeout="3s").to_env(), "VIEWCOUNT_RATE_CARD": str(rates)}

    def run(args: list[str]) -> subprocess.CompletedProcess:
        args = [str(home / "out") if a == "OUT" else a for a in args]
        return subprocess.run([sys.executable, "-m", "app", *args], env=env, capture_output=True, text=True,
                              timeout=120)
    return run


def test_every_bad_invocation_fails_in_one_line_without_a_traceback(run_cli):
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(run_cli, [args for args, _ in BAD]))
    problems = []
    for (args, status), result in zip(BAD, done):
        lines = result.stderr.strip().splitlines()
        if result.returncode != status or len(lines) != 1 or "Traceback" in result.stderr \
                or not lines[0].startswith("viewcount"):
            problems.append(f"{' '.join(args)!r}: exit {result.returncode}, stderr {result.stderr[-500:]!r}")
    assert not problems, "\n".join(problems)
