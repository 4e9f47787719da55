"""kvroute's CPU attention paths (grouped-head SDPA, batched bf16 matmuls) against transformers' sdpa."""

from __future__ import annotations

import types

import pytest
import torch
from kvpress.attention_patch import attention_patch
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from kvroute import models
from kvroute.inference import attention, engine
from passages import ready

BATCH, HEADS, KV_HEADS, DIM, CACHED = 3, 6, 2, 16, 20


def module():
    return types.SimpleNamespace(num_key_value_groups=HEADS // KV_HEADS, is_causal=True, masked_key_indices=None)


def inputs(q_len: int, dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(BATCH, HEADS, q_len, DIM, generator=g).to(dtype)
    k = torch.randn(BATCH, KV_HEADS, CACHED + q_len, DIM, generator=g).to(dtype)
    v = torch.randn(BATCH, KV_HEADS, CACHED + q_len, DIM, generator=g).to(dtype)
    # Row 1's cache is 5 slots shorter (padding), row 2's question is left-padded by 2; causal inside the question.
    mask = torch.ones(BATCH, 1, q_len, CACHED + q_len, dtype=torch.bool)
    mask[1, :, :, CACHED - 5:CACHED] = False
    mask[2, :, :, CACHED:CACHED + min(2, q_len - 1)] = False
    mask[:, :, :, CACHED:] &= torch.ones(q_len, q_len, dtype=torch.bool).tril()
    return q, k, v, mask


@pytest.fixture
def stock_sdpa(monkeypatch):
    """"sdpa" as kvpress leaves it, without kvroute's dispatcher; restored after the test."""
    stock = attention_patch(sdpa_attention_forward)
    monkeypatch.setitem(ALL_ATTENTION_FUNCTIONS._local_mapping, "sdpa", stock)
    return stock


@pytest.mark.parametrize("q_len", [1, 7])
def test_matmul_attention_equals_sdpa_in_float32(q_len):
    q, k, v, mask = inputs(q_len)
    ours, _ = attention.matmul_attention(module(), q, k, v, mask, scaling=0.3)
    ref, _ = sdpa_attention_forward(module(), q, k, v, mask, scaling=0.3)
    assert ours.shape == ref.shape == (BATCH, q_len, HEADS, DIM)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_matmul_attention_is_within_bf16_rounding_of_sdpa():
    q, k, v, mask = inputs(1, torch.bfloat16)
    ours, _ = attention.matmul_attention(module(), q, k, v, mask)
    ref, _ = sdpa_attention_forward(module(), q, k, v, mask)
    exact, _ = sdpa_attention_forward(module(), q.float(), k.float(), v.float(), mask)
    # No further from the float32 result than torch's own bf16 kernel, give or take one bf16 step.
    assert (ours.float() - exact).abs().max() <= (ref.float() - exact).abs().max() + 2 ** -7


def test_a_fully_masked_row_stays_finite():
    q, k, v, mask = inputs(1)
    mask[0] = False
    ours, _ = attention.matmul_attention(module(), q, k, v, mask)
    assert torch.isfinite(ours).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("q_len, masked", [(1, True), (7, True), (7, False), (1, False)])
def test_grouped_head_sdpa_gives_the_same_bits_as_transformers(dtype, q_len, masked):
    """Sharing the KV heads inside SDPA must not change a single answer: the same bits as repeat_kv + SDPA."""
    q, k, v, mask = inputs(q_len, dtype)
    mask = mask if masked else None
    ours, _ = attention.gqa_sdpa_attention(module(), q, k, v, mask, scaling=0.3)
    ref, _ = sdpa_attention_forward(module(), q, k, v, mask, scaling=0.3)
    assert ours.shape == ref.shape == (BATCH, q_len, HEADS, DIM)
    assert torch.equal(ours, ref)


def test_grouped_head_sdpa_is_causal_in_an_unmasked_prefill_only():
    q, k, v, _ = inputs(7)
    k, v = k[:, :, -7:], v[:, :, -7:]
    causal, _ = attention.gqa_sdpa_attention(module(), q, k, v, None)
    full, _ = attention.gqa_sdpa_attention(types.SimpleNamespace(num_key_value_groups=3, is_causal=False), q, k, v,
                                           None)
    # The first query position sees only itself when causal, everything when not.
    torch.testing.assert_close(causal[:, 0], v[:, :, 0].repeat_interleave(3, dim=1))
    assert not torch.allclose(full[:, 0], causal[:, 0])


def test_install_routes_float32_grouped_heads_to_the_gqa_path(monkeypatch, stock_sdpa):
    calls = []
    real = attention.gqa_sdpa_attention
    monkeypatch.setattr(attention, "gqa_sdpa_attention", lambda *a, **kw: calls.append(a[1].dtype) or real(*a, **kw))
    attention.install()
    sdpa = ALL_ATTENTION_FUNCTIONS["sdpa"]
    q, k, v, mask = inputs(1)
    sdpa(module(), q, k, v, mask, dropout=0.0)  # grouped heads, float32: shared inside SDPA
    ungrouped = types.SimpleNamespace(num_key_value_groups=1, is_causal=True, masked_key_indices=None)
    sdpa(ungrouped, q[:, :KV_HEADS], k, v, mask, dropout=0.0)  # one query head per KV head: transformers' path
    sdpa(module(), q.bfloat16(), k.bfloat16(), v.bfloat16(), mask, dropout=0.0)  # batched bf16: matmul path
    assert calls == [torch.float32]


def test_install_routes_only_batched_reduced_precision_cpu_calls(monkeypatch, stock_sdpa):
    calls = []
    real = attention.matmul_attention
    monkeypatch.setattr(attention, "matmul_attention", lambda *a, **kw: calls.append(a[1].shape) or real(*a, **kw))
    attention.install()
    sdpa = ALL_ATTENTION_FUNCTIONS["sdpa"]
    q, k, v, mask = inputs(1, torch.bfloat16)
    sdpa(module(), q, k, v, mask, dropout=0.0)  # batched bf16 decode: matmul path
    sdpa(module(), q[:1], k[:1], v[:1], None, dropout=0.0)  # one row, as stock kvpress decodes: sdpa
    sdpa(module(), q.float(), k.float(), v.float(), mask, dropout=0.0)  # float32: not the matmul path
    assert calls == [q.shape]


def test_kvpress_key_masking_applies_on_the_matmul_path(stock_sdpa):
    """AdaKV's masked keys (kvpress's fake-key patch) must get no weight on the new path either."""
    attention.install()
    q, k, v, mask = inputs(1, torch.bfloat16)
    m = module()
    rows, heads, slots = torch.tensor([0, 0, 2]), torch.tensor([0, 1, 1]), torch.tensor([3, 4, 10])
    m.masked_key_indices = (rows, heads, slots)
    masked_out, _ = ALL_ATTENTION_FUNCTIONS["sdpa"](m, q, k.clone(), v, mask, dropout=0.0)
    # The same exclusion expressed as an attention mask, per KV head.
    reference = []
    for h in range(KV_HEADS):
        per_head = mask.clone()
        for r, hh, s in zip(rows, heads, slots):
            if hh == h:
                per_head[r, :, :, s] = False
        qh = q[:, h * 3:(h + 1) * 3]
        out, _ = attention.matmul_attention(module(), qh, k[:, h:h + 1], v[:, h:h + 1], per_head)
        reference.append(out)
    torch.testing.assert_close(masked_out, torch.cat(reference, dim=2), atol=0, rtol=0)


def test_install_twice_keeps_the_first_dispatcher(stock_sdpa):
    attention.install()
    installed = ALL_ATTENTION_FUNCTIONS["sdpa"]
    assert installed is not stock_sdpa
    attention.install()
    assert ALL_ATTENTION_FUNCTIONS["sdpa"] is installed


def test_answering_installs_the_dispatcher_and_loading_does_not(smollm2_manifest, stock_sdpa):
    """models stays free of kvroute.inference: the first engine.answer installs the dispatcher."""
    model, tokenizer = models.load(smollm2_manifest, device="cpu", dtype="bfloat16")
    assert ALL_ATTENTION_FUNCTIONS["sdpa"] is stock_sdpa
    r = ready(model, tokenizer, "Ada was born in Paris.", ["Where was Ada born?"])
    engine.answer(model, tokenizer, engine.uncompressed_cell(r.pre), r.pre.length, r.question_ids, 1)
    assert ALL_ATTENTION_FUNCTIONS["sdpa"] is not stock_sdpa
    q, k, v, mask = inputs(1, torch.bfloat16)
    ours, _ = ALL_ATTENTION_FUNCTIONS["sdpa"](module(), q, k, v, mask, dropout=0.0)
    torch.testing.assert_close(ours, attention.matmul_attention(module(), q, k, v, mask)[0], atol=0, rtol=0)


@pytest.mark.parametrize("dtype, with_mask", [(torch.float32, True), (torch.float32, False), (torch.bfloat16, True)])
@pytest.mark.parametrize("q_len", [1, 3])
@pytest.mark.parametrize("path", attention.CODE_PATHS)
def test_a_failed_fake_key_search_hides_the_same_keys_by_mask(stock_sdpa, monkeypatch, path, q_len, dtype,
                                                              with_mask):
    """Where kvpress's search finds no fake key, the per-head mask gives the attention the fake keys give,
    on the CPU's paths and on the GPU's (transformers' sdpa)."""
    if q_len > 1 and not with_mask:
        pytest.skip("a question forward over a cache always has a mask")
    monkeypatch.setenv(attention.CODE_PATH_ENV, path)
    attention.install()
    q, k, v, mask = inputs(q_len, dtype)
    mask = mask if with_mask else None
    g = torch.Generator().manual_seed(2)
    chosen = torch.rand(BATCH, KV_HEADS, CACHED, generator=g) < 0.7
    chosen[1, :, CACHED - 5:] = False
    faked, masked = module(), module()
    faked.masked_key_indices = masked.masked_key_indices = chosen.nonzero(as_tuple=True)
    expected, _ = ALL_ATTENTION_FUNCTIONS["sdpa"](faked, q, k.clone(), v, mask, dropout=0.0)

    def no_fake_key(X, max_iter=1000):
        raise ValueError("Could not find fake keys such that for every query q, exp(<q, k>) = 0")

    searches = []
    monkeypatch.setattr(attention, "search_hyperplane", lambda X, max_iter=1000: searches.append(1) or no_fake_key(X))
    keys = k.clone()
    tol = 1e-6 if dtype == torch.float32 else 1e-2
    for step in range(2):  # the second step of the same batch does not search again
        got, _ = ALL_ATTENTION_FUNCTIONS["sdpa"](masked, q, keys, v, mask, dropout=0.0)
        assert torch.equal(keys, k)  # nothing written into the cache
        torch.testing.assert_close(got, expected, atol=tol, rtol=tol)
    assert len(searches) == 1
    # and the hidden keys matter: attending to them gives another answer
    visible, _ = ALL_ATTENTION_FUNCTIONS["sdpa"](module(), q, k.clone(), v, mask, dropout=0.0)
    assert not torch.allclose(visible, expected, atol=tol, rtol=tol)


@pytest.mark.parametrize("q_len", [1, 3])
def test_hidden_keys_are_kvpress_fake_keys_bit_for_bit(q_len):
    """hide_masked_keys writes exactly the keys kvpress's attention_patch writes, and attention sees the same."""
    q, k, v, mask = inputs(q_len)
    g = torch.Generator().manual_seed(1)
    chosen = torch.rand(BATCH, KV_HEADS, CACHED, generator=g) < 0.7
    chosen[1, :, CACHED - 5:] = False  # row 1's padding slots are never masked keys
    indices = chosen.nonzero(as_tuple=True)
    k_stock, k_ours = k.clone(), k.clone()
    m_stock, m_ours = module(), module()
    m_stock.masked_key_indices = m_ours.masked_key_indices = indices
    stock, _ = attention_patch(sdpa_attention_forward)(m_stock, q, k_stock, v, mask, 0.0)
    ours, _ = attention.hide_masked_keys(sdpa_attention_forward)(m_ours, q, k_ours, v, mask, 0.0)
    assert torch.equal(k_ours, k_stock) and not torch.equal(k_ours, k)
    assert torch.equal(ours, stock)
    # The next step reuses the slot mask built for these indices; new indices rebuild it.
    built = m_ours._kvroute_hidden[1]
    attention.hide_masked_keys(sdpa_attention_forward)(m_ours, q, k_ours, v, mask, 0.0)
    assert m_ours._kvroute_hidden[1] is built
    m_ours.masked_key_indices = tuple(t[:5] for t in indices)
    attention.hide_masked_keys(sdpa_attention_forward)(m_ours, q, k_ours, v, mask, 0.0)
    assert m_ours._kvroute_hidden[1] is not built and int(m_ours._kvroute_hidden[1].sum()) == 5
