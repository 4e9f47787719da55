"""Compressed-cache inference: one prefill per passage, every press x ratio from it.

Stock kvpress (``pipeline("kv-press-text-generation")``) prefills the context
once per press and ratio, then answers each question one at a time. For
scorer-based presses the scores depend only on the uncompressed prefill, so
here one prefill per passage records each layer's inputs, and every
(press, ratio) cell is then obtained by running kvpress's own selection code
(``press.compress``) on the recorded keys and values with memoised scores.
Questions of a passage are answered as one left-padded batch from the shared
compressed cache. Presses that cannot share a prefill fall back to the stock
prefill-with-press path.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from kvroute.inference import attention
from kvroute.inference import presses as press_registry
from kvroute.inference.cache import reserve, reserved_cache
from kvroute.models import eos_ids
from kvroute.inference.routing import Routing, RoutingProbe

log = logging.getLogger(__name__)


@dataclass
class Cell:
    """One compressed cache: the keys/values per layer the model decodes from."""

    press: str | None
    ratio: float
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    # AdaKV masks keys instead of dropping them: (head_idx, seq_idx) per layer.
    masked: list[tuple[torch.Tensor, torch.Tensor] | None]
    # kept[l]: bool (kv_heads, context_len), True where layer l / head h keeps t.
    kept: list[torch.Tensor]
    # positions[l]: long (kv_heads, cached_len): context position of each cache slot.
    positions: list[torch.Tensor]


@dataclass
class Prefill:
    context_ids: torch.Tensor
    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)
    layer_inputs: list[tuple] = field(default_factory=list)  # (module, hidden_states, kwargs)

    @property
    def length(self) -> int:
        return self.context_ids.shape[1]


def attention_modules(model) -> list:
    lm = model.model.language_model if hasattr(model.model, "language_model") else model.model
    for layer in lm.layers:
        # kvpress presses read module.rotary_emb (ExpectedAttention's RoPE averaging).
        layer.self_attn.rotary_emb = lm.rotary_emb
    return [layer.self_attn for layer in lm.layers]


def tokenize(tokenizer, context: str, questions: list[str]) -> tuple[torch.Tensor, list[torch.Tensor], str]:
    """Split the chat template around the context exactly as kvpress's pipeline does.

    Returns the context ids, each question's ids (with the template's suffix),
    and the templated context text the ids were encoded from.
    """
    if tokenizer.chat_template is None:
        context = (tokenizer.bos_token or "") + context
        suffix = "\n"
    else:
        separator = "#" * (len(context) + 10)
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": context + separator}], add_generation_prompt=True, tokenize=False
        )
        context, suffix = text.split(separator)
    context_ids = tokenizer.encode(context, return_tensors="pt", add_special_tokens=False)
    question_ids = [tokenizer.encode(q + suffix, return_tensors="pt", add_special_tokens=False) for q in questions]
    return context_ids, question_ids, context


@torch.inference_mode()
def prefill(model, context_ids: torch.Tensor) -> Prefill:
    """Run the uncompressed prefill and record what each attention layer saw."""
    modules = attention_modules(model)
    out = Prefill(context_ids=context_ids)
    inputs: dict[int, tuple] = {}

    def record(module, args, kwargs, output):
        kw = {k: v for k, v in kwargs.items() if k != "past_key_values"}
        inputs[module.layer_idx] = (module, kwargs["hidden_states"], kw)

    hooks = [m.register_forward_hook(record, with_kwargs=True) for m in modules]
    try:
        cache = DynamicCache()
        model.model(input_ids=context_ids.to(model.device), past_key_values=cache)
    finally:
        for h in hooks:
            h.remove()
    for i, m in enumerate(modules):
        out.keys.append(cache.layers[i].keys)
        out.values.append(cache.layers[i].values)
        out.layer_inputs.append(inputs[m.layer_idx])
    return out


def _identity_positions(n_heads: int, length: int) -> torch.Tensor:
    return torch.arange(length).expand(n_heads, length)


def uncompressed_cell(pre: Prefill) -> Cell:
    n_heads, n_layers = pre.keys[0].shape[1], len(pre.keys)
    full = torch.ones(n_heads, pre.length, dtype=torch.bool)
    ident = _identity_positions(n_heads, pre.length)
    return Cell(None, 0.0, pre.keys, pre.values, [None] * n_layers, [full] * n_layers, [ident] * n_layers)


# How a press's caches for a passage are made (``ScoreBank.mode``), cheapest first.
MEMO = "memo"  # one prefill, each span scored once, every ratio's selection from those scores
REPLAY = "replay"  # one prefill, the press's own compress (and scorer) run again at each ratio
STOCK = "stock"  # one stock kvpress prefill with the press per ratio


class ScoreBank:
    """How one press spec compresses one passage, and its memoised scores.

    The mode is decided on the passage itself, not from a list of presses:

    - ``stock`` when a press in the spec replaces kvpress's forward hook (it
      does more than return compressed keys and values from ``compress``);
    - else ``memo`` when every layer's scores are bit-identical at the grid's
      lowest and highest ratio, scored by two fresh instances of the press's
      scorer (a scorer that reads the ratio, or a random one, fails this);
    - else ``replay``: ``compress`` runs on the recorded prefill at each ratio.

    Both one-prefill modes run kvpress's own selection code on the inputs the
    stock forward hook would see (tests compare every press with stock).
    """

    def __init__(self, spec: dict, model=None):
        self.spec = spec
        self.model = model
        self.memo: dict = {}
        self.recorded: dict[int, int] = {}  # layer -> storage of its recorded hidden states (spans memoised)
        self.mode: str | None = None
        self.reason = ""  # why the mode is not memo, for the log

    def _built(self, ratio: float):
        press = press_registry.build(self.spec, ratio)
        if self.model is not None:
            press.post_init_from_model(self.model)
        return press

    def decide(self, pre: Prefill, ratios: list[float]) -> str:
        """The mode for this passage (decided once per bank: a bank serves one passage)."""
        if self.mode is None:
            self.mode, self.reason = self._decide(pre, ratios)
            if self.mode != MEMO:
                log.info("%s: %s (%s)", self.spec["press"], self.mode, self.reason)
        return self.mode

    @torch.inference_mode()
    def _decide(self, pre: Prefill, ratios: list[float]) -> tuple[str, str]:
        if not ratios:
            return MEMO, ""
        hooked = press_registry.own_forward_hooks(self._built(ratios[0]))
        if hooked:
            return STOCK, f"{', '.join(hooked)} replaces kvpress's forward hook"
        low, high = (press_registry.scorer_in(self._built(r)) for r in (ratios[0], ratios[-1]))
        if low is None:
            return REPLAY, "no scorer inside: the press selects by its own logic"
        memo = {}
        for (module, hidden, kwargs), k, v in zip(pre.layer_inputs, pre.keys, pre.values):
            first = low.score(module, hidden, k, v, None, kwargs)
            second = high.score(module, hidden, k, v, None, kwargs)
            if not torch.equal(first, second):
                return REPLAY, f"its scores differ between ratios {ratios[0]} and {ratios[-1]} (layer {module.layer_idx})"
            memo[_span(module, hidden, k)] = first
        self.memo.update(memo)
        self.recorded = {m.layer_idx: h.untyped_storage().data_ptr() for m, h, _ in pre.layer_inputs}
        return MEMO, ""

    def _key(self, module, hidden_states: torch.Tensor, keys: torch.Tensor) -> tuple | None:
        # Only spans of the recorded prefill are replayed; anything else (BlockPress scores
        # gathered subsets that change with the ratio) is scored afresh.
        if self.recorded.get(module.layer_idx) != hidden_states.untyped_storage().data_ptr():
            return None
        return _span(module, hidden_states, keys)

    def press(self, ratio: float, steer: Steer | None = None):
        """The press at ``ratio`` (ranking by the memoised scores in memo mode), steered when ``steer`` is given."""
        def replace(scorer):
            if self.mode == MEMO:
                scorer = press_registry.MemoScorer(compression_ratio=ratio, inner=scorer, memo=self.memo,
                                                   key=self._key)
            return steered(scorer, steer, ratio) if steer is not None else scorer
        press = self._built(ratio)
        return press if self.mode != MEMO and steer is None else press_registry.with_scorer(press, replace)


def decided_bank(spec: dict, pre: Prefill, ratios: list[float], model=None) -> ScoreBank:
    """A ScoreBank for ``spec`` on the passage of ``pre``, its mode decided for ``ratios`` (nonzero)."""
    bank = ScoreBank(spec, model)
    bank.decide(pre, sorted(r for r in ratios if r > 0))
    return bank


def _span(module, hidden_states: torch.Tensor, keys: torch.Tensor) -> tuple:
    # A chunk is a slice of the layer's recorded hidden states: its storage
    # offset and length identify it within one prefill.
    return module.layer_idx, hidden_states.storage_offset(), hidden_states.shape[1], keys.shape[2]


@dataclass(frozen=True)
class Steer:
    """An oracle's steering of one cell: context positions moved to the top (+1) or bottom (-1) of the scores.

    ``second`` ranks next to ``positions`` (protect_diluted's random spans after T_ans).
    """

    positions: tuple[int, ...]
    direction: int
    second: tuple[int, ...] = ()


def steered(scorer, steer: Steer, ratio: float):
    """``scorer`` with the steered positions moved to one end of its scores (kvroute.inference.oracle)."""
    return press_registry.SteeredScorer(
        compression_ratio=ratio, inner=scorer, direction=steer.direction,
        positions=torch.as_tensor(steer.positions, dtype=torch.long),
        second=torch.as_tensor(steer.second, dtype=torch.long))


def source_positions(full: torch.Tensor, compressed: torch.Tensor, name: str) -> torch.Tensor:
    """(kv_heads, slots): the position in ``full`` each slot of ``compressed`` holds, per KV head.

    Both are one layer's keys, (1, kv_heads, length, dim). A press that evicts
    tokens gathers the keys it keeps, so every kept key is bit-for-bit the
    uncompressed key of its position: matching them needs nothing from the press.
    Rows are compared as exact bit patterns (``torch.unique`` over [head, bits]).
    """
    heads, dim = full.shape[1], full.shape[-1]
    if compressed.shape[2] == 0:
        return torch.empty(heads, 0, dtype=torch.long)
    as_int = {2: torch.int16, 4: torch.int32, 8: torch.int64}[full.element_size()]
    device = full.device  # matched where the keys are: no copy of every cell's keys to the host

    def rows(x):  # (heads * length, 1 + dim): the head, then the key's bits
        bits = x[0].detach().contiguous().view(as_int).long()
        head = torch.arange(heads, device=device).view(heads, 1, 1).expand(heads, bits.shape[1], 1)
        return torch.cat([head, bits], dim=-1).reshape(-1, dim + 1)

    whole, kept = rows(full), rows(compressed.to(device))
    _, ids = torch.unique(torch.cat([whole, kept]), dim=0, return_inverse=True)
    where = torch.full((int(ids.max()) + 1,), -1, dtype=torch.long, device=device)
    where[ids[:len(whole)]] = torch.arange(full.shape[2], device=device).repeat(heads)
    found = where[ids[len(whole):]].view(heads, compressed.shape[2]).cpu()
    if bool((found < 0).any()):
        raise RuntimeError(f"press {name!r} rewrites keys (a kept key equals no uncompressed key of its head); "
                           f"its kept positions cannot be recovered for the ledger")
    return found


def _cell(name: str, ratio: float, full_keys: list[torch.Tensor], keys: list[torch.Tensor], values: list[torch.Tensor],
          masks: list) -> Cell:
    """A Cell from compressed keys and values per layer and AdaKV-style masks (``masked_key_indices``)."""
    masked, kept, positions = [], [], []
    for full, k, idx in zip(full_keys, keys, masks):
        n_heads, length = full.shape[1], full.shape[2]
        slot_pos = (_identity_positions(n_heads, length) if k.shape[2] == length and torch.equal(k, full)
                    else source_positions(full, k, name))
        mask = torch.zeros(n_heads, length, dtype=torch.bool)
        mask.scatter_(1, slot_pos, True)
        if idx is not None:  # keys stay in the cache, hidden at decode time: (batch, head, slot)
            _, heads, seqs = idx
            mask[heads.cpu(), slot_pos[heads.cpu(), seqs.cpu()]] = False
            masked.append((heads, seqs))
        else:
            masked.append(None)
        kept.append(mask)
        positions.append(slot_pos)
    return Cell(name, ratio, keys, values, masked, kept, positions)


@torch.inference_mode()
def compress_cell(pre: Prefill, name: str, spec: dict, ratio: float, bank: ScoreBank,
                  steer: Steer | None = None) -> Cell:
    """Apply ``spec`` at ``ratio`` to a recorded prefill with kvpress's own selection code (steered by an oracle)."""
    press = bank.press(ratio, steer)
    keys, values, masks = [], [], []
    for (module, hidden, kwargs), k, v in zip(pre.layer_inputs, pre.keys, pre.values):
        module.masked_key_indices = None
        new_k, new_v = press.compress(module, hidden, k, v, None, kwargs)
        masks.append(getattr(module, "masked_key_indices", None))
        module.masked_key_indices = None
        keys.append(new_k)
        values.append(new_v)
    return _cell(name, ratio, pre.keys, keys, values, masks)


@torch.inference_mode()
def stock_cell(model, pre: Prefill, name: str, spec: dict, ratio: float, steer: Steer | None = None) -> Cell:
    """A stock kvpress prefill with the press applied, for presses whose scores are not shared across ratios.

    Kept positions come from matching each surviving key to the uncompressed
    key it was gathered from (``source_positions``). ``steer`` moves an
    oracle's positions inside the press's scorer.
    """
    press = press_registry.build(spec, ratio)
    if steer is not None:
        press.post_init_from_model(model)
        press = press_registry.with_scorer(press, lambda scorer: steered(scorer, steer, ratio))
    modules = attention_modules(model)
    cache = DynamicCache()
    with press(model):
        model.model(input_ids=pre.context_ids.to(model.device), past_key_values=cache)
    keys = [cache.layers[i].keys for i in range(len(modules))]
    values = [cache.layers[i].values for i in range(len(modules))]
    masks = []
    for m in modules:
        masks.append(getattr(m, "masked_key_indices", None))
        m.masked_key_indices = None
    return _cell(name, ratio, pre.keys, keys, values, masks)


def press_cell(model, pre: Prefill, name: str, spec: dict, ratio: float, bank: ScoreBank,
               steer: Steer | None = None) -> Cell:
    """The cache of ``spec`` at ``ratio`` in the bank's mode (``ScoreBank.decide`` first), steered by an oracle."""
    if bank.mode == STOCK:
        return stock_cell(model, pre, name, spec, ratio, steer)
    return compress_cell(pre, name, spec, ratio, bank, steer)


def evened(cell: Cell) -> Cell:
    """``cell`` with every layer as long as its longest, the added slots hidden like AdaKV's masked keys.

    Some presses keep different numbers of tokens per layer (PyramidKV's budgets, ChunkKV's partial last chunk).
    One attention mask serves every layer of a forward pass, so a question of several tokens cannot read such a
    cache as it is: transformers sizes the mask from layer 0, and kvpress's pipeline fails on it. Evened, each layer
    attends to exactly its kept keys and the question's causal past. Kept sets are unchanged; added slots sit at
    position -1, as batch padding does.
    """
    lengths = [k.shape[2] for k in cell.keys]
    slots = max(lengths)
    if min(lengths) == slots:
        return cell
    keys, values, masked, positions = [], [], [], []
    for k, v, mask, pos in zip(cell.keys, cell.values, cell.masked, cell.positions):
        extra = slots - k.shape[2]
        if extra:
            heads = k.shape[1]
            k = torch.cat([k, k.new_zeros(1, heads, extra, k.shape[3])], dim=2)
            v = torch.cat([v, v.new_zeros(1, heads, extra, v.shape[3])], dim=2)
            pos = torch.cat([pos, pos.new_full((heads, extra), -1)], dim=1)
            added = (torch.arange(heads, device=k.device).repeat_interleave(extra),
                     torch.arange(slots - extra, slots, device=k.device).repeat(heads))
            mask = added if mask is None else (torch.cat([mask[0], added[0].to(mask[0].device)]),
                                               torch.cat([mask[1], added[1].to(mask[1].device)]))
        keys.append(k)
        values.append(v)
        masked.append(mask)
        positions.append(pos)
    return Cell(cell.press, cell.ratio, keys, values, masked, cell.kept, positions)


def layer_uniform_length(cell: Cell) -> int | None:
    """The cache length if every layer keeps the same number of slots, else None."""
    lengths = {k.shape[2] for k in cell.keys}
    return lengths.pop() if len(lengths) == 1 else None


@dataclass
class Layout:
    """The cache of one batch whose rows may come from different cells.

    Rows of shorter cells are right-padded to the longest cell's length; the
    padding slots are masked out by the attention mask and labelled -1. Keys
    and values are buffers with ``room`` free slots after the ``slots``
    filled ones, for the question and answer tokens (kvroute.inference.cache).
    """

    keys: list[torch.Tensor]  # per layer (rows, kv_heads, slots + room, dim)
    values: list[torch.Tensor]
    cache_mask: torch.Tensor  # (rows, slots) bool, False on padding
    positions: list[torch.Tensor]  # per layer (rows, kv_heads, slots) context position, -1 on padding
    row_cells: list[Cell]
    filled: list[int]  # per layer: slots holding the cache

    def masked(self, rows: list[int] | None = None) -> list[tuple[torch.Tensor, ...] | None]:
        """AdaKV's masked keys as (row, head, slot) per layer, for ``rows`` renumbered 0..n-1."""
        cells = self.row_cells if rows is None else [self.row_cells[r] for r in rows]
        out = []
        for layer in range(len(self.positions)):
            parts = [(i, c.masked[layer]) for i, c in enumerate(cells) if c.masked[layer] is not None]
            if not parts:
                out.append(None)
                continue
            heads = torch.cat([h for _, (h, _) in parts])
            seqs = torch.cat([s for _, (_, s) in parts])
            row = torch.cat([torch.full((h.numel(),), i, dtype=torch.long, device=h.device) for i, (h, _) in parts])
            out.append((row, heads, seqs))
        return out


def _fill_rows(buffer: torch.Tensor, rows_of: list[torch.Tensor], tensors: list[torch.Tensor], fill) -> torch.Tensor:
    """Write each cell's tensor (1 or no batch dim) into its rows of ``buffer``, padding its tail with ``fill``."""
    for rows, t in zip(rows_of, tensors):
        t = t if t.dim() == buffer.dim() else t[None]
        n = t.shape[2]
        buffer[rows, :, :n] = t
        buffer[rows, :, n:] = fill
    return buffer


def stack_cells(row_cells: list[Cell], room: int = 0) -> Layout:
    """Lay out the caches of ``row_cells`` (one per row) as one batch, with ``room`` free slots per row.

    A cache whose layers differ in length is evened first (``evened``), so any caches share a batch.
    """
    rows = len(row_cells)
    evens: dict[int, Cell] = {}
    for c in row_cells:
        if id(c) not in evens:
            evens[id(c)] = evened(c)
    row_cells = [evens[id(c)] for c in row_cells]
    unique = list({id(c): c for c in row_cells}.values())
    lengths = [layer_uniform_length(c) for c in unique]
    slots = max(lengths)
    index = {id(u): i for i, u in enumerate(unique)}
    which = torch.tensor([index[id(c)] for c in row_cells])
    rows_of = [torch.nonzero(which == i).flatten() for i in range(len(unique))]

    def stacked(tensors: list[torch.Tensor], fill, extra: int) -> torch.Tensor:
        # keys and values are (1, kv_heads, slots, dim); positions are (kv_heads, slots)
        t = tensors[0]
        shape = (rows, t.shape[-3] if t.dim() == 4 else t.shape[0], slots + extra) + tuple(t.shape[3:])
        return _fill_rows(t.new_empty(shape), [r.to(t.device) for r in rows_of], tensors, fill)

    n_layers = len(unique[0].keys)
    keys = [stacked([u.keys[l] for u in unique], 0.0, room) for l in range(n_layers)]
    values = [stacked([u.values[l] for u in unique], 0.0, room) for l in range(n_layers)]
    if len(unique) == 1:  # every row the same positions: a view, not a copy
        positions = [p.expand(rows, -1, -1) for p in unique[0].positions]
    else:
        positions = [stacked([u.positions[l] for u in unique], -1, 0) for l in range(n_layers)]
    cache_mask = torch.arange(slots)[None, :] < torch.tensor(lengths)[which][:, None]
    return Layout(keys, values, cache_mask, positions, row_cells, [slots] * n_layers)


def install_masks(modules, masked: list) -> None:
    """Hand kvpress's attention patch the (row, head, slot) keys to hide at each layer."""
    for m, mk in zip(modules, masked):
        m.masked_key_indices = mk


@contextlib.contextmanager
def applied_masks(modules, masked: list):
    try:
        install_masks(modules, masked)
        yield
    finally:
        for m in modules:
            m.masked_key_indices = None


@dataclass
class Answers:
    texts: list[str]
    hidden: torch.Tensor | None  # (n_questions, n_probe_layers, hidden_dim) at the last prompt token
    routing: Routing | None  # first-decoding-step argmax and T_ans mass per layer and head (+ reach entries)
    decode_steps: int  # forward passes after the question forward
    decode_tokens: int  # tokens those passes processed (rows still generating)
    prompt_tokens: int


def left_pad_questions(question_ids: list[torch.Tensor], pad_id: int,
                       context_length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, position ids, mask) of the questions left-padded into one batch.

    Each question's positions continue from the uncompressed context length,
    as in kvpress's pipeline, whatever its cache kept.
    """
    batch, width = len(question_ids), max(q.shape[1] for q in question_ids)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    pos = torch.full((batch, width), context_length, dtype=torch.long)
    mask = torch.zeros(batch, width, dtype=torch.long)
    for i, q in enumerate(question_ids):
        n = q.shape[1]
        ids[i, width - n:] = q[0]
        pos[i, width - n:] = torch.arange(context_length, context_length + n)
        mask[i, width - n:] = 1
    return ids, pos, mask


def cache_from_layout(layout: Layout) -> DynamicCache:
    """A cache that takes over the layout's buffers: questions and answers fill their free slots."""
    cache = reserved_cache(layout.keys, layout.values, layout.filled)
    layout.keys, layout.values = [], []  # the cache owns the buffers now
    return cache


def _on(device, tensor: torch.Tensor | None) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)


