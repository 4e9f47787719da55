"""A replication campaign that accumulates: one passage at a time, each kept as a compact shard.

A study too large for one sitting (hours of CPU) is answered passage by
passage, and each finished passage's compact outputs are kept (committed) as
a *shard*, so a later session adds passages without rerunning earlier ones and
the report is assembled from every shard there is.

A shard is one model x dataset x regime x passage, in
``SHARDS / MODEL / DATASET / REGIME / NNNNN/`` (NNNNN: the passage's index):

- scores.parquet, questions.parquet, layers.parquet: the score and metrics
  stages' per-answer tables (every row is computed from its own passage, so a
  unit's tables are the concatenation of its passages' tables);
- hidden.npz: the probed hidden states of the rows C2's probe reads
  (``probe_rows``), with their row index;
- sink_share.csv: ChunkPress's kept entries and those at sinks (summable);
- shard.json: what produced it: the plan digest (everything that changes the
  answers), the resolved dtype, the commit, seconds and answers.

One model's shards must share one plan digest and one dtype: assembling a
model from shards of two is refused (``check_model``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kvroute.config import oracle_plan, study_units

SHARDS = Path("docs") / "replication"
SHARD_FILES = ("scores.parquet", "questions.parquet", "layers.parquet", "hidden.npz", "sink_share.csv", "shard.json")
PROBE_REGIME, PROBE_RATIOS = "agnostic", (0.0, 0.5)  # the rows C2's probe reads (claims C2: 0 -> 0.5)
# Settings that change nothing a passage produces.
NOT_IN_DIGEST = ("passages_per_job",)


@dataclass(frozen=True)
class Shard:
    model: str
    dataset: str
    regime: str
    index: int  # the passage's position in the dataset (generated datasets are prefix-stable)

    @property
    def passages(self) -> str:
        """The infer job's passage range."""
        return f"{self.index:05d}-{self.index + 1:05d}"

    def folder(self, root: Path) -> Path:
        return Path(root) / self.model / "shards" / self.dataset / self.regime / f"{self.index:05d}"

    def infer_dir(self, results: Path = Path("results")) -> Path:
        """Where the workflow's infer job for this passage writes (rules/inference.smk)."""
        return Path(results) / self.model / self.dataset / self.regime / "shards" / self.passages


def passages_for(config: dict, model: str, dataset: str) -> int:
    """Passages the plan gives ``model`` in ``dataset``: the dataset's size, capped by study.passages_per_model."""
    n = config["datasets"][dataset]["passages"]
    return min(n, config["study"].get("passages_per_model", {}).get(model, n))


def plan(config: dict, model: str) -> list[Shard]:
    """Every shard the plan asks of ``model``, passage index first: a campaign stopped anywhere has spread its
    passages over every dataset and regime rather than finished some and left others empty."""
    units = study_units(config)
    sizes = {d: passages_for(config, model, d) for d, _ in units}
    return [Shard(model, d, r, i) for i in range(max(sizes.values())) for d, r in units if i < sizes[d]]


