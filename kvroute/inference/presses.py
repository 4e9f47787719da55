"""Press registry: config names -> stock kvpress objects.

A press spec in the config names a kvpress class, and for presses built
around a scorer (wrappers such as ``AdaKVPress`` and ``ChunkPress``, and
``CriticalKVPress``) the scorer they take (``kvroute.press_specs``)::

    adakv_ea: {press: AdaKVPress, args: {alpha_safeguard: 0.2}, scorer: ExpectedAttentionPress}
    chunk_ea: {press: ChunkPress, args: {chunk_length: 64}, scorer: ExpectedAttentionPress}
    knorm:    {press: KnormPress}

Ratio 0.0 means "no press" and is never built.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Callable
from functools import lru_cache

import torch
from kvpress.presses.base_press import BasePress
from kvpress.presses.chunk_press import ChunkPress
from kvpress.presses.scorer_press import ScorerPress

from kvroute import press_specs


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


def arguments(cls: type) -> set[str]:
    """The keyword arguments a press class takes (from its signature: CriticalKVPress writes its own __init__
    under a dataclass parent, so dataclass fields would not say)."""
    return set(inspect.signature(cls).parameters)


def validate_spec(name: str, spec: dict) -> None:
    """Raise a ValueError naming the config key when a press spec cannot be built or studied."""
    for key, problem in press_specs.problems(name, spec):
        raise ValueError(f"{key}: {problem}")
    for field, args in (("press", "args"), ("scorer", "scorer_args")):
        if field not in spec:
            continue
        allowed = arguments(press_classes()[spec[field]]) - {"press", "compression_ratio"}
        for arg in spec.get(args, {}):
            if arg not in allowed:
                raise ValueError(f"presses.{name}.{args}.{arg}: {spec[field]} has no such argument; "
                                 f"allowed: {', '.join(sorted(allowed))}")
    if "oracle" in spec and not press_specs.steerable(spec):
        raise ValueError(f"presses.{name}.oracle: {spec['press']} has no scores an oracle can steer "
                         f"({press_specs.CATALOG[spec['press']].note})")


def build(spec: dict, ratio: float) -> BasePress:
    """A stock kvpress object for ``spec`` at ``ratio`` (ChunkPress made safe for short tail chunks)."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"compression ratio must be in (0, 1) to build a press, got {ratio}")
    cls = press_classes()[spec["press"]]
    args = dict(spec.get("args", {}))
    if spec["press"] in press_specs.TAKE_SCORER:
        scorer = press_classes()[spec["scorer"]](compression_ratio=ratio, **spec.get("scorer_args", {}))
        if cls is ChunkPress:
            cls = RemainderSafeChunkPress
        return cls(press=scorer, **args)
    return cls(compression_ratio=ratio, **args)


def scorer_in(press: BasePress) -> ScorerPress | None:
    """The scorer that ranks context tokens inside ``press``: itself, or the one its wrappers hold (else None)."""
    while not isinstance(press, ScorerPress):
        press = getattr(press, "press", None)
        if not isinstance(press, BasePress):
            return None
    return press


def own_forward_hooks(press: BasePress) -> list[str]:
    """Classes in ``press`` (or the presses it wraps) that replace kvpress's forward hook."""
    out, seen = [], [press]
    while seen:
        p = seen.pop()
        if type(p).forward_hook is not BasePress.forward_hook:
            out.append(type(p).__name__)
        inner = getattr(p, "presses", None) or [getattr(p, "press", None)]
        seen += [q for q in inner if isinstance(q, BasePress)]
    return out


def with_scorer(press: BasePress, replace: Callable[[ScorerPress], ScorerPress]) -> BasePress:
    """``press`` ranking by ``replace(scorer)`` instead of its own scorer; its selection code is untouched.

    A wrapper gets the replacement as its inner press. A scorer press that
    selects by itself (SnapKV, PyramidKV's per-layer budgets) keeps its own
    ``compress`` and has its ``score`` rebound to the replacement's, which
    wraps an unpatched copy of the press.
    """
    if isinstance(press, ScorerPress):
        stand_in = replace(copy.copy(press))
        press.score = stand_in.score
        return press
    owner = press
    while not isinstance(owner.press, ScorerPress):
        owner = owner.press
    owner.press = replace(owner.press)
    return press


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


class _Delegating:
    """Attributes a wrapped scorer has (``n_sink``, ``window_size``...) read through to it, as wrappers expect."""

    def __getattr__(self, name):
        if name == "inner":  # not set yet (dataclass init, copy): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


@dataclasses.dataclass
class MemoScorer(_Delegating, ScorerPress):
    """A scorer that computes each (layer, span) score once and replays it.

    Used to evaluate many ratios from one prefill: the press runs its stock
    selection code, but the scores come from the memo (``key`` names a span:
    ``kvroute.inference.engine``). Scores are returned as clones because
    AdaKV writes into them in place.
    """

    inner: ScorerPress | None = None
    memo: dict = dataclasses.field(default_factory=dict)
    key: Callable | None = None

    def post_init_from_model(self, model):
        self.inner.post_init_from_model(model)

    def score(self, module, hidden_states, keys, values, attentions, kwargs):
        key = self.key(module, hidden_states, keys)
        if key is None:  # not a span it may replay
            return self.inner.score(module, hidden_states, keys, values, attentions, kwargs)
        if key not in self.memo:
            self.memo[key] = self.inner.score(module, hidden_states, keys, values, attentions, kwargs)
        return self.memo[key].clone()


@dataclasses.dataclass
class SteeredScorer(_Delegating, ScorerPress):
    """``inner``'s scores with chosen context positions moved above (direction +1) or below (-1) all others.

    The oracle presses' scorer (``kvroute.inference.oracle``). The shift is larger than
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