@dataclass
class Decoded:
    tokens: list[list[int]]  # greedy token ids per row, the question forward's first token included
    steps: int
    decode_tokens: int


# Rows that finish stay in the batch until a quarter of it has finished: dropping
# them copies every live row's cache, which costs more than decoding a few idle
# rows (bench_inference.py --cache-cost measures the whole decode).
COMPACT_WHEN_DONE = 0.25


def greedy_decode(model, modules, layout: Layout, cache: DynamicCache, token: torch.Tensor,
                  next_pos: torch.Tensor, attn: torch.Tensor | None, max_new_tokens: int) -> Decoded:
    """Continue every row from its first ``token`` until eos or ``max_new_tokens`` tokens.

    ``attn`` is the (rows, cache + question) attention mask, None when nothing
    is masked. Finished rows leave the batch once COMPACT_WHEN_DONE of it has
    finished, so the cost of each step follows the rows still generating.
    """
    device = model.device
    stop = set(eos_ids(model))
    attn = _on(device, attn)  # grown on the device: no host copy of the mask per step
    tokens = [[t] for t in token.tolist()]
    live = list(range(len(tokens)))  # rows the cache currently holds
    rows = [i for i in live if tokens[i][-1] not in stop]  # rows still generating
    steps = decode_tokens = 0
    while rows and steps < max_new_tokens - 1:
        if len(live) - len(rows) >= COMPACT_WHEN_DONE * len(live):
            keep = torch.tensor([live.index(i) for i in rows], device=device)
            cache.batch_select_indices(keep)
            token, next_pos = token[keep], next_pos[keep]
            attn = None if attn is None else attn[keep]
            live = rows
            install_masks(modules, layout.masked(live))  # AdaKV's masks, renumbered to the rows left
        if attn is not None:
            attn = torch.cat([attn, attn.new_ones(len(live), 1)], dim=1)
        out = model(input_ids=token[:, None], position_ids=next_pos[:, None], past_key_values=cache,
                    attention_mask=attn)
        token = out.logits[:, -1].argmax(-1)
        next_pos = next_pos + 1
        generating = set(rows)
        for i, t in zip(live, token.tolist()):
            if i in generating:
                tokens[i].append(t)
        rows = [i for i in rows if tokens[i][-1] not in stop]
        steps += 1
        decode_tokens += len(live)
    return Decoded(tokens, steps, decode_tokens)


