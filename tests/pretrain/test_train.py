"""The single-process trainer on CPU: loss falls clearly on real text, the run directory holds what the
interfaces promise, the optimizer/schedule/clipping follow LLaMA-1's, checkpointing modes train the same
losses, and the CLI fails at start with the file named."""

import json
import math

import pytest
import torch

from lamina.pretrain import cli
from lamina.pretrain.config import preset
from lamina.pretrain.metrics import memory_gib, mfu, peak_flops_for_name
from lamina.pretrain.model import Transformer
from lamina.pretrain.optim import clip_grad_norm_, lr_factor, param_groups
from lamina.pretrain.train_config import TrainConfig, load_config
from lamina.pretrain.trainer import Trainer
from tests.pretrain.conftest import VOCAB

TINY = dict(
    model="tiny",
    seq_len=64,
    micro_batch=4,
    global_batch_tokens=512,
    heldout_tokens=4096,
    lr=3e-3,
    warmup_steps=5,
    eval_sequences=8,
    log_every=10,
)


@pytest.mark.slow  # ~10 s of training, plus importing transformers for the export check
def test_tiny_run_loss_falls_clearly_and_writes_the_run_directory(shard_set, tmp_path):
    cfg = TrainConfig(**TINY, steps=30, eval_every=15, checkpoint_every=15)
    trainer = Trainer(cfg, shard_set, tmp_path)
    records = trainer.fit()
    losses = [r["loss"] for r in records]
    assert losses[0] == pytest.approx(math.log(VOCAB) + 0.5, abs=0.3)  # chance (+ logits of std 1 at init)
    assert sum(losses[-5:]) / 5 < losses[0] - 2.0, losses  # ln 257 = 5.55 -> about 3 (bytes of English)
    assert records[-1]["val_loss"] < records[14]["val_loss"] < losses[0]
    assert set(records[-1]) >= {"val_loss.c4", "val_loss.books"}
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 31))
    assert all({"step", "loss", "lr", "tokens_per_s", "grad_norm", "mem_gib"} <= set(r) for r in lines)
    assert all(r["mfu"] is None for r in lines)  # CPU: no figure rather than a wrong one
    assert any((tmp_path / "tb").glob("events.out.tfevents.*"))
    ckpts = tmp_path / "checkpoints"
    assert (ckpts / "latest").read_text().strip() == "step_00000030"
    saved = json.loads((ckpts / "step_00000030" / "model_config.json").read_text())
    assert saved["vocab_size"] == VOCAB and saved["dim"] == 64  # vocabulary taken from the manifest
    assert not list(ckpts.glob("*.tmp"))
    # the checkpoint is what `lamina export-hf` reads: Hugging Face's model gives the trained logits
    from transformers import LlamaForCausalLM

    from lamina.pretrain import hf

    assert hf.main([str(ckpts), str(tmp_path / "hf")]) == 0
    hf_model = LlamaForCausalLM.from_pretrained(tmp_path / "hf")
    x = torch.randint(0, 257, (2, 32))
    with torch.no_grad():
        torch.testing.assert_close(hf_model(x).logits, trainer.model(x), atol=1e-4, rtol=1e-4)


def test_checkpointing_modes_train_the_same_losses(shard_set, tmp_path):
    """apply_ac switches the model's modes; every one trains the losses of plain autograd (fp32)."""
    losses = {}
    for mode in ("none", "manual", "full", "selective"):
        cfg = TrainConfig(**TINY, steps=3, eval_every=0, checkpoint_every=0, checkpointing=mode)
        losses[mode] = [r["loss"] for r in Trainer(cfg, shard_set, tmp_path / mode).fit()]
    for mode in ("manual", "full", "selective"):
        assert losses[mode] == pytest.approx(losses["none"], rel=1e-5), mode


def test_weight_decay_on_matrices_only():
    model = Transformer(preset("tiny"))
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {names[id(p)] for p in no_decay["params"]} == {
        n for n, _ in model.named_parameters() if "norm" in n
    }
    assert "tok_embeddings.weight" in {names[id(p)] for p in decay["params"]}


def test_warmup_then_cosine_to_ten_percent():
    f = [lr_factor(s, warmup=10, total=110, min_ratio=0.1) for s in range(120)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(f[:10], f[1:10], strict=False))  # linear rise
    assert f[10] == pytest.approx(1.0) and f[60] == pytest.approx(0.55, abs=0.01)  # half-way: mid-point
    assert f[109] == pytest.approx(0.1) and f[119] == pytest.approx(0.1)  # floor at the end and after
    assert all(a >= b for a, b in zip(f[10:], f[11:], strict=False))


