"""The `py_file` the DAG's Beam tasks run: `lamina corpus` with the operator's options as its flags.

BeamRunPythonPipelineOperator runs `<py_interpreter> lamina_corpus_main.py --runner=R --key=value ...`;
this hands every flag to `lamina corpus` (its own flags, the rest to Beam), so one source's task is
`lamina corpus --sources <source> ...` running in the interpreter where the lamina wheel is installed.
Nothing here imports the scheduler; .airflowignore keeps the DAG processor from parsing this file.
"""

import sys

from lamina.pipelines.corpus import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
