"""Press entries of a config: which kvpress presses kvroute studies, and which entry an oracle steers.

Torch-free: the config check (and so the Snakefile) uses it; the infer stage
builds the presses (``kvroute.inference.presses``).

Every kvpress 0.5.5 press is listed, sorted by what kvroute can measure of it.

kvroute studies presses that *evict context tokens*: each layer and KV head
keeps a subset of the context's KV entries, chosen at the study's compression
ratio. Its ledger records that subset for any such press by matching the keys
a layer holds after compression against the keys it had before (plus
kvpress's ``masked_key_indices`` where keys are masked, not removed), so a
press needs nothing special to be studied: only to evict tokens, at a ratio,
in the prefill, without a model-hub download.

Kinds:

- ``scorer``: ranks tokens per KV head and keeps the top ones (a ``ScorerPress``).
  ``takes_scorer`` marks those built around another scorer (CriticalKV).
- ``wrapper``: selects tokens with the scores of the scorer it wraps (``scorer:`` in the config).
- ``refused``: not studied, for the stated reason. The config check quotes it.

Whether a press shares one prefill across ratios is not listed here: the
engine decides that on each passage (``kvroute.inference.engine.ScoreBank``).
A test keeps this table equal to kvpress's own list of presses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Press:
    kind: str  # scorer, wrapper or refused
    note: str = ""  # for refused presses: why; otherwise what a user should know
    takes_scorer: bool = False  # built around a scorer press (the config's ``scorer:``)
    steerable: bool = True  # an oracle can steer its scores (they come from contiguous context spans)


_HUB = "downloads its weights or statistics from a model hub, which this workflow's machines cannot reach"
_DECODE = "compresses during decoding; kvroute compresses the context once in the prefill and measures that cache"
_RATIO = "is not controlled by one compression ratio, so it has no place on the study's ratio grid"

CATALOG: dict[str, Press] = {
    # Scorer presses: score every context token per KV head, keep the top (1 - ratio).
    "CURPress": Press("scorer", "CUR leverage of keys and values"),
    "CapPress": Press("scorer"),
    "CompactorPress": Press("scorer", "blends leverage and attention by the ratio and draws a random sketch: "
                                      "one prefill per passage, compressed again at each ratio"),
    "CriticalKVPress": Press("scorer", "rescales its scorer's scores by the output-projected value norm",
                             takes_scorer=True),
    "ExpectedAttentionPress": Press("scorer"),
    "KeyDiffPress": Press("scorer"),
    "KnormPress": Press("scorer"),
    "LagKVPress": Press("scorer", "below 2 x lag_size + n_sink tokens it keeps the most recent ones"),
    "LeverageScorePress": Press("scorer", "draws a random sketch (seeded per passage by kvroute)"),
    "NonCausalAttnPress": Press("scorer"),
    "PyramidKVPress": Press("scorer", "SnapKV with per-layer budgets; uniform below 1,280 kept tokens"),
    "RandomPress": Press("scorer", "random scores (seeded per passage by kvroute unless args.seed is set)"),
    "SnapKVPress": Press("scorer", "needs more than window_size (64) context tokens"),
    "StreamingLLMPress": Press("scorer", "keeps the sinks and the most recent tokens"),
    "TOVAPress": Press("scorer"),
    # Wrappers: their own selection over a scorer's scores.
    "AdaKVPress": Press("wrapper", "head-wise budgets inside each layer; masks keys instead of removing them"),
    "BlockPress": Press("wrapper", "rescores block by block, as a chunked prefill would; no oracle (it scores "
                                   "gathered subsets of the context)", steerable=False),
    "ChunkKVPress": Press("wrapper", "keeps whole chunks, the same positions in every head"),
    "ChunkPress": Press("wrapper", "scores and selects per chunk (a tail of n_sink tokens or fewer is folded into "
                                   "the chunk before it)"),
    "CriticalAdaKVPress": Press("wrapper", "AdaKV budgets with CriticalKV's value-norm stage"),
    "EntropyGatedChunkKVPress": Press("wrapper", "ChunkKV with entropy-sized chunks"),
    # Refused, each for its reason.
    "BasePress": Press("refused", "is kvpress's abstract base class"),
    "ScorerPress": Press("refused", "is kvpress's abstract scorer class; name a scorer press"),
    "ObservedAttentionPress": Press("refused", "needs the attention weights only eager attention returns, and "
                                               "AdaKV-style masking and kvroute's engine run SDPA"),
    "ExpectedAttentionStatsPress": Press("refused", _HUB),
    "QFilterPress": Press("refused", _HUB),
    "KVzapPress": Press("refused", _HUB),
    "DuoAttentionPress": Press("refused", _HUB),
    "LUKVPress": Press("refused", "downloads per-head keep curves from a URL, published for Llama-3.1-8B only"),
    "KVzipPress": Press("refused", "loads a tokenizer from the hub and compresses when its context manager exits, "
                                   "after replaying the context"),
    "KVgradPress": Press("refused", "loads a tokenizer from the hub and needs gradients through the model"),
    "RestoreKVPress": Press("refused", _HUB),
    "FastKVzipPress": Press("refused", _HUB),
    "KVComposePress": Press("refused", "replaces the model's forward, forces eager attention and replays the context "
                                       "a second time"),
    "FinchPress": Press("refused", "adds a separator token to the vocabulary and needs context and question in one "
                                   "prefill"),
    "ThinKPress": Press("refused", "prunes key channels, not tokens: every context token stays in the cache"),
    "MergingPress": Press("refused", "merges evicted values into kept ones: the kept entries are rewritten, so "
                                     "eviction alone does not describe the cache"),
    "KeyRerotationPress": Press("refused", "re-rotates kept keys to new positions, so kept entries no longer equal "
                                           "their uncompressed keys and questions continue from the shortened length"),
    "DMSPress": Press("refused", f"evicts by a score threshold and {_RATIO}"),
    "SimLayerKVPress": Press("refused", f"trims whole 'lazy' layers by an attention threshold and {_RATIO}"),
    "PerLayerCompressionPress": Press("refused", "takes one ratio per layer, not the study's single ratio"),
    "ComposedPress": Press("refused", "chains a list of presses, which a press entry cannot name; study each alone"),
    "DecodingPress": Press("refused", _DECODE),
    "PrefillDecodingPress": Press("refused", _DECODE),
    "CompressionRatioDecodingPress": Press("refused", _DECODE),
    "CAMPress": Press("refused", _DECODE),
}

KVPRESS_PRESSES = tuple(sorted(n for n in CATALOG if n != "BasePress"))
SCORERS = tuple(sorted(n for n, p in CATALOG.items() if p.kind == "scorer"))
WRAPPERS = tuple(sorted(n for n, p in CATALOG.items() if p.kind == "wrapper"))
TAKE_SCORER = tuple(sorted(n for n, p in CATALOG.items() if p.kind == "wrapper" or p.takes_scorer))
STUDIED = tuple(sorted(SCORERS + WRAPPERS))


def problems(name: str, spec: dict) -> list[tuple[str, str]]:
    """(config key, message) for each way the press entry ``presses.NAME`` cannot be studied; [] when it can."""
    key, out = f"presses.{name}", []
    for field in ("press", "scorer"):
        if field in spec and spec[field] not in CATALOG:
            out.append((f"{key}.{field}", f"{spec[field]!r} is not a kvpress press; allowed values: "
                                          f"{', '.join(STUDIED)}"))
    if out:
        return out
    press = CATALOG[spec["press"]]
    if press.kind == "refused":
        out.append((f"{key}.press", f"{spec['press']} {press.note}, so kvroute cannot study it; allowed values: "
                                    f"{', '.join(STUDIED)}"))
    elif spec["press"] in TAKE_SCORER and "scorer" not in spec:
        out.append((f"{key}.scorer", f"{spec['press']} selects with a scorer's scores; name one of {', '.join(SCORERS)}"))
    elif spec["press"] not in TAKE_SCORER and "scorer" in spec:
        out.append((f"{key}.scorer", f"only {', '.join(TAKE_SCORER)} take a scorer"))
    elif "scorer" in spec and (CATALOG[spec["scorer"]].kind != "scorer" or CATALOG[spec["scorer"]].takes_scorer):
        out.append((f"{key}.scorer", f"{spec['scorer']} is not a scorer press "
                                     f"({CATALOG[spec['scorer']].note or CATALOG[spec['scorer']].kind}); "
                                     f"allowed values: {', '.join(SCORERS)}"))
    return out


def base_spec(spec: dict) -> dict:
    """The press spec without its oracle, empty args dropped, for comparing entries."""
    return {k: v for k, v in spec.items() if k != "oracle" and v != {}}


def base_press_of(spec: dict, presses: dict[str, dict], studied: list[str]) -> str | None:
    """The studied press whose spec equals ``spec`` without its oracle (None when there is none)."""
    target = base_spec(spec)
    return next((name for name in studied if "oracle" not in presses[name] and base_spec(presses[name]) == target),
                None)


def steerable(spec: dict) -> bool:
    """Whether an oracle can steer this press: it ranks contiguous context spans with a scorer."""
    press = CATALOG.get(spec["press"], Press("refused"))
    return press.kind in ("scorer", "wrapper") and press.steerable