def test_clip_grad_norm_matches_torch():
    torch.manual_seed(0)
    a, b = (Transformer(preset("tiny")) for _ in range(2))
    x = torch.randint(0, 2000, (2, 16))
    for m in (a, b):
        (m(x).float().pow(2).mean() * 100).backward()
    ours = clip_grad_norm_(a.parameters(), 1.0)
    ref = torch.nn.utils.clip_grad_norm_(b.parameters(), 1.0)
    assert float(ours) == pytest.approx(float(ref), rel=1e-6) and float(ours) > 1.0
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)


def test_mfu_table_and_no_figure_for_unknown_devices():
    assert peak_flops_for_name("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops_for_name("NVIDIA H100 PCIe") == 756e12
    assert peak_flops_for_name("NVIDIA A100-SXM4-80GB") == 312e12
    assert peak_flops_for_name("NVIDIA H200") == 989e12
    assert peak_flops_for_name("Tesla T4") is None
    # exact names: the PCIe/NVL parts are not the SXM part, an A10 is not an A10G, an L40 not an L40S
    assert peak_flops_for_name("NVIDIA H100 NVL") == peak_flops_for_name("NVIDIA H200 NVL") == 835e12
    assert peak_flops_for_name("NVIDIA H800 PCIe") == 756e12
    assert (peak_flops_for_name("NVIDIA A10"), peak_flops_for_name("NVIDIA A10G")) == (125e12, 70e12)
    assert (peak_flops_for_name("NVIDIA L40"), peak_flops_for_name("NVIDIA L40S")) == (181e12, 362e12)
    assert peak_flops_for_name("NVIDIA H100") is None  # a name no device reports: no guess
    assert mfu(1e9, 1000.0, 1, None) is None
    assert mfu(6e9, 10_000.0, 2, 100e12) == pytest.approx(0.3)
    assert memory_gib(torch.device("cpu")) > 0


def test_config_from_toml_with_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('model = "tiny"\nseq_len = 128\nsteps = 10\nlr = 1e-3\n[model_overrides]\nn_layers = 3\n')
    cfg = load_config(
        path, ["steps=20", "compile=true", "model_overrides.dim=128", "global_batch_tokens=4e6"]
    )
    assert (cfg.steps, cfg.lr, cfg.compile, cfg.global_batch_tokens) == (20, 1e-3, True, 4_000_000)
    assert cfg.model_config(vocab_size=300) == preset("tiny", n_layers=3, dim=128, vocab_size=300)
    with pytest.raises(ValueError, match="no field 'stepz'"):
        load_config(path, ["stepz=3"])
    path.write_text("bogus = 1\n")
    with pytest.raises(ValueError, match=r"unknown keys \['bogus'\]"):
        load_config(path)
    assert load_config(None, ["tp=2", "checkpointing=manual"]).checkpointing == "manual"  # tp_block.py
    with pytest.raises(ValueError, match="not a multiple"):
        TrainConfig(global_batch_tokens=1000, seq_len=64).grad_accum(1)


def test_presets_keep_llama_hyperparameters():
    for name, lr in (("7b", 3e-4), ("13b", 3e-4), ("33b", 1.5e-4), ("65b", 1.5e-4)):
        cfg = load_config(f"configs/pretrain/{name}.toml")
        assert (cfg.model, cfg.lr, cfg.seq_len, cfg.warmup_steps) == (name, lr, 2048, 2000)
        assert cfg.global_batch_tokens == 4 * 1024 * 1024 and (cfg.beta1, cfg.beta2) == (0.9, 0.95)
        assert (cfg.weight_decay, cfg.grad_clip, cfg.min_lr_ratio) == (0.1, 1.0, 0.1)


def test_cli_names_the_broken_shard_at_start(fresh_shards, tmp_path, capsys):
    (fresh_shards.parent / "books_00001.idx").unlink()
    code = cli.main(
        ["--config", "configs/pretrain/tiny.toml", "--manifest", str(fresh_shards), "--out", str(tmp_path)]
    )
    assert code == 2
    assert "books_00001.idx: shard file listed in" in capsys.readouterr().err
    assert not (tmp_path / "metrics.jsonl").exists()


def test_cli_trains_copies_the_tokenizer_and_says_where_things_are(fresh_shards, tmp_path, capsys):
    tok = fresh_shards.parent.parent / "tokenizer" / "tokenizer.model"
    tok.parent.mkdir()
    tok.write_bytes(b"sentencepiece model bytes")
    m = json.loads(fresh_shards.read_text())
    m["tokenizer"] = {"path": "../tokenizer/tokenizer.model", "sha256": "unused"}
    fresh_shards.write_text(json.dumps(m))
    out = tmp_path / "run"
    sets = ["steps=2", "seq_len=64", "micro_batch=2", "global_batch_tokens=128", "eval_sequences=2"]
    argv = ["--config", "configs/pretrain/tiny.toml", "--manifest", str(fresh_shards), "--out", str(out)]
    assert cli.main(argv + [x for s in sets for x in ("--set", s)]) == 0
    assert (out / "tokenizer.model").read_bytes() == b"sentencepiece model bytes"
    printed = capsys.readouterr().out
    assert (
        f"logs in {out / 'metrics.jsonl'}" in printed and f"checkpoints in {out / 'checkpoints'}" in printed
    )
    assert f"latest checkpoint {out / 'checkpoints' / 'step_00000002'}" in printed


def test_rerun_refuses_without_resume_or_overwrite_and_epochs_are_logged(fresh_shards, tmp_path, capsys):
    """A second `lamina pretrain` into a run directory neither restarts it silently nor appends to its
    logs: one line, exit 2, files untouched; --overwrite starts over cleanly. Epochs per source are in
    metrics.jsonl, on the console and in TensorBoard."""
    out = tmp_path / "run"
    sets = ["steps=3", "seq_len=64", "micro_batch=2", "global_batch_tokens=256", "eval_sequences=2"]
    sets += ["log_every=1", "heldout_tokens=4096"]
    argv = ["--config", "configs/pretrain/tiny.toml", "--manifest", str(fresh_shards), "--out", str(out)]
    argv += [x for s in sets for x in ("--set", s)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    for source in ("c4", "books"):
        e = [r[f"epoch.{source}"] for r in records]
        assert 0 <= e[0] <= e[1] <= e[2] and 0 < e[2] < 1, (source, e)  # fractions of an epoch, growing
    assert f"epochs c4 {records[-1]['epoch.c4']:.3f} books {records[-1]['epoch.books']:.3f}" in printed
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = EventAccumulator(str(out / "tb"))
    tb.Reload()
    assert [e.step for e in tb.Scalars("epoch/books")] == [1, 2, 3]

    before = (out / "metrics.jsonl").read_text()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out} already holds a run" in err and "--resume" in err
    assert "--overwrite" in err and (out / "metrics.jsonl").read_text() == before
    assert cli.main(argv + ["--resume", "--overwrite"]) == 2
    assert "exclude each other" in capsys.readouterr().err

    (out / "tb" / "stale.txt").write_text("old run")
    broken = [a if a != str(fresh_shards) else str(tmp_path / "missing.json") for a in argv]
    assert cli.main(broken + ["--overwrite"]) == 2  # a mistyped manifest does not cost the old run
    assert "manifest not found" in capsys.readouterr().err and (out / "metrics.jsonl").read_text() == before
    assert cli.main(argv + ["--overwrite"]) == 0
    again = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in again] == [1, 2, 3] and [r["loss"] for r in again] == [
        r["loss"] for r in records
    ]
    assert not (out / "tb" / "stale.txt").exists()


