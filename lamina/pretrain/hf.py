"""Interop with Hugging Face `transformers`: export our weights as a `LlamaForCausalLM` directory and
import one back. `lamina export-hf CHECKPOINT DIR [--tokenizer PATH]` is the command.

The two layouts differ in names and in one real way, the rotary pairing. Meta's layout (ours, see
model.py) rotates interleaved pairs (0, 1), (2, 3), ... of each head; Hugging Face's `rotate_half`
rotates dimension i with i + head_dim/2. Reordering the rows of wq and wk inside every head — HF row
j*2 + p  <- ours 2*j + p for the first/second half — makes HF's rotation compute exactly ours, since
q.k scores only depend on rows matching between q and k. This is the permutation of Meta's
`convert_llama_weights_to_hf.py`.

CHECKPOINT is either a pretraining checkpoint directory (torch.distributed.checkpoint files whose
`model` key holds our state dict, with `model_config.json` beside them; docs/interfaces.md) or a plain
`torch.save` file of our state dict (its config then comes from `--config` or a `model_config.json`
next to it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from lamina.pretrain.config import ModelConfig
from lamina.pretrain.model import Transformer

# Our name (per layer, after "layers.{i}.") -> Hugging Face's (after "model.layers.{i}.")
_LAYER_NAMES = {
    "attention.wq.weight": "self_attn.q_proj.weight",
    "attention.wk.weight": "self_attn.k_proj.weight",
    "attention.wv.weight": "self_attn.v_proj.weight",
    "attention.wo.weight": "self_attn.o_proj.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
    "attention_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
}
_TOP_NAMES = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight"}
_TOP_NAMES["output.weight"] = "lm_head.weight"
_ROTARY = ("attention.wq.weight", "attention.wk.weight")


def interleaved_to_half(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of wq/wk from Meta's interleaved-pair rotary layout to HF's rotate-half layout."""
    rows, cols = w.shape
    return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def half_to_interleaved(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """The inverse of `interleaved_to_half`."""
    rows, cols = w.shape
    return w.view(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)


def hf_config(cfg: ModelConfig, dtype: torch.dtype = torch.float32):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.dim,
        intermediate_size=cfg.hidden_dim,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        head_dim=cfg.head_dim,
        max_position_embeddings=cfg.max_seq_len,
        rms_norm_eps=cfg.norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=False,
        bos_token_id=1,  # LLaMA's SentencePiece ids: unk 0, bos 1, eos 2 (docs/tokenizer.md)
        eos_token_id=2,
        dtype=dtype,
    )


