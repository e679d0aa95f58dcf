"""The `lamina` command. Each subcommand lives in its own module with a `main(argv)` function;
modules are imported only when their subcommand runs, so `lamina sample` never imports torch."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "sample": ("lamina.sample", "write the sample world (inputs of all seven formats + ground truth)"),
    "models": (
        "lamina.models",
        "train language id, per-language SentencePiece + KenLM, reference classifier",
    ),
    "corpus": (
        "lamina.pipelines.corpus",
        "run the source pipelines on Beam (--runner, Beam options pass through)",
    ),
    "tokenizer": ("lamina.tokenize.cli", "tokenizer train | shards: SentencePiece BPE and Megatron shards"),
    "report": ("lamina.reports.cli", "build the HTML filter reports from a corpus run's statistics"),
    "refilter": (
        "lamina.refilter.cli",
        "new thresholds for an annotated corpus run (corpus --annotate), without rerunning its models",
    ),
    "ledger": ("lamina.ledger.cli", "ledger why ID: why one document was kept or dropped (corpus --ledger)"),
    "pretrain": ("lamina.pretrain.cli", "train a LLaMA model (under torchrun for several processes)"),
    "export-hf": ("lamina.pretrain.hf", "checkpoint -> Hugging Face LlamaForCausalLM directory"),
    "plan": ("lamina.plan.cli", "model size, tokens and days for a training budget and an inference volume"),
    "bench": ("lamina.bench", "benchmarks that print ratios against a baseline side by side"),
}


def usage() -> str:
    lines = ["usage: lamina COMMAND [options]   (lamina COMMAND --help for a command's options)", ""]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"lamina: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