def _row_cells(cell: Cell | list[Cell], batch: int) -> list[Cell]:
    row_cells = list(cell) if isinstance(cell, (list, tuple)) else [cell] * batch
    if len(row_cells) != batch:
        raise ValueError(f"{len(row_cells)} cells for {batch} questions")
    return row_cells


def _pad_id(model, tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids(model)[0]


def question_forward(model, ids: torch.Tensor, pos: torch.Tensor, cache: DynamicCache, attn: torch.Tensor | None,
                     probe: RoutingProbe | None, probe_layers: list[int] | None):
    """Read the padded questions into the cache: each row's first answer token and probed hidden states."""
    device = model.device
    with probe.attached() if probe else contextlib.nullcontext():
        out = model(
            input_ids=ids.to(device), position_ids=pos.to(device), past_key_values=cache,
            attention_mask=_on(device, attn), logits_to_keep=1, output_hidden_states=probe_layers is not None,
        )
    hidden = None
    if probe_layers is not None:
        hidden = torch.stack([out.hidden_states[l][:, -1, :] for l in probe_layers], dim=1).float().cpu()
    return out.logits[:, -1].argmax(-1), hidden


@torch.inference_mode()
def answer(model, tokenizer, cell: Cell | list[Cell], context_length: int, question_ids: list[torch.Tensor],
           max_new_tokens: int, probe_layers: list[int] | None = None, routing: bool = False,
           evidence: list[list[int]] | None = None, reach_threshold: float | None = None) -> Answers:
    """Greedy answers to a batch of questions, each from its compressed cache.

    ``cell`` is one Cell for every question, or one Cell per question: rows of
    different presses and ratios of the same passage then share every forward
    pass. Shorter caches are right-padded and questions left-padded; all
    padding is masked out, and each row's RoPE positions continue from the
    uncompressed context length, as in kvpress's pipeline. With a
    ``reach_threshold`` the routing also carries each row's question-token
    reachability entries (``kvroute.inference.reachability``).
    """
    attention.install()  # kvroute's attention paths and AdaKV masking (process-wide; once is enough)
    modules = attention_modules(model)
    ids, pos, qmask = left_pad_questions(question_ids, _pad_id(model, tokenizer), context_length)
    layout = stack_cells(_row_cells(cell, len(question_ids)), room=ids.shape[1] + max_new_tokens)
    cache = cache_from_layout(layout)
    attn = torch.cat([layout.cache_mask.long(), qmask], dim=1)
    attn = None if bool(attn.all()) else attn  # nothing padded: no mask, as kvpress's pipeline decodes
    masked = layout.masked()
    probe = None
    if routing:
        width = ids.shape[1]
        probe = RoutingProbe(modules, layout.positions, masked, [width - q.shape[1] for q in question_ids], width,
                             context_length, evidence, reach_threshold)
    with applied_masks(modules, masked):
        first, hidden = question_forward(model, ids, pos, cache, attn, probe, probe_layers)
        decoded = greedy_decode(model, modules, layout, cache, first, pos[:, -1].to(model.device) + 1, attn,
                                max_new_tokens)
    texts = [tokenizer.decode(tokens, skip_special_tokens=True) for tokens in decoded.tokens]
    return Answers(texts, hidden, probe.result() if probe else None, decoded.steps, decoded.decode_tokens,
                   sum(q.shape[1] for q in question_ids))
