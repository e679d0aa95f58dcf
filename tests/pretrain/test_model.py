"""The plain model: shapes, presets' parameter counts, causality, deterministic init, names that the
trainer's tensor-parallel plan relies on."""

import pytest
import torch

from lamina.pretrain.attention import attention, attention_reference
from lamina.pretrain.config import PRESETS, ModelConfig, preset
from lamina.pretrain.model import Transformer, apply_rotary, rotary_tables


@pytest.mark.parametrize(
    "name, billions",
    [("7b", 6.74), ("13b", 13.02), ("33b", 32.53), ("65b", 65.29)],
)
def test_preset_parameter_counts_match_the_paper(name, billions):
    # LLaMA-1 Table 2 reports 6.7B, 13.0B, 32.5B, 65.2B; Meta's released checkpoints hold these counts.
    assert round(PRESETS[name].num_params() / 1e9, 2) == billions


def test_7b_shapes():
    cfg = PRESETS["7b"]
    assert (cfg.head_dim, cfg.hidden_dim, cfg.max_seq_len, cfg.vocab_size) == (128, 11008, 2048, 32000)


def test_num_params_matches_an_instantiated_model():
    for name in ("tiny", "small"):
        model = Transformer(PRESETS[name])
        assert sum(p.numel() for p in model.parameters()) == PRESETS[name].num_params()


def test_config_rejects_bad_shapes():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(dim=100, n_heads=3)
    with pytest.raises(ValueError, match="unknown model preset"):
        preset("3b")
    with pytest.raises(ValueError, match="unknown fields"):
        ModelConfig.from_dict({"dim": 64, "n_kv_heads": 2})


def test_forward_shape_and_state_dict_names():
    cfg = preset("tiny")
    model = Transformer(cfg)
    tokens = torch.randint(0, cfg.vocab_size, (2, 16))
    logits = model(tokens)
    assert logits.shape == (2, 16, cfg.vocab_size) and logits.dtype == torch.float32
    names = set(model.state_dict())
    for expected in (
        "tok_embeddings.weight",
        "layers.0.attention.wq.weight",
        "layers.1.attention.wo.weight",
        "layers.0.feed_forward.w1.weight",
        "layers.0.feed_forward.w2.weight",
        "layers.0.feed_forward.w3.weight",
        "layers.0.attention_norm.weight",
        "layers.0.ffn_norm.weight",
        "norm.weight",
        "output.weight",
    ):
        assert expected in names
    assert not any("rope" in n for n in names)  # derived tables stay out of checkpoints
    assert not any(n.endswith("bias") for n in names)


def test_causal_future_tokens_do_not_change_past_logits():
    cfg = preset("tiny")
    model = Transformer(cfg)
    tokens = torch.randint(0, cfg.vocab_size, (1, 20))
    changed = tokens.clone()
    changed[0, 12:] = (changed[0, 12:] + 1) % cfg.vocab_size
    a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[0, :12], b[0, :12])
    assert (a[0, 12:] - b[0, 12:]).abs().max() > 1e-3


def test_init_weights_is_deterministic_and_meta_materializes():
    cfg = preset("tiny")
    a, b = Transformer(cfg), Transformer(cfg)
    b.init_weights(seed=0)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    b.init_weights(seed=1)
    assert not torch.equal(a.output.weight, b.output.weight)
    with torch.device("meta"):
        m = Transformer(cfg)
    m.to_empty(device="cpu")
    m.init_weights(seed=0)
    tokens = torch.randint(0, cfg.vocab_size, (1, 8))
    torch.testing.assert_close(m(tokens), a(tokens), rtol=0, atol=0)


def test_attention_matches_textbook_causal_softmax():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 33, 3, 16) for _ in range(3))  # (B, T, H, D)
    torch.testing.assert_close(attention(q, k, v), attention_reference(q, k, v), atol=1e-5, rtol=1e-5)


def test_rotary_is_a_rotation_and_negated_sine_inverts_it():
    cos, sin = rotary_tables(8, 10, 10000.0)
    x = torch.randn(2, 10, 3, 8)
    y = apply_rotary(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(apply_rotary(y, cos, -sin), x, atol=1e-6, rtol=1e-6)
    # position 0 is not rotated; pairs are interleaved (Meta's layout): at position 1 the first pair
    # (dims 0 and 1) turns by 1 radian (frequency theta^0)
    torch.testing.assert_close(y[:, 0], x[:, 0])
    c, s = torch.cos(torch.tensor(1.0)), torch.sin(torch.tensor(1.0))
    torch.testing.assert_close(y[:, 1, :, 0], x[:, 1, :, 0] * c - x[:, 1, :, 1] * s)
    torch.testing.assert_close(y[:, 1, :, 1], x[:, 1, :, 0] * s + x[:, 1, :, 1] * c)
