"""What ships is the portal: the wheel the build backend really makes, and what the image copies.

The wheel is built from a copy of this tree by the backend pyproject.toml names, so the test
sees what setuptools' own package discovery puts in it (namespace packages included, such as
dashboard/management/commands, which has no __init__.py), not what a helper would guess.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ("dashboard", "spacelift_portal")
NOT_SHIPPED = ("simulator", "tests", "bench", "scripts", "docs", "docker")
# What the tree holds that is not source: left out of the copy the wheel is built from.
NOT_SOURCE = (".git", ".venv", "node_modules", "__pycache__", "*.egg-info", "build", "dist",
              "staticfiles", ".pytest_cache", ".ruff_cache", "*.sqlite3")  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> set[PurePosixPath]:
    """The paths inside the wheel that pyproject.toml's build backend makes of this tree."""
    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    source = tmp_path_factory.mktemp("source") / "portal"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    build = (
        f"import importlib, sys; importlib.import_module({backend['build-backend']!r})"
        ".build_wheel(sys.argv[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", build, str(out)], cwd=source, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        return {PurePosixPath(name) for name in archive.namelist()}


def test_the_wheel_ships_every_module_of_the_portal(wheel):
    for package in PORTAL:
        for module in (ROOT / package).rglob("*.py"):
            if "__pycache__" not in module.parts:
                path = PurePosixPath(module.relative_to(ROOT).as_posix())
                assert path in wheel, f"{path} is not in the wheel"
    # Its own management command, in a folder without __init__.py (a namespace package).
    assert PurePosixPath("dashboard/management/commands/prune_audit.py") in wheel
    assert PurePosixPath("dashboard/migrations/__init__.py") in wheel
    subpackages = {p.parent for p in wheel if p.parts[0] == "dashboard" and p.suffix == ".py"}
    for name in ("stacks", "runs", "connection", "accounts", "audit", "spacelift"):
        assert PurePosixPath("dashboard", name) in subpackages, name


def test_the_wheel_ships_no_simulator_bench_scripts_demo_or_tests(wheel):
    tops = {path.parts[0] for path in wheel}
    (metadata,) = {top for top in tops if top.endswith(".dist-info")}
    assert tops == {*PORTAL, metadata}
    assert not tops & set(NOT_SHIPPED)
    # The demo's admin/admin account must not be one command away in a deployment.
    assert not [path for path in wheel if "demo" in path.name or "simulator" in path.name]


def test_the_image_copies_the_portal_and_no_simulator_tests_or_tools():
    copied = re.findall(r"^COPY\s+(.+?)\s+\S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = {part for line in copied for part in line.split()}
    assert {*PORTAL, "templates", "static"} <= sources
    assert not sources & set(NOT_SHIPPED)
    assert "." not in sources  # a whole-tree copy would bring everything back
