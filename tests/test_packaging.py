"""Every file a package reads from beside its modules (Lua scripts, the dashboard, the player
snippet) is declared as package data, so the installed application (the Docker image) has it."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_SUFFIXES = {".lua", ".html", ".js", ".css"}


def test_every_data_file_of_a_package_is_package_data():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    missing = []
    for path in sorted(ROOT.glob("*/**/*")):
        if path.suffix not in DATA_SUFFIXES or ".venv" in path.parts or "tests" in path.parts:
            continue
        package = path.relative_to(ROOT).parts[0]
        if not (ROOT / package / "__init__.py").exists():
            continue
        inside = path.relative_to(ROOT / package).as_posix()
        if not any(fnmatch.fnmatch(inside, pattern) for pattern in declared.get(package, [])):
            missing.append(f"{package}/{inside}")
    assert missing == []
