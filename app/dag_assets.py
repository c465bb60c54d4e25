"""The Airflow assets the DAGs produce and are scheduled on."""

from __future__ import annotations

from airflow.sdk import Asset

BATCH_VIEWS = Asset(name="viewcount_batch_views", uri="viewcount://batch/views")
"""Updated by every publish of a batch version (hourly or replay); its event's extra holds the
version and W. ``viewcount_billing_on_publish`` is scheduled on it."""
