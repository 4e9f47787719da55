"""Press registry: config names -> stock kvpress objects.

A press spec in the config names a kvpress class, and for wrapper presses
(``AdaKVPress``, ``ChunkPress``) the scorer they wrap::

    adakv_ea: {press: AdaKVPress, args: {alpha_safeguard: 0.2}, scorer: ExpectedAttentionPress}
    chunk_ea: {press: ChunkPress, args: {chunk_length: 64}, scorer: ExpectedAttentionPress}
    knorm:    {press: KnormPress}

Ratio 0.0 means "no press" and is never built.
"""

from __future__ import annotations

import dataclasses
import inspect
from functools import lru_cache

import torch
from kvpress.presses.base_press import BasePress
from kvpress.presses.chunk_press import ChunkPress
from kvpress.presses.scorer_press import ScorerPress

from kvroute.config import RATIO_FREE_SCORERS, WRAPPERS  # noqa: F401 (re-exported: torch-free facts)


@lru_cache(maxsize=1)
def press_classes() -> dict[str, type]:
    import kvpress

    return {
        name: obj
        for name, obj in vars(kvpress).items()
        if inspect.isclass(obj) and issubclass(obj, BasePress) and obj is not BasePress
    }


def scorer_classes() -> dict[str, type]:
    return {n: c for n, c in press_classes().items() if issubclass(c, ScorerPress) and c is not ScorerPress}


def _lookup(name: str, table: dict[str, type], what: str, key: str) -> type:
    if name not in table:
        raise ValueError(f"{key}: unknown {what} {name!r}; allowed: {', '.join(sorted(table))}")
    return table[name]


def validate_spec(name: str, spec: dict) -> None:
    """Raise a ValueError naming the config key when a press spec cannot be built."""
    cls = _lookup(spec["press"], press_classes(), "kvpress press", f"presses.{name}.press")
    if spec["press"] in WRAPPERS:
        if "scorer" not in spec:
            raise ValueError(f"presses.{name}.scorer: {spec['press']} wraps a scorer; name one of "
                             f"{', '.join(sorted(scorer_classes()))}")
        _lookup(spec["scorer"], scorer_classes(), "scorer press", f"presses.{name}.scorer")
    elif "scorer" in spec:
        raise ValueError(f"presses.{name}.scorer: only {', '.join(WRAPPERS)} take a scorer")
    if "oracle" in spec and not (spec["press"] in WRAPPERS and spec.get("scorer") in RATIO_FREE_SCORERS):
        raise ValueError(f"presses.{name}.oracle: an oracle steers the scores of {', '.join(WRAPPERS)} around a "
                         f"scorer that one prefill serves ({', '.join(RATIO_FREE_SCORERS)})")
    fields = {f.name for f in dataclasses.fields(cls)}
    for arg in spec.get("args", {}):
        if arg not in fields:
            raise ValueError(f"presses.{name}.args.{arg}: {cls.__name__} has no such argument; "
                             f"allowed: {', '.join(sorted(fields - {'press', 'compression_ratio'}))}")


def build(spec: dict, ratio: float, scorer: ScorerPress | None = None) -> BasePress:
    """A stock kvpress object for ``spec`` at ``ratio`` (``scorer`` overrides the inner scorer)."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"compression ratio must be in (0, 1) to build a press, got {ratio}")
    cls = press_classes()[spec["press"]]
    args = dict(spec.get("args", {}))
    if spec["press"] in WRAPPERS:
        if scorer is None:
            scorer = scorer_classes()[spec["scorer"]](compression_ratio=ratio, **spec.get("scorer_args", {}))
        if cls is ChunkPress:
            cls = RemainderSafeChunkPress
        return cls(press=scorer, **args)
    return cls(compression_ratio=ratio, **args)


def shares_prefill(spec: dict) -> bool:
    """True when one uncompressed prefill can serve every ratio of this press."""
    if spec["press"] in WRAPPERS:
        return spec["scorer"] in RATIO_FREE_SCORERS
    return spec["press"] in RATIO_FREE_SCORERS


def chunk_bounds(kv_len: int, chunk_length: int, n_sink: int) -> list[tuple[int, int]]:
    """RemainderSafeChunkPress's chunks: stock ones, with a tail of at most ``n_sink`` tokens folded back."""
    starts = list(range(0, kv_len, chunk_length))
    if len(starts) > 1 and kv_len - starts[-1] < n_sink + 1:
        starts.pop()
    return list(zip(starts, starts[1:] + [kv_len]))


def kept_per_chunk(chunk_tokens: int, ratio: float) -> int:
    """Entries ChunkPress keeps of a chunk (kvpress's own formula): at least one, whatever the ratio."""
    return max(1, int(chunk_tokens * (1 - ratio)))


