"""Fixtures of the pipeline tests: an in-process Beam test pipeline (Beam's DirectRunner would first
try to download Prism; the FnApiRunner named directly does not)."""

from __future__ import annotations

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

FN_API_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
# Beam options of a single in-process worker (the cheapest runner start; most tests use it).
IN_PROCESS = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]


def in_process_pipeline() -> TestPipeline:
    return TestPipeline(runner=FN_API_RUNNER, options=PipelineOptions([]))


@pytest.fixture
def tp():
    """A factory of in-process test pipelines (use as `with tp() as p:`)."""
    return in_process_pipeline
