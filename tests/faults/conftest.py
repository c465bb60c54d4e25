"""The fault matrix (docs/operations.md lists every row: what the system does, what an operator
sees, what to do). Rows whose layer already has its reliability tests are proven there, the rest
here, with the same factories:

    Redis restarted with AOF            tests/speed_layer/test_reliability.py
    Redis Cluster master killed         test_redis_failover.py
    a broker of 3 killed                test_broker_failover.py
    broker restarted (both layers)      tests/speed_layer/test_reliability.py, tests/ingestion/test_reliability.py
    DataNode stopped during flushes     test_raw_store.py
    raw store read-only, then writable  test_raw_store.py
    SIGKILL at each numbered step       test_kill_at_each_step.py
    consumer clock ±1 h                 test_consumer_clock.py
"""

from tests.ingestion import conftest as ingestion
from tests.speed_layer import conftest as speed_layer

make_scenario = ingestion.make_scenario
make_speed_scenario = speed_layer.make_speed_scenario
