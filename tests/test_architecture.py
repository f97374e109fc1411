"""The architecture contract (pyproject's [tool.importlinter]) holds, and it would catch an
upward import: a copy of the code with one bad import breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crm", "bot", "funnel")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # A fresh process whose import path starts at `root`, so the contract is read off that
    # tree's code and not the installed copy.
    env = {**os.environ, "PYTHONPATH": str(root)}
    script = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )


def test_the_code_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") == 4


def copy_of_the_code(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "data"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_a_service_importing_the_web_breaks_the_layers(tmp_path):
    root = copy_of_the_code(tmp_path)
    add_import(root / "crm/services/tasks.py", "from crm.web import auth  # noqa")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "crm.services.tasks -> crm.web.auth" in result.stdout


def test_the_funnel_importing_a_service_breaks_its_read_only_rule(tmp_path):
    root = copy_of_the_code(tmp_path)
    add_import(root / "funnel/metrics.py", "from crm.services import households  # noqa")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "funnel.metrics -> crm.services.households" in result.stdout


def test_the_scheduler_importing_the_funnel_report_is_refused(tmp_path):
    root = copy_of_the_code(tmp_path)
    add_import(root / "crm/scheduler/jobs.py", "from funnel import report  # noqa")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "crm.scheduler.jobs -> funnel.report" in result.stdout