def sink_positions(spec: dict, context_length: int) -> list[int]:
    """Context positions the press keeps whatever their score: each scored span's first ``n_sink`` tokens.

    ExpectedAttention pads its scores so the first ``n_sink`` tokens of whatever
    it scores rank first; under ChunkPress that is every chunk's start. Span
    nulls draw away from them (they carry no evidence and are never evicted).
    """
    scorer = spec.get("scorer", spec["press"])
    fields = {f.name: f.default for f in dataclasses.fields(press_classes()[scorer])}
    n_sink = int(spec.get("scorer_args" if "scorer" in spec else "args", {}).get("n_sink", fields.get("n_sink", 0)))
    if not n_sink:
        return []
    starts = [0]
    if spec["press"] == "ChunkPress":
        default = {f.name: f.default for f in dataclasses.fields(ChunkPress)}["chunk_length"]
        chunk = int(spec.get("args", {}).get("chunk_length", default))
        starts = [start for start, _ in chunk_bounds(context_length, chunk, n_sink)]
    return sorted({p for start in starts for p in range(start, min(start + n_sink, context_length))})


@dataclasses.dataclass
class RemainderSafeChunkPress(ChunkPress):
    """ChunkPress whose last chunk is never too short to score.

    Stock ChunkPress scores the remainder chunk on its own; ExpectedAttention
    then asserts it holds more than ``n_sink`` tokens and crashes when
    ``context_length % chunk_length`` is 1..n_sink. We fold such a short tail
    into the chunk before it (that chunk is scored over chunk_length + tail
    tokens). Every other context is chunked exactly as stock.
    """

    def chunk_bounds(self, kv_len: int) -> list[tuple[int, int]]:
        return chunk_bounds(kv_len, self.chunk_length, getattr(self.press, "n_sink", 0))

    def compress(self, module, hidden_states, keys, values, attentions, kwargs):
        if self.press.compression_ratio == 0:
            return keys, values
        assert attentions is None, "ChunkPress does not support attentions."
        indices = []
        for start, end in self.chunk_bounds(keys.shape[2]):
            if isinstance(self.press, SteeredScorer):  # it steers context positions: tell it where the chunk is
                self.press.span_start = start
            chunk_scores = self.press.score(
                module, hidden_states[:, start:end], keys[:, :, start:end], values[:, :, start:end], attentions, kwargs
            )
            n_kept = kept_per_chunk(end - start, self.press.compression_ratio)
            indices.append(start + chunk_scores.topk(n_kept, dim=-1).indices)
        idx = torch.cat(indices, dim=-1).unsqueeze(-1).expand(-1, -1, -1, module.head_dim)
        return keys.gather(2, idx).contiguous(), values.gather(2, idx).contiguous()


@dataclasses.dataclass
class MemoScorer(ScorerPress):
    """A scorer that computes each (layer, span) score once and replays it.

    Used to evaluate many ratios from one prefill: the wrapper press (AdaKV,
    Chunk) runs its stock selection code, but the scores come from the memo.
    Scores are returned as clones because AdaKV writes into them in place.
    """

    inner: ScorerPress | None = None
    memo: dict = dataclasses.field(default_factory=dict)

    def post_init_from_model(self, model):
        self.inner.post_init_from_model(model)

    def score(self, module, hidden_states, keys, values, attentions, kwargs):
        # A chunk is a slice of the layer's hidden states: its storage offset
        # and length identify it uniquely within one prefill.
        key = (module.layer_idx, hidden_states.storage_offset(), hidden_states.shape[1], keys.shape[2])
        if key not in self.memo:
            self.memo[key] = self.inner.score(module, hidden_states, keys, values, attentions, kwargs)
        return self.memo[key].clone()


@dataclasses.dataclass
class SteeredScorer(ScorerPress):
    """``inner``'s scores with chosen context positions moved above (direction +1) or below (-1) all others.

    The oracle presses' scorer (``kvroute.oracle``). The shift is larger than
    the scores' range, so the chosen positions rank on one side of every other
    position (the sinks' padded maximum included) while keeping their own base
    order; the wrapper press's selection code and budget are untouched.
    """

    inner: ScorerPress | None = None
    positions: torch.Tensor | None = None  # long, context positions moved first
    second: torch.Tensor | None = None  # long, positions moved next to them (protect_diluted's spans)
    direction: int = 1
    span_start: int = 0  # context position of the scored span's first token (ChunkPress sets it per chunk)

    def post_init_from_model(self, model):
        self.inner.post_init_from_model(model)

    def _local(self, positions: torch.Tensor | None, scores: torch.Tensor) -> torch.Tensor:
        if positions is None:
            return positions
        local = positions.to(scores.device) - self.span_start
        return local[(local >= 0) & (local < scores.shape[-1])]

    def score(self, module, hidden_states, keys, values, attentions, kwargs):
        scores = self.inner.score(module, hidden_states, keys, values, attentions, kwargs)
        tiers = [(self._local(self.positions, scores), 2), (self._local(self.second, scores), 1)]
        tiers = [(local, k) for local, k in tiers if local is not None and local.numel()]
        if not tiers:
            return scores
        # float32: a shift by the range in bf16 would round the chosen positions' own order away.
        # First tier by twice the shift, second by once: first > second > the rest.
        scores = scores.float()
        shift = scores.max() - scores.min() + 1
        for local, k in tiers:
            scores[..., local] += self.direction * k * shift
        return scores
