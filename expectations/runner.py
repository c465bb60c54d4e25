"""Run a suite over a pandas frame and keep a JSON report next to the batch version."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class CheckReport:
    name: str
    success: bool
    failures: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)

    def describe_failures(self) -> str:
        return "; ".join(f"{f['expectation']}({f.get('column') or ''}) unexpected={f.get('unexpected_count')}"
                         for f in self.failures)


class Checker:
    """One ephemeral Great Expectations context for a run (it is slow to create)."""

    def __init__(self) -> None:
        import great_expectations as gx

        self._context = gx.get_context(mode="ephemeral")
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:  # older/newer layouts: progress bars are cosmetic
            pass
        self._source = self._context.data_sources.add_pandas("viewcount")
        self._n = 0

    def check(self, name: str, frame, suite) -> CheckReport:
        self._n += 1
        asset = self._source.add_dataframe_asset(f"{name}-{self._n}")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(self._context.suites.add(suite))
        report = CheckReport(name, bool(outcome.success))
        for r in outcome.results:
            entry = {"expectation": r.expectation_config.type,
                     "column": r.expectation_config.kwargs.get("column")
                     or r.expectation_config.kwargs.get("column_A"),
                     "success": bool(r.success),
                     "unexpected_count": (r.result or {}).get("unexpected_count")}
            report.results.append(entry)
            if not r.success:
                report.failures.append(entry)
        return report


def describe_failed(reports: list[CheckReport]) -> str:
    """The failed checks of a run in one line: ``name: expectation(column) unexpected=n; …``."""
    return "; ".join(f"{r.name}: {r.describe_failures()}" for r in reports if not r.success)


def write_reports(store, directory: str, reports: list[CheckReport]) -> str:
    path = f"{directory}/_checks.json"
    body = [{"name": r.name, "success": r.success, "results": r.results} for r in reports]
    store.put(path, json.dumps(body, indent=1, sort_keys=True).encode())
    return path
