"""Fixtures of the sample-world tests: the world written twice (seed 0) and read helpers."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def world_again(tmp_path_factory):
    """A second, independent write of the seed-0 world (for the determinism test)."""
    from lamina.sample import write_sample_world

    return write_sample_world(tmp_path_factory.mktemp("sample_again"), seed=0)
