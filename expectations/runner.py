"""Run the stored suites over Spark DataFrames and summary frames through Great Expectations checkpoints, keep a JSON
report next to the batch version, and, with a :class:`DataDocs` folder, keep every validation
result in a file-backed context and build Data Docs from them."""

from __future__ import annotations

import fcntl
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from expectations.suites import load_suite

logger = logging.getLogger(__name__)

SITE = "viewcount"


@dataclass
class CheckReport:
    name: str
    success: bool
    failures: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)

    def describe_failures(self) -> str:
        return "; ".join(f"{f['expectation']}({f.get('column') or ''}) unexpected={f.get('unexpected_count')}"
                         for f in self.failures)


@dataclass(frozen=True)
class DataDocs:
    """A Great Expectations project under ``root`` (``STATE_DIR/great_expectations``): its
    context (suites, checkpoints, validation results) and the Data Docs site built from them."""

    root: Path

    @property
    def context_dir(self) -> Path:
        return self.root / "context"

    @property
    def site_dir(self) -> Path:
        return self.root / "data_docs"

    @property
    def index(self) -> Path:
        return self.site_dir / "index.html"


class Checker:
    """One Great Expectations context for a run (it is slow to create): ephemeral, or the
    file-backed project of ``docs``. ``run_name`` names the run in the results (a version id)."""

    def __init__(self, docs: DataDocs | None = None, run_name: str = "") -> None:
        import great_expectations as gx

        self.docs, self._run_name, self._lock = docs, run_name, None
        if docs is None:
            self._context = gx.get_context(mode="ephemeral")
        else:
            docs.context_dir.mkdir(parents=True, exist_ok=True)
            # The project's files (suites, checkpoints, results, the site) are rewritten by every
            # run: two processes at once (two billing runs) would read each other's half-written
            # files. One checker per project at a time; released by close() or with the process.
            self._lock = open(docs.root / ".lock", "a")
            fcntl.flock(self._lock, fcntl.LOCK_EX)
            self._context = gx.get_context(mode="file", project_root_dir=str(docs.context_dir))
            self._use_site(docs.site_dir)
            self._use_styles()
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:  # older/newer layouts: progress bars are cosmetic
            pass
        self._pandas = self._context.data_sources.add_or_update_pandas("viewcount")
        self._spark = None   # added on the first Spark DataFrame: it needs a running session

    def close(self) -> None:
        """Let the next checker of the same project in."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _use_site(self, site_dir: Path) -> None:
        """Our one Data Docs site, in ``site_dir`` (a new project comes with a default one)."""
        config = {"class_name": "SiteBuilder",
                  "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
                  "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}
        sites = self._context.variables.data_docs_sites or {}
        if set(sites) == {SITE} and sites[SITE]["store_backend"]["base_directory"] == str(site_dir):
            return
        for name in list(sites):
            self._context.delete_data_docs_site(name)
        self._context.add_data_docs_site(site_name=SITE, site_config=config)

    def _use_styles(self) -> None:
        """Our styles, inlined into every page (the project's plugins folder is where GX looks)."""
        from importlib.resources import files

        styles = Path(self._context.plugins_directory) / "custom_data_docs" / "styles"
        styles.mkdir(parents=True, exist_ok=True)
        (styles / "data_docs_custom_styles.css").write_text(
            files(__package__).joinpath("data_docs.css").read_text(encoding="utf-8"), encoding="utf-8")

    def check(self, name: str, frame, parameters: dict | None = None) -> CheckReport:
        """Validate ``frame`` against the stored suite ``name`` through its checkpoint."""
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction
        from great_expectations.core.run_identifier import RunIdentifier

        suite = self._context.suites.add_or_update(load_suite(name))
        source = self._source_for(frame)
        asset = next((a for a in source.assets if a.name == name), None) or source.add_dataframe_asset(name)
        batch = asset.batch_definitions[0] if asset.batch_definitions else \
            asset.add_batch_definition_whole_dataframe("whole")
        validation = self._context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite))
        actions = [UpdateDataDocsAction(name="data_docs", site_names=[SITE])] if self.docs else []
        checkpoint = self._context.checkpoints.add_or_update(
            gx.Checkpoint(name=name, validation_definitions=[validation], actions=actions))
        run = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters or {},
                             run_id=RunIdentifier(run_name=self._run_name or None))
        outcome = next(iter(run.run_results.values()))
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


    def _source_for(self, frame):
        """The data source for ``frame``: a Spark DataFrame is validated where it is, by Spark,
        never brought to the driver; a pandas frame (a summary) by pandas."""
        if not type(frame).__module__.startswith("pyspark"):
            return self._pandas
        if self._spark is None:
            self._spark = self._context.data_sources.add_or_update_spark("viewcount_spark")
        return self._spark


def describe_failed(reports: list[CheckReport]) -> str:
    """The failed checks of a run in one line: ``name: expectation(column) unexpected=n; …``."""
    return "; ".join(f"{r.name}: {r.describe_failures()}" for r in reports if not r.success)


def write_reports(store, directory: str, reports: list[CheckReport]) -> str:
    path = f"{directory}/_checks.json"
    body = [{"name": r.name, "success": r.success, "results": r.results} for r in reports]
    store.put(path, json.dumps(body, indent=1, sort_keys=True).encode())
    return path
