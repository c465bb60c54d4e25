"""The billing DAGs under Airflow's own scheduler, triggered over the REST API as finance would:
a past month is billed and its statement written; a month that cannot close in time fails at
once, with the reason, and its failure reaches the Pushgateway; billing on publish, triggered
without a period, bills the latest closed month and writes nothing it has already written; and
once the scheduler creates runs from schedules, a batch publish (the asset) triggers billing on
publish, which writes a replay's adjustment. Every Airflow process the test started is gone at the
end."""

from __future__ import annotations

import pytest

from tests.billing.conftest import make_books  # noqa: F401  (the billing scenario factory)
from tests.billing.test_run import OCTOBER
from tests.dags.scheduler import airflow_scheduler, group_alive

pytestmark = pytest.mark.integration

RUN_S = 600   # a run is a handful of task processes; the deadline only bounds a hung scheduler


def test_billing_runs_under_the_real_scheduler_when_triggered_over_rest(make_books, tmp_path, gateway):
    books = make_books()
    books.publish(OCTOBER)   # published W 2026-11-20T00:00Z: October is closed
    gateway_url, pushes = gateway
    home = tmp_path / "airflow"
    home.mkdir()
    with airflow_scheduler(home, {**books.settings.to_env(), "VIEWCOUNT_PUSHGATEWAY": gateway_url}) as airflow:
        # 1. Finance bills October: {"period": "2026-10"} through the REST API.
        run_id = airflow.trigger("viewcount_billing_monthly", {"period": "2026-10"})
        run = airflow.wait_done("viewcount_billing_monthly", run_id, RUN_S)
        tasks = airflow.tasks("viewcount_billing_monthly", run_id)
        assert run["state"] == "success", {t: v["state"] for t, v in tasks.items()}
        assert run["run_type"] == "manual"
        assert {t: v["state"] for t, v in tasks.items()} == dict.fromkeys(
            ["resolve_period", "wait_until_closed", "checks", "bill", "statement"], "success")
        bill = airflow.output("viewcount_billing_monthly", run_id, "bill")
        assert (bill["period"], bill["written_seqs"]) == ("2026-10", [2, 3])
        statement = airflow.output("viewcount_billing_monthly", run_id, "statement")
        assert statement["total"]["amount"] == "7.44" and statement["rows"] == 2
        assert statement["download_csv"] == f"{books.settings.api_url}/v1/billing/2026-10/statement.csv"
        name = "statements/period=2026-10/statement-2026-10-through-seq-000003.csv"
        assert bill["statement"].endswith(name) and books.audit.exists(name)
        assert [r["kind"] for r in books.ledger.records()] == ["batch_publish", "payout", "payout"]

        # 2. A month that cannot close before the sensor gives up fails at once, without retries,
        #    and the failure callback pushes it to the gateway the alert reads.
        run_id = airflow.trigger("viewcount_billing_monthly", {"period": "2099-01"})
        run = airflow.wait_done("viewcount_billing_monthly", run_id, RUN_S)
        tasks = airflow.tasks("viewcount_billing_monthly", run_id)
        assert run["state"] == "failed"
        assert (tasks["resolve_period"]["state"], tasks["resolve_period"]["try_number"]) == ("failed", 1)
        assert {tasks[t]["state"] for t in ("wait_until_closed", "checks", "bill", "statement")} == {"upstream_failed"}
        paths = [path for method, path, _ in pushes if method == "POST"]
        assert paths == ["/metrics/job/viewcount_dags/dag_id/viewcount_billing_monthly/task_id/resolve_period"]

        # 3. Billing on publish, triggered with no period, bills the latest closed month (October):
        #    already billed with these inputs, so it writes nothing and names the same statement.
        run_id = airflow.trigger("viewcount_billing_on_publish", {})
        run = airflow.wait_done("viewcount_billing_on_publish", run_id, RUN_S)
        assert run["state"] == "success"
        assert airflow.output("viewcount_billing_on_publish", run_id, "resolve_period") == "2026-10"
        again = airflow.output("viewcount_billing_on_publish", run_id, "bill")
        assert again["written_seqs"] == [] and again["statement"] == bill["statement"]
        assert len(books.ledger.records()) == 3

        # 4. Data-aware scheduling. The monthly DAG is paused again, so that the cron tick of the
        #    day the test runs plays no part, and the scheduler now creates runs from schedules.
        #    A replay corrects October and its publish updates the asset (posted here as the
        #    publish task posts it; that the task does is checked in test_batch_dags.py): billing
        #    on publish runs by itself and writes October's adjustment.
        airflow.call("PATCH", "/dags/viewcount_billing_monthly", {"is_paused": True}).raise_for_status()
        airflow.schedule_runs()
        version = books.publish({**OCTOBER, ("creator_42", "2026-10-01"): 1196})   # 4 views fewer
        [asset] = airflow.call("GET", "/assets?uri_pattern=viewcount://batch/views").json()["assets"]
        airflow.call("POST", "/assets/events", {"asset_id": asset["id"], "extra": {"version": version}}).raise_for_status()
        run_id = airflow.wait_run("viewcount_billing_on_publish", "asset_triggered", RUN_S)
        run = airflow.wait_done("viewcount_billing_on_publish", run_id, RUN_S)
        assert run["state"] == "success"
        adjusted = airflow.output("viewcount_billing_on_publish", run_id, "bill")
        assert (adjusted["period"], adjusted["planned"]) == ("2026-10", {"payouts": 0, "adjustments": 1})
        assert [r["kind"] for r in books.ledger.records()][3:] == ["batch_publish", "adjustment"]
    assert not [pgid for pgid in airflow.process_groups if group_alive(pgid)]   # every process it started is gone
