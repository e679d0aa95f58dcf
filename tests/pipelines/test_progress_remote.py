"""Progress on a runner that returns before the job ends: the portable Fn API path (the one Dataflow,
Flink and Spark use), with a job that outlives several progress intervals."""

from __future__ import annotations

import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from lamina.pipelines import progress


class _Slow(beam.DoFn):
    def process(self, x):
        time.sleep(0.6)
        yield x


def test_remote_progress_polls_a_portable_job_until_it_ends(capsys):
    # Before the fix, each interval called wait_until_finish(duration), which starts a new reader of the
    # job's single message stream while the previous one still runs: "generator already executing".
    opts = PipelineOptions(["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"])
    p = beam.Pipeline(options=opts)
    _ = p | beam.Create(list(range(6))) | beam.Reshuffle() | beam.ParDo(_Slow())
    result = p.run()
    progress.remote_progress(result, 0.2, ["cc"])
    assert str(result.wait_until_finish()).endswith("DONE")
    err = capsys.readouterr().err
    assert "submitted" in err
    assert err.count("lamina corpus: job") >= 2, err  # the job outlived at least one interval
