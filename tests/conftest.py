"""Fixtures shared by the whole suite.

The sample world and the models trained on it are built once per test session (they take a while)
and shared read-only by every test that needs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: small samples of the real formats (read from there, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data samples not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_world(tmp_path_factory) -> Path:
    """The generated sample world (seed 0), written once per session."""
    from lamina.sample import write_sample_world

    return write_sample_world(tmp_path_factory.mktemp("sample"), seed=0)


@pytest.fixture(scope="session")
def sample_models(sample_world, tmp_path_factory) -> Path:
    """Every filter model trained by `lamina models` on the sample world, once per session."""
    from lamina.models import train_all

    out = tmp_path_factory.mktemp("models")
    train_all(sample_world, out)
    return out
