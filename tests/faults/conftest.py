"""The fault matrix (docs/operations.md lists every row, what the system does and which test
proves it). Rows whose layer already has its own reliability tests are proven there; the rest
live here, with the same factories."""

from tests.ingestion import conftest as ingestion
from tests.speed_layer import conftest as speed_layer

make_scenario = ingestion.make_scenario
make_speed_scenario = speed_layer.make_speed_scenario