def test_adamw_fused_on_cuda_foreach_elsewhere():
    from lamina.pretrain.optim import adamw_implementation, build_optimizer

    assert adamw_implementation(torch.device("cuda", 0)) == "fused"
    assert adamw_implementation(torch.device("cpu")) == "foreach"
    opt = build_optimizer(Transformer(preset("tiny")), TrainConfig())
    assert (opt.defaults["foreach"], opt.defaults["fused"]) == (True, False)
    if torch.cuda.is_available():
        opt = build_optimizer(Transformer(preset("tiny")).cuda(), TrainConfig())
        assert (opt.defaults["foreach"], opt.defaults["fused"]) == (False, True)


def test_overwrite_empties_a_symlinked_checkpoint_dir_and_keeps_the_link(shard_set, tmp_path):
    """out/checkpoints is often a link to a big filesystem: --overwrite deletes the old checkpoints
    there (shutil.rmtree refuses a link: it used to raise) and keeps the link, so the new run writes
    there too. A file next to the run's files is left alone."""
    big = tmp_path / "volume"
    (big / "step_00000002").mkdir(parents=True)
    (big / "step_00000002" / "shard.distcp").write_bytes(b"old")
    (big / "latest").write_text("step_00000002\n")
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoints").symlink_to(big, target_is_directory=True)
    (out / "metrics.jsonl").write_text('{"step": 2}\n')
    (out / "notes.txt").write_text("mine")
    sets = ["steps=2", "seq_len=64", "micro_batch=2", "global_batch_tokens=256", "eval_sequences=2"]
    cfg = load_config("configs/pretrain/tiny.toml", sets + ["heldout_tokens=4096", "checkpoint_every=2"])
    with pytest.raises(ValueError, match="already holds a run"):
        Trainer(cfg, shard_set, out)
    trainer = Trainer(cfg, shard_set, out, overwrite=True)
    assert (out / "checkpoints").is_symlink() and not (big / "step_00000002").exists()
    assert not (big / "latest").exists() and (out / "notes.txt").read_text() == "mine"
    trainer.fit()
    trainer.close()
    assert (big / "step_00000002").is_dir() and (big / "latest").read_text().strip() == "step_00000002"
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2  # the new run's steps 1-2 only
