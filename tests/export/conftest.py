"""Fixtures for export tests: sealed packages, media, the local RFC 3161 TSA."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from export_support import Built, build_package

from helpers import make_clip

# The local TSA fixture of tests/integrity (openssl ts -reply behind http.server), reused.
_spec = importlib.util.spec_from_file_location(
    "integrity_tsa_fixtures", Path(__file__).resolve().parents[1] / "integrity" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_tsa = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _tsa
_spec.loader.exec_module(_tsa)
local_tsa = _tsa.local_tsa


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("export-media")
    make_clip(d / "cam1.mp4", seconds=3)
    make_clip(d / "cam2.mp4", seconds=2, size="160x120")
    return d


@pytest.fixture(scope="session")
def sealed(tmp_path_factory: pytest.TempPathFactory, media_dir: Path, local_tsa) -> Built:  # type: ignore[no-untyped-def]
    """One sealed package (with RFC 3161 tokens from the local TSA), built once per session."""
    return build_package(tmp_path_factory.mktemp("sealed"), media_dir, local_tsa)


@pytest.fixture
def fresh_copy(sealed: Built, tmp_path: Path) -> Callable[[], Path]:
    """A private copy of the unpacked bag, for tests that tamper with it."""

    def copy() -> Path:
        dest = tmp_path / sealed.folder.name
        shutil.copytree(sealed.folder, dest)
        return dest

    return copy
