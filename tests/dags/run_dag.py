"""Run one DAG of the project's dags folder with ``dag.test()`` and print what it did as JSON.

``python -m tests.dags.run_dag DAG_ID [CONF_JSON] [LOGICAL_DATE]`` in an environment with
AIRFLOW_HOME (an initialised metadata DB), AIRFLOW__CORE__DAGS_FOLDER and the VIEWCOUNT_*
settings. Prints ``{"state", "seconds", "tasks": {task_id: {"state", "tries", "output"}}, "asset_events":
[{"task_id", "uri", "extra"}…]}``.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

MARKER = "dag-run-result: "


def main(dag_id: str, conf: str = "{}", logical_date: str = "") -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from sqlalchemy import select
    from airflow.utils.session import create_session

    bag = DagBag()
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise SystemExit(f"no DAG {dag_id}: {bag.import_errors}")
    started = time.monotonic()
    kwargs = {"run_conf": json.loads(conf)}
    if logical_date:
        kwargs["logical_date"] = datetime.fromisoformat(logical_date)
    run = dag.test(**kwargs)
    seconds = round(time.monotonic() - started, 1)
    with create_session() as session:
        outputs = {x.task_id: XComModel.deserialize_value(x) for x in session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value")).all()}
        tasks = {ti.task_id: {"state": str(ti.state), "tries": ti.try_number, "output": outputs.get(ti.task_id)}
                 for ti in run.get_task_instances(session=session)}
        assets = {a.id: a.uri for a in session.scalars(select(AssetModel)).all()}
        events = [{"task_id": e.source_task_id, "uri": assets.get(e.asset_id), "extra": e.extra}
                  for e in session.scalars(select(AssetEvent).where(AssetEvent.source_dag_id == dag_id,
                                                                    AssetEvent.source_run_id == run.run_id)).all()]
    print(MARKER + json.dumps({"state": str(run.state), "seconds": seconds, "tasks": tasks, "asset_events": events},
                              default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
