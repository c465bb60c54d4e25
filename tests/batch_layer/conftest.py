from tests.ingestion.conftest import make_scenario  # noqa: F401  (the raw-sink scenario factory)
