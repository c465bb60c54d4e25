"""`viewcount demo` end to end on the session's stack."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_and_every_count_equals_the_truth(stack_settings, stack, tmp_path):
    env = {**os.environ, **stack_settings.to_env()}
    done = subprocess.run([sys.executable, "-m", "viewcount", "demo", "--events", "4000", "--out", str(tmp_path)],
                          capture_output=True, env=env, timeout=600)
    out = done.stdout.decode()
    assert done.returncode == 0, out[-3000:] + done.stderr.decode()[-3000:]
    assert "[9/9]" in out
    lines = {line.rsplit(maxsplit=1)[0].strip(): line.rsplit(maxsplit=1)[1] for line in out.splitlines()
             if line.strip() and line[:2] != "  " and len(line.split()) > 1}
    assert lines["mismatches"] == lines["payout mismatches"] == "0"
    assert lines["records produced"] == lines["lines generated"] == "4,000"
    number = lambda name: int(lines[name].replace(",", ""))  # noqa: E731
    assert number("videos checked through the API") > 0 and number("payouts") > 0
    assert number("audit records verified") == 1 + number("payouts")
    statement = next(line.split(maxsplit=1)[1] for line in out.splitlines() if line.startswith("statement "))
    assert os.path.isfile(statement)
    assert "every video's count and every payout equal the truth" in out
    # A second run works in a namespace of its own: idempotent.
    again = subprocess.run([sys.executable, "-m", "viewcount", "demo", "--events", "2000", "--out", str(tmp_path)],
                           capture_output=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout.decode()[-2000:]
