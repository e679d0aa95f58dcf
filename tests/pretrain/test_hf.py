"""Interop with Hugging Face: the reference nobody here wrote. Our logits must equal
LlamaForCausalLM's on the exported weights, import must round-trip, and `lamina export-hf` must
write a directory that from_pretrained and LlamaTokenizer load."""

import dataclasses
import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from lamina.pretrain import hf  # noqa: E402
from lamina.pretrain.config import ModelConfig, preset  # noqa: E402
from lamina.pretrain.model import Transformer  # noqa: E402

CFG = ModelConfig(
    dim=64, n_layers=2, n_heads=4, vocab_size=1000, max_seq_len=64, multiple_of=32, rope_theta=500.0
)


def _model(seed=3):
    model = Transformer(CFG)
    model.init_weights(seed)
    with torch.no_grad():  # norms off the identity so their mapping is checked too
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


def _tokens():
    return torch.randint(0, CFG.vocab_size, (2, 40), generator=torch.Generator().manual_seed(0))


def test_our_logits_equal_hf_llama_on_exported_weights(tmp_path):
    model = _model()
    hf.export_model(model, tmp_path / "hf")
    theirs = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32).eval()
    assert theirs.config.rope_parameters["rope_theta"] == 500.0
    tokens = _tokens()
    with torch.no_grad():
        ours, ref = model(tokens), theirs(tokens).logits
    assert (ours - ref).abs().max().item() < 1e-4
    assert ref.abs().max().item() > 0.1  # a real comparison, not of two near-zero tensors


def test_rotary_permutation_is_needed_and_inverts():
    w = torch.randn(64, 16)
    assert torch.equal(hf.half_to_interleaved(hf.interleaved_to_half(w, 4), 4), w)
    assert not torch.equal(hf.interleaved_to_half(w, 4), w)


def test_import_round_trips_through_hf():
    model = _model()
    theirs = transformers.LlamaForCausalLM(hf.hf_config(CFG)).eval()
    theirs.load_state_dict(hf.to_hf_state_dict(model.state_dict(), CFG))
    back = hf.import_hf(theirs)
    # multiple_of is not stored by HF; any value giving the same hidden width is the same model
    assert back.config.hidden_dim == CFG.hidden_dim
    assert dataclasses.replace(back.config, multiple_of=CFG.multiple_of) == CFG
    for name, tensor in model.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name
    tokens = _tokens()
    with torch.no_grad():
        assert (back(tokens) - theirs(tokens).logits).abs().max().item() < 1e-4


def test_import_refuses_grouped_query_attention():
    cfg = hf.hf_config(CFG)
    cfg.num_key_value_heads = 2
    with pytest.raises(ValueError, match="grouped-query"):
        hf.config_from_hf(cfg)


def _sentencepiece(shared_data, tmp_path):
    spm = pytest.importorskip("sentencepiece")
    text = (shared_data / "books" / "12-0.txt").read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()][:3000]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(tmp_path / "sp"),
        model_type="bpe",
        vocab_size=CFG.vocab_size,
        byte_fallback=True,
        split_digits=True,
        character_coverage=0.9995,
        num_threads=1,
        minloglevel=2,
    )
    return tmp_path / "sp.model", spm.SentencePieceProcessor(model_file=str(tmp_path / "sp.model")), lines


@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
def test_export_hf_command_from_dcp_checkpoint_with_tokenizer(tmp_path, shared_data):
    import torch.distributed.checkpoint as dcp

    sp_path, sp, lines = _sentencepiece(shared_data, tmp_path)
    model = _model()
    run = tmp_path / "run"
    step = run / "checkpoints" / "step_00000010"
    dcp.save({"model": model.state_dict(), "step": 10}, checkpoint_id=str(step))
    (step / "model_config.json").write_text(CFG.to_json())
    (run / "checkpoints" / "latest").write_text("step_00000010\n")
    (run / "tokenizer.model").write_bytes(sp_path.read_bytes())

    from lamina.cli import main as lamina_main

    assert lamina_main(["export-hf", str(run / "checkpoints"), str(tmp_path / "out")]) == 0
    theirs = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "out", dtype=torch.float32)
    tokens = _tokens()
    with torch.no_grad():
        assert (model(tokens) - theirs(tokens).logits).abs().max().item() < 1e-4
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    assert (
        json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())["tokenizer_class"]
        == "LlamaTokenizer"
    )
    for line in lines[100:110]:
        assert tok(line)["input_ids"] == [sp.bos_id()] + sp.encode(line), line


def test_export_hf_from_torch_save_file_and_clear_errors(tmp_path, capsys):
    model = _model()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "model_config.json").write_text(CFG.to_json())
    assert hf.main([str(tmp_path / "model.pt"), str(tmp_path / "out")]) == 0
    assert "no tokenizer" in capsys.readouterr().out
    loaded = hf.import_hf(tmp_path / "out")
    assert torch.equal(loaded.output.weight, model.output.weight)

    wrong = preset("tiny")
    (tmp_path / "model_config.json").write_text(wrong.to_json())
    assert hf.main([str(tmp_path / "model.pt"), str(tmp_path / "out2")]) == 1
    assert "does not match" in capsys.readouterr().err
    assert hf.main([str(tmp_path / "missing.pt"), str(tmp_path / "out3")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
def test_export_hf_of_a_real_training_run(shard_set, tmp_path):
    """End to end: the trainer's own checkpoint (its DCP keys, its model_config.json) exports to a
    LlamaForCausalLM that computes the trained model's logits."""
    from lamina.pretrain.train_config import TrainConfig
    from lamina.pretrain.trainer import Trainer

    cfg = TrainConfig(
        model="tiny", seq_len=32, micro_batch=2, global_batch_tokens=64, heldout_tokens=4096, steps=2,
        warmup_steps=1, eval_every=0, checkpoint_every=2, log_every=1,
    )  # fmt: skip
    trainer = Trainer(cfg, shard_set, tmp_path / "run")
    trainer.fit()
    trained = trainer.model
    trainer.close()
    assert hf.main([str(tmp_path / "run"), str(tmp_path / "hf")]) == 0  # the run directory: takes latest
    theirs = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32)
    tokens = torch.randint(0, trained.config.vocab_size, (1, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (trained(tokens) - theirs(tokens).logits).abs().max().item() < 1e-4