def plan_digest(config: dict, model: str, regime: str) -> str:
    """Everything that changes what a passage's answers are, for one model and regime."""
    study = config["study"]
    parts = {
        "model": config["models"][model],
        "presses": {p: config["presses"][p] for p in study["presses"]},
        "ratios": sorted(float(r) for r in study["ratios"]),
        "oracle": oracle_plan(config, regime),
        "inference": {k: v for k, v in config["inference"].items() if k not in NOT_IN_DIGEST},
        "scoring": config.get("scoring", {}),
        "seed": config.get("seed"),
        "generators": {d: config["datasets"][d].get("generator", d) for d in study["datasets"]},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def foreign_datasets(config: dict, directory: Path) -> list[str]:
    """Dataset files in a run directory that this config would not generate. Another config's run in the same
    directory (another size or seed) rewrites data/DATASET.jsonl, and a shard answered from it would file a
    different passage, or none, under its index. A user's own file (datasets.X.path) and a missing one (the
    workflow generates it) pass."""
    from kvroute.datasets import generate, load_jsonl

    foreign = []
    for dataset in config["study"]["datasets"]:
        spec, path = config["datasets"][dataset], Path(directory) / "data" / f"{dataset}.jsonl"
        if "path" in spec or not path.exists():
            continue
        wanted = json.loads(json.dumps(generate(spec.get("generator", dataset), spec["passages"], config["seed"])))
        if load_jsonl(path) != wanted:
            foreign.append(str(path))
    return foreign


def probe_rows(scores: pd.DataFrame) -> np.ndarray:
    """Mask of the rows whose hidden states a shard keeps: base rows of C2's regime and ratios."""
    ratio = scores["ratio"].to_numpy(float)
    base = scores["oracle"].astype(str).isin(["none", ""]).to_numpy() if "oracle" in scores else True
    return (base & (scores["regime"].astype(str) == PROBE_REGIME).to_numpy()
            & np.isin(np.round(ratio, 10), PROBE_RATIOS))


def done(root: Path, shards: list[Shard]) -> list[Shard]:
    return [s for s in shards if (s.folder(root) / "shard.json").exists()]


def read_facts(folder: Path) -> dict:
    return json.loads((folder / "shard.json").read_text())


def model_shards(root: Path, model: str) -> Iterator[tuple[Shard, dict]]:
    """Every committed shard of ``model``, with its facts, in (dataset, regime, index) order."""
    for facts_path in sorted((Path(root) / model / "shards").glob("*/*/*/shard.json")):
        regime_dir = facts_path.parent.parent
        shard = Shard(model, regime_dir.parent.name, regime_dir.name, int(facts_path.parent.name))
        yield shard, json.loads(facts_path.read_text())


def check_model(found: list[tuple[Shard, dict]]) -> None:
    """Refuse a model whose shards do not share one dtype and, per regime, one plan digest."""
    dtypes = sorted({f["dtype"] for _, f in found})
    if len(dtypes) > 1:
        raise ValueError(f"{found[0][0].model}: shards answered in several dtypes ({', '.join(dtypes)}); "
                         "one model's shards must share one (docs/cpu-and-dtype.md)")
    for regime in sorted({s.regime for s, _ in found}):
        digests = sorted({f["plan_digest"] for s, f in found if s.regime == regime})
        if len(digests) > 1:
            raise ValueError(f"{found[0][0].model} {regime}: shards of {len(digests)} different plans "
                             f"({', '.join(digests)}); a changed plan needs its own shards")


def write_shard(shard: Shard, infer_dir: Path, root: Path, config: dict, facts: dict) -> Path:
    """Score one finished infer job's passage, compute its metrics and keep the compact tables as a shard.

    Written into a temporary folder renamed into place: a folder with shard.json is always complete.
    """
    from kvroute import artifacts
    from kvroute.io import atomic_dir, write_csv, write_json, write_npz, write_parquet
    from kvroute.metrics import build_metrics
    from kvroute.metrics.chunks import sink_share
    from kvroute.scoring import score_predictions

    paths = artifacts.paths_in(infer_dir)
    scoring = config.get("scoring", {})
    scores = score_predictions(pd.read_parquet(paths["predictions"]), threshold=scoring.get("threshold", 0.5),
                               tokenizer=scoring.get("match_tokenizer", "whitespace"))
    ledger = pd.read_parquet(paths["ledger"])
    with np.load(paths["routing"]) as z:
        routing = {k: z[k] for k in z.files}
    tables = build_metrics(scores, ledger, routing)
    keep = probe_rows(scores)
    with np.load(paths["hidden"]) as z:
        hidden = {"states": z["states"][keep], "layers": z["layers"],
                  **{k: z[k][keep] for k in ("qid", "press", "ratio")}}
    chunked = [p for p in config["study"]["presses"] if config["presses"][p]["press"] == "ChunkPress"]
    shares = pd.DataFrame()
    if chunked:
        lengths = {n: int(config["presses"][n].get("args", {}).get("chunk_length", 1024)) for n in chunked}
        shares = sink_share(ledger[ledger["press"].isin(chunked)])
        shares = shares.assign(chunk_length=shares["press"].map(lengths))
    dtypes = sorted(set(scores["dtype"].astype(str))) if "dtype" in scores else ["unknown"]
    folder = shard.folder(root)
    with atomic_dir(folder) as tmp:
        write_parquet(scores, tmp / "scores.parquet")
        write_parquet(tables["questions"], tmp / "questions.parquet")
        write_parquet(tables["layers"], tmp / "layers.parquet")
        write_npz(hidden, tmp / "hidden.npz", compressed=True)
        write_csv(shares, tmp / "sink_share.csv")
        write_json(tmp / "shard.json", {
            "model": shard.model, "dataset": shard.dataset, "regime": shard.regime, "index": shard.index,
            "passage_id": str(scores["passage_id"].iloc[0]), "answers": len(scores),
            "base_answers": int(scores["oracle"].astype(str).isin(["none", ""]).sum()),
            "dtype": dtypes[0] if len(dtypes) == 1 else "+".join(dtypes),
            "plan_digest": plan_digest(config, shard.model, shard.regime), **facts})
    return folder


def assemble(root: Path, model: str, results: Path) -> dict:
    """Concatenate ``model``'s shards into a results tree the stats, probe and claims stages read: per unit
    ``results/MODEL/DATASET/REGIME/`` scores.parquet, metrics/questions.parquet, metrics/layers.parquet, and
    (where the unit has C2's rows) probe_rows.parquet with their states in probe_states.npz. Returns
    {"units": [(dataset, regime)], "passages": {(dataset, regime): n}, "facts": [every shard's facts]}."""
    from kvroute.io import write_npz, write_parquet

    found = list(model_shards(root, model))
    if not found:
        raise ValueError(f"no shards of {model} under {Path(root) / model / 'shards'}")
    check_model(found)
    units: dict[tuple[str, str], list[Shard]] = {}
    for shard, _ in found:
        units.setdefault((shard.dataset, shard.regime), []).append(shard)
    for (dataset, regime), shards in units.items():
        unit = Path(results) / model / dataset / regime
        folders = [s.folder(root) for s in sorted(shards, key=lambda s: s.index)]
        scores = pd.concat([pd.read_parquet(f / "scores.parquet") for f in folders], ignore_index=True)
        write_parquet(scores, unit / "scores.parquet")
        for name in ("questions", "layers"):
            write_parquet(pd.concat([pd.read_parquet(f / f"{name}.parquet") for f in folders], ignore_index=True),
                          unit / "metrics" / f"{name}.parquet")
        arrays: dict[str, list] = {}
        for f in folders:
            with np.load(f / "hidden.npz") as z:
                for k in z.files:
                    arrays.setdefault(k, []).append(z[k])
        if sum(len(a) for a in arrays["qid"]):
            write_parquet(scores[probe_rows(scores)].reset_index(drop=True), unit / "probe_rows.parquet")
            write_npz({k: (v[0] if k == "layers" else np.concatenate(v)) for k, v in arrays.items()},
                      unit / "probe_states.npz")
    return {"units": list(units), "passages": {u: len(s) for u, s in units.items()}, "facts": [f for _, f in found]}


def sum_sink_shares(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Shards' sink-share tables (kvroute.metrics.chunks.sink_share) as one: counts summed, the mean context
    length weighted by passages, the share recomputed."""
    t = pd.concat(tables, ignore_index=True)
    keys = [k for k in ("model", "dataset", "regime", "press", "ratio", "chunk_length") if k in t]
    t = t.assign(tokens_sum=t["tokens_mean"] * t["passages"])
    out = t.groupby(keys, as_index=False)[["passages", "tokens_sum", "kept", "kept_sinks"]].sum()
    out["tokens_mean"] = out.pop("tokens_sum") / out["passages"]
    out["sink_share"] = out["kept_sinks"] / out["kept"].where(out["kept"] > 0)
    return out[[*keys, "passages", "tokens_mean", "kept", "kept_sinks", "sink_share"]]