def to_hf_state_dict(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Our state dict -> LlamaForCausalLM's (names mapped, wq/wk rows permuted per head)."""
    out = {}
    for name, tensor in state.items():
        if name in _TOP_NAMES:
            out[_TOP_NAMES[name]] = tensor
            continue
        prefix, layer, rest = name.split(".", 2) if name.startswith("layers.") else (None, None, name)
        if prefix != "layers" or rest not in _LAYER_NAMES:
            raise KeyError(f"unexpected parameter {name!r} in a lamina state dict")
        if rest in _ROTARY:
            tensor = interleaved_to_half(tensor, cfg.n_heads)
        out[f"model.layers.{layer}.{_LAYER_NAMES[rest]}"] = tensor
    return out


def from_hf_state_dict(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """LlamaForCausalLM's state dict -> ours. A tied model (no lm_head) gets the embedding as output."""
    top = {v: k for k, v in _TOP_NAMES.items()}
    per_layer = {v: k for k, v in _LAYER_NAMES.items()}
    out = {}
    for name, tensor in state.items():
        if name in top:
            out[top[name]] = tensor
            continue
        parts = name.split(".", 3)  # model, layers, i, rest
        if len(parts) != 4 or parts[:2] != ["model", "layers"] or parts[3] not in per_layer:
            if name.endswith("rotary_emb.inv_freq"):  # a derived buffer some versions save
                continue
            raise KeyError(f"unexpected Hugging Face parameter {name!r} for a LLaMA model")
        ours = per_layer[parts[3]]
        if ours in _ROTARY:
            tensor = half_to_interleaved(tensor, cfg.n_heads)
        out[f"layers.{parts[2]}.{ours}"] = tensor
    if "output.weight" not in out and "tok_embeddings.weight" in out:
        out["output.weight"] = out["tok_embeddings.weight"].clone()
    return out


def config_from_hf(hf_cfg) -> ModelConfig:
    """Our config for a Hugging Face LlamaConfig; refuses what our model cannot represent."""
    problems = []
    heads = hf_cfg.num_attention_heads
    if getattr(hf_cfg, "num_key_value_heads", heads) != heads:
        problems.append(f"grouped-query attention ({hf_cfg.num_key_value_heads} kv heads for {heads} heads)")
    if getattr(hf_cfg, "head_dim", None) not in (None, hf_cfg.hidden_size // heads):
        problems.append(f"head_dim {hf_cfg.head_dim} != hidden_size / heads")
    if hf_cfg.hidden_act != "silu":
        problems.append(f"activation {hf_cfg.hidden_act}")
    if getattr(hf_cfg, "attention_bias", False) or getattr(hf_cfg, "mlp_bias", False):
        problems.append("biases")
    rope = getattr(hf_cfg, "rope_parameters", None) or {"rope_theta": getattr(hf_cfg, "rope_theta", 10000.0)}
    if rope.get("rope_type", "default") != "default":
        problems.append(f"rope scaling {rope.get('rope_type')}")
    if problems:
        raise ValueError("cannot import this LlamaConfig: " + "; ".join(problems))
    cfg = ModelConfig(
        dim=hf_cfg.hidden_size,
        n_layers=hf_cfg.num_hidden_layers,
        n_heads=heads,
        vocab_size=hf_cfg.vocab_size,
        norm_eps=hf_cfg.rms_norm_eps,
        rope_theta=float(rope["rope_theta"]),
        max_seq_len=hf_cfg.max_position_embeddings,
    )
    if cfg.hidden_dim != hf_cfg.intermediate_size:
        # Our hidden width is derived; find a multiple_of that gives theirs, else refuse.
        for multiple in (256, 128, 64, 32, 16, 8, 1):
            candidate = ModelConfig(**{**cfg.__dict__, "multiple_of": multiple})
            if candidate.hidden_dim == hf_cfg.intermediate_size:
                return candidate
        raise ValueError(
            f"cannot import: intermediate_size {hf_cfg.intermediate_size} is not 2/3*4*{cfg.dim} rounded up"
        )
    return cfg


def export_model(
    model: Transformer, out_dir: str | Path, tokenizer: str | Path | None = None, dtype=torch.float32
) -> Path:
    """Write `model` as a LlamaForCausalLM directory (config.json + safetensors) and, when a
    SentencePiece tokenizer is given, tokenizer.model with the configs LlamaTokenizer reads."""
    from transformers import LlamaForCausalLM

    cfg = model.config
    out_dir = Path(out_dir)
    state = {k: v.detach().to("cpu", dtype) for k, v in model.state_dict().items()}
    with torch.device("meta"):
        hf = LlamaForCausalLM(hf_config(cfg, dtype))
    hf.load_state_dict(to_hf_state_dict(state, cfg), strict=True, assign=True)
    hf.save_pretrained(out_dir)
    if tokenizer is not None:
        write_tokenizer(tokenizer, out_dir, cfg.max_seq_len)
    return out_dir


def write_tokenizer(sp_model: str | Path, out_dir: str | Path, max_len: int) -> None:
    """Copy the SentencePiece model and describe it so `AutoTokenizer`/`LlamaTokenizer` load it: BOS
    added, EOS not (LLaMA's convention), special pieces named as in the model itself."""
    import sentencepiece as spm

    sp_model, out_dir = Path(sp_model), Path(out_dir)
    try:
        sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    except Exception as err:
        raise ValueError(f"{sp_model}: not a SentencePiece model: {err}") from err
    shutil.copyfile(sp_model, out_dir / "tokenizer.model")
    special = {
        "bos_token": sp.id_to_piece(sp.bos_id()) if sp.bos_id() >= 0 else None,
        "eos_token": sp.id_to_piece(sp.eos_id()) if sp.eos_id() >= 0 else None,
        "unk_token": sp.id_to_piece(sp.unk_id()) if sp.unk_id() >= 0 else None,
    }
    special = {k: v for k, v in special.items() if v is not None}
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "model_max_length": max_len,
        "clean_up_tokenization_spaces": False,
        "legacy": False,
        **special,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")


def import_hf(source) -> Transformer:
    """A `Transformer` holding the weights of a LlamaForCausalLM (a model object or a directory)."""
    if isinstance(source, str | Path):
        from transformers import LlamaForCausalLM

        source = LlamaForCausalLM.from_pretrained(source, dtype=torch.float32)
    cfg = config_from_hf(source.config)
    state = from_hf_state_dict(source.state_dict(), cfg)
    with torch.device("meta"):
        model = Transformer(cfg)
    model.load_state_dict(state, strict=True, assign=True)
    model.init_rotary()
    return model


def load_checkpoint(path: str | Path, config: str | Path | None = None) -> Transformer:
    """Our model from a pretraining checkpoint directory (DCP) or a torch.save'd state-dict file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    config_path = Path(config) if config else (path if path.is_dir() else path.parent) / "model_config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: model config not found (pass --config)")
    cfg = ModelConfig.load(config_path)
    with torch.device("meta"):
        model = Transformer(cfg)
    model.to_empty(device="cpu")
    model.init_rotary()
    try:
        if path.is_dir():
            _load_dcp_model(path, model)
        else:
            _load_state_file(path, model)
    except (RuntimeError, KeyError) as err:
        raise ValueError(f"{path}: state dict does not match {config_path}: {err}") from err
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    return model


def _load_dcp_model(path: Path, model: Transformer) -> None:
    import warnings

    import torch.distributed.checkpoint as dcp

    if not (path / ".metadata").is_file():
        raise ValueError(f"{path}: not a torch.distributed.checkpoint directory (no .metadata)")
    state = {"model": model.state_dict()}
    with warnings.catch_warnings():  # "assuming the intent is to load in a single process": it is
        warnings.filterwarnings("ignore", message=".*single process.*")
        dcp.load(state, checkpoint_id=str(path))  # reads only the "model" entries, whatever the sharding
    model.load_state_dict(state["model"], strict=True)


def _load_state_file(path: Path, model: Transformer) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"not a torch.save state-dict file: {err}") from err
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"holds a {type(state).__name__}, not a state dict")
    model.load_state_dict(state, strict=True)


def _find_tokenizer(checkpoint: Path) -> Path | None:
    """The trainer copies its tokenizer to <out>/tokenizer.model; a checkpoint lives in
    <out>/checkpoints/step_N, so look beside it and two levels up."""
    base = checkpoint if checkpoint.is_dir() else checkpoint.parent
    for candidate in (
        base / "tokenizer.model",
        base.parent / "tokenizer.model",
        base.parent.parent / "tokenizer.model",
    ):
        if candidate.is_file():
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lamina export-hf",
        description="Write a pretraining checkpoint as a Hugging Face LlamaForCausalLM directory.",
    )
    parser.add_argument(
        "checkpoint",
        help="checkpoint directory (step_N; or the run's out dir or its checkpoints/ dir: uses 'latest') or a torch.save state-dict file",
    )
    parser.add_argument("out", help="output directory (LlamaForCausalLM.from_pretrained reads it)")
    parser.add_argument(
        "--tokenizer", help="SentencePiece model (default: <out of the run>/tokenizer.model when present)"
    )
    parser.add_argument("--config", help="model_config.json (default: beside the checkpoint)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    args = parser.parse_args(argv)
    checkpoint = Path(args.checkpoint)
    if (checkpoint / "checkpoints" / "latest").is_file():  # the run directory itself
        checkpoint = checkpoint / "checkpoints"
    if checkpoint.is_dir() and (checkpoint / "latest").is_file():
        checkpoint = checkpoint / (checkpoint / "latest").read_text().strip()
    try:
        model = load_checkpoint(checkpoint, args.config)
    except (FileNotFoundError, ValueError) as err:
        print(f"lamina export-hf: {err}", file=sys.stderr)
        return 1
    tokenizer = Path(args.tokenizer) if args.tokenizer else _find_tokenizer(checkpoint)
    if args.tokenizer and not tokenizer.is_file():
        print(f"lamina export-hf: {tokenizer}: no such tokenizer file", file=sys.stderr)
        return 1
    out = export_model(model, args.out, tokenizer, getattr(torch, args.dtype))
    cfg = model.config
    print(
        f"wrote {out}: LlamaForCausalLM, {cfg.num_params() / 1e6:.1f}M parameters ({args.dtype}), "
        + (f"tokenizer from {tokenizer}" if tokenizer else "no tokenizer (pass --tokenizer)")
    )
    return 0
