"""docs/replication.md from committed pieces, one model at a time.

On 2 CPU cores each model's replication run takes most of a session, and a
session's ignored outputs may not survive to the next. So each model's run
leaves a small committed piece under docs/replication/<model>/ (its claims
rows, statistics tables, per-layer routing and the run's facts), and the
report and its figures are assembled from whatever pieces exist:

    # after `snakemake --configfile config/replication.yaml ... results/<model>/...` finished
    python scripts/replication_report.py collect qwen2.5-coder-0.5b-instruct \\
        --config config/replication.yaml --time time.txt --command "snakemake ..."
    python scripts/replication_report.py assemble        # docs/replication.md, docs/figures/*.png

The claims rows are the workflow's own (`python -m kvroute claims`, as the
`claims` rule runs it), computed on one model's outputs; a claim's verdict
depends on that model's data only, except C9's "no model of this family"
rows, which `assemble` recomputes over every piece.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kvroute import campaign  # noqa: E402
from kvroute import config as kvconfig  # noqa: E402
from kvroute.claims import report  # noqa: E402
from kvroute.claims.registry import CLAIMS, missing_families, model_not_run  # noqa: E402
from kvroute.io import write_csv, write_json, write_text  # noqa: E402
from kvroute.metrics.chunks import sink_share  # noqa: E402
from kvroute.inference.presses import kept_per_chunk  # noqa: E402

PIECES = ROOT / "docs" / "replication"
STATS_TABLES = ("breakpoint", "ger_hallucination", "ger_item_model", "rigidity", "oracle")
VERSIONED = ("torch", "transformers", "kvpress", "snakemake", "numpy", "pandas", "statsmodels", "scikit-learn")


# --- collect: one model's piece -----------------------------------------------------------------------------

def unit_files(results: Path, model: str, units: list[tuple[str, str]], name: str) -> list[str]:
    return [str(results / model / d / r / "metrics" / name) for d, r in units]


def run_claims(results: Path, model: str, config: dict, out: Path, units: list[tuple[str, str]]) -> None:
    """claims.csv of one model, by the claims stage's own function on this model's outputs."""
    from kvroute.claims import Settings, build_claims
    from kvroute.paths import METRICS_FILES, probe_file, stats_file

    workdir = results.parent  # the paths are relative to the workflow's working directory
    stats_files = {name: [str(workdir / stats_file(name, model))]
                   for name in ("breakpoint", "ger", "ger_item", "rigidity", "oracle")}
    stats_files |= {"probe": [str(workdir / probe_file("scores", model))]}
    passages = workdir / probe_file("passages", model)
    stats_files |= {"probe_passages": [str(passages)]} if passages.exists() else {}
    settings = Settings(n_boot=config["stats"]["n_boot"], n_boot_breakpoint=config["stats"]["n_boot_breakpoint"],
                        seed=config["seed"], min_passages=config["claims"]["min_passages"],
                        generators={d: config["datasets"][d].get("generator", d) for d in config["study"]["datasets"]})
    frame = build_claims(unit_files(results, model, units, METRICS_FILES["questions"]),
                         unit_files(results, model, units, METRICS_FILES["layers"]), stats_files,
                         {model: config["models"][model].get("family", "unknown")}, settings)
    write_csv(frame, out / "claims.csv")


def concat_units(results: Path, model: str, units: list[tuple[str, str]], name: str) -> pd.DataFrame:
    frames = []
    for path in unit_files(results, model, units, name):
        frame = pd.read_csv(path)
        dataset, regime = Path(path).parts[-4:-2]
        frames.append(frame.assign(dataset=frame.get("dataset", dataset), regime=frame.get("regime", regime)))
    return pd.concat(frames, ignore_index=True)


def chunk_presses(config: dict) -> list[str]:
    return [p for p in config["study"]["presses"] if config["presses"][p]["press"] == "ChunkPress"]


def chunk_sink_share(results: Path, model: str, config: dict) -> pd.DataFrame | None:
    """Share of kept entries at sink positions, per ChunkPress press x ratio (kvroute.metrics.chunks)."""
    names = chunk_presses(config)
    if not names:
        return None
    frames = []
    for path in unit_files(results, model, kvconfig.study_units(config), "ledger.parquet"):
        ledger_path = Path(path).parent.parent / "ledger.parquet"  # the unit's merged ledger
        frames.append(sink_share(pd.read_parquet(ledger_path, filters=[("press", "in", names)])))
    table = pd.concat(frames, ignore_index=True)
    chunk = {p: int(config["presses"][p].get("args", {}).get("chunk_length", 1024)) for p in names}
    return table.assign(chunk_length=table["press"].map(chunk))


def time_facts(paths) -> dict:
    """Wall time (summed) and peak memory (the largest) from GNU time -v, over a run's invocations."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths or []) if Path(p).exists()]
    parts = [one_time_facts(p.read_text()) for p in paths]
    facts = {}
    if any("wall_s" in f for f in parts):
        facts["wall_s"] = sum(f.get("wall_s", 0) for f in parts)
    if any("peak_rss_gb" in f for f in parts):
        facts["peak_rss_gb"] = max(f.get("peak_rss_gb", 0) for f in parts)
    return facts


def one_time_facts(text: str) -> dict:
    facts = {}
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if wall:
        seconds = 0.0
        for part in wall.group(1).split(":"):
            seconds = seconds * 60 + float(part)
        facts["wall_s"] = round(seconds)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if peak:
        facts["peak_rss_gb"] = round(int(peak.group(1)) / 1024 ** 2, 2)
    return facts


def job_seconds(results: Path, model: str, rule: str) -> float:
    """Summed wall seconds of one rule's jobs for the model (Snakemake's benchmark files)."""
    total = 0.0
    for tsv in (results.parent / "benchmarks" / rule).glob(f"{model}/**/*.tsv"):
        total += float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
    for tsv in (results.parent / "benchmarks" / rule).glob(f"{model}.tsv"):
        total += float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
    return round(total)


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit(where: Path) -> str:
    """The commit checked out where the run ran; this checkout's when that is not a git work tree."""
    for place in (where, ROOT):
        out = subprocess.run(["git", "-C", str(place), "rev-parse", "HEAD"], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    return "unknown"


def newest_commit(commits: set[str]) -> str:
    """The most recent of the shards' commits by commit time (the hashes' order says nothing); "unknown"
    where git does not know them."""
    times = {}
    for c in commits:
        out = subprocess.run(["git", "-C", str(ROOT), "show", "-s", "--format=%ct", c], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            times[c] = int(out.stdout.strip().splitlines()[-1])
    if not times:
        return "unknown"
    # Commits made in the same second tie on time: the one the others lead to is the newer.
    def descends_from(c: str) -> int:
        return sum(subprocess.run(["git", "-C", str(ROOT), "merge-base", "--is-ancestor", o, c]).returncode == 0
                   for o in times if o != c and times[o] == times[c])
    return max(times, key=lambda c: (times[c], descends_from(c)))


def passages_per_dataset(config: dict, model: str) -> str:
    """Passages each dataset ran with for this model: the dataset's size, capped by passages_per_model."""
    cap = config["study"].get("passages_per_model", {}).get(model)
    sizes = sorted({min(config["datasets"][d]["passages"], cap or 10**9) for d in config["study"]["datasets"]})
    return str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"


def cmd_collect(a) -> None:
    config = kvconfig.load(a.config)
    results = Path(a.results).resolve()
    out = Path(a.out or PIECES / a.model)
    units = kvconfig.study_units(config)
    questions = pd.concat([pd.read_parquet(p, columns=["passage_id"]) for p in
                           unit_files(results, a.model, units, "questions.parquet")])
    facts = {
        "command": a.command,
        "kvroute_commit": git_commit(results.parent),
        "answers": len(questions),
        "passages_per_dataset": passages_per_dataset(config, a.model),
        "infer_s": job_seconds(results, a.model, "infer"),
        "probe_s": job_seconds(results, a.model, "probe"),
        "stats_s": job_seconds(results, a.model, "stats"),
        "machine": f"{platform.machine()}, {a.cores} CPU cores, {a.precision}",
        "note": a.note,
    } | time_facts(a.time)
    write_piece(results, a.model, config, a.config, units, out, facts, chunk_sink_share(results, a.model, config))


def write_piece(results: Path, model: str, config: dict, config_path: str, units: list[tuple[str, str]], out: Path,
                facts: dict, shares: pd.DataFrame | None) -> None:
    """A model's piece from a results tree its stats and probe stages have run on: claims rows, stats tables,
    routing by layer, sink shares and the run's facts."""
    out.mkdir(parents=True, exist_ok=True)
    run_claims(results, model, config, out, units)
    stats_out = out / "stats"
    stats_out.mkdir(exist_ok=True)
    probes = [p for p in (results / model / "probe" / name for name in ("probe_scores.csv", "probe_passages.csv"))
              if p.exists()]
    for table in sorted((results / model / "stats").glob("*.csv")) + probes:
        shutil.copyfile(table, stats_out / table.name)
    write_csv(concat_units(results, model, units, "routing.csv"), out / "routing.csv")
    if shares is not None:
        write_csv(shares, out / "sink_share.csv")
    facts = {"model": model, "family": config["models"][model].get("family", "unknown"), "config": config_path,
             "datasets": sorted({d for d, _ in units}, key=config["study"]["datasets"].index),
             "versions": versions()} | facts
    write_json(out / "run.json", facts)
    print(f"{out}: {len(pd.read_csv(out / 'claims.csv'))} claim rows, {facts['answers']} answers")


def cmd_shards(a) -> None:
    """A model's piece from its committed campaign shards (scripts/campaign.py): the shards are concatenated
    into a scratch results tree, the stats, probe and claims stages run on it, and the piece is written."""
    from kvroute import probing
    from kvroute.metrics.consensus import routing_summary
    from kvroute.metrics.common import CELL
    from kvroute.stats import build_stats
    from kvroute.paths import STATS_FILES

    config = kvconfig.load(a.config)
    out = Path(a.out or PIECES / a.model)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        found = campaign.assemble(Path(a.shards), a.model, results)
        units = [u for u in kvconfig.study_units(config) if u in found["passages"]]
        model_dir = results / a.model
        unit_dirs = [model_dir / d / r for d, r in units]
        cat = lambda paths: pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)  # noqa: E731
        stats = config["stats"]
        tables = build_stats(cat(u / "scores.parquet" for u in unit_dirs),
                             cat(u / "metrics" / "questions.parquet" for u in unit_dirs), n_boot=stats["n_boot"],
                             n_boot_breakpoint=stats["n_boot_breakpoint"], seed=config["seed"],
                             ratio_term=stats["ratio_term"])
        for name, table in tables.items():
            write_csv(table, model_dir / "stats" / STATS_FILES[name])
        probed = [u for u in unit_dirs if (u / "probe_states.npz").exists()]
        table, states, _ = probing.load_states([str(u / "probe_states.npz") for u in probed],
                                               [str(u / "probe_rows.parquet") for u in probed])
        p = config["probing"]
        probes = probing.run_probes(table, states, n_splits=p["n_splits"], C=p["C"], seed=config["seed"],
                                    control_by=p["control_by"])
        write_csv(probes.scores, model_dir / "probe" / "probe_scores.csv")
        write_csv(probes.passages, model_dir / "probe" / "probe_passages.csv")
        for u in unit_dirs:
            layers = pd.read_parquet(u / "metrics" / "layers.parquet")
            layers = layers[layers["oracle"].astype(str).isin(["none", ""])].reset_index(drop=True)
            write_csv(routing_summary(layers, layers.drop(columns=list(CELL)).assign(row=range(len(layers))), CELL),
                      u / "metrics" / "routing.csv")
        facts_of = found["facts"]
        passages = pd.Series({f"{d}/{r}": n for (d, r), n in found["passages"].items()})
        commits = {f.get("kvroute_commit", "unknown") for f in facts_of}
        facts = {
            "command": f"python scripts/campaign.py run --model {a.model} (shards under "
                       f"{Path(a.shards).relative_to(ROOT) if Path(a.shards).is_relative_to(ROOT) else a.shards})",
            "kvroute_commit": newest_commit(commits),
            "kvroute_commits": sorted(commits),
            "answers": int(sum(f["answers"] for f in facts_of)),
            "passages_per_dataset": f"{passages.min()}" if passages.nunique() == 1 else
                                    f"{passages.min()}-{passages.max()}",
            "passages": passages.to_dict(),
            "shards": len(facts_of),
            "dtype": facts_of[0]["dtype"],
            "infer_s": round(sum(f.get("infer_s", 0) for f in facts_of)),
            "wall_s": round(sum(f.get("infer_s", 0) for f in facts_of)),
            "machine": "; ".join(sorted({f.get("machine", "unknown") for f in facts_of})) + f", {facts_of[0]['dtype']}",
            "note": a.note,
        }
        shares = [pd.read_csv(campaign.Shard(a.model, f["dataset"], f["regime"], f["index"]).folder(Path(a.shards))
                              / "sink_share.csv") for f in facts_of]
        shares = [s for s in shares if len(s.columns)]
        write_piece(results, a.model, config, a.config, units, out, facts,
                    campaign.sum_sink_shares(shares) if shares else None)


def cmd_chunks(a) -> None:
    """The chunk-length sensitivity run's piece: its breakpoints, sink shares and run facts."""
    config = kvconfig.load(a.config)
    results = Path(a.results).resolve()
    out = Path(a.out or PIECES / "chunk_length")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(results / a.model / "stats" / "breakpoint.csv", out / "breakpoint.csv")
    write_csv(chunk_sink_share(results, a.model, config), out / "sink_share.csv")
    facts = {"model": a.model, "command": a.command, "config": a.config,
             "kvroute_commit": git_commit(results.parent), "versions": versions(),
             "infer_s": job_seconds(results, a.model, "infer")} | time_facts(a.time)
    write_json(out / "run.json", facts)
    print(f"{out}: {len(pd.read_csv(out / 'breakpoint.csv'))} breakpoint rows")


SHARE_RATIOS = (0.5, 0.8, 0.9, 0.95, 0.975)


def share_table(shares: pd.DataFrame) -> str:
    """Sink share per chunk length and dataset at a few ratios."""
    sub = shares[shares["ratio"].round(3).isin(SHARE_RATIOS)]
    wide = sub.groupby(["chunk_length", "dataset", "ratio"]).apply(
        lambda g: g["kept_sinks"].sum() / g["kept"].sum(), include_groups=False).unstack("ratio")
    tokens = shares.groupby(["chunk_length", "dataset"])["tokens_mean"].mean()
    # "–": no run answered at that ratio with that chunk length (the grids differ between runs).
    rows = [[c, d, f"{tokens[(c, d)]:.0f}",
             *[f"{wide.loc[(c, d), r]:.2f}" if r in wide and np.isfinite(wide.loc[(c, d), r]) else "–"
               for r in SHARE_RATIOS]]
            for c, d in wide.index]
    return report.markdown_table(["chunk length", "dataset", "context tokens", *[f"α = {r}" for r in SHARE_RATIOS]],
                                 rows)


def per_chunk_table(lengths=(64, 256, 512, 1024), ratios=(0.9, 0.95, 0.975), n_sink: int = 4) -> str:
    """Entries a full chunk keeps (ChunkPress's own formula) and how many of them are not sinks."""
    rows = []
    for length in lengths:
        kept = [kept_per_chunk(length, r) for r in ratios]
        rows.append([length, *[f"{k} ({max(0, k - n_sink)})" for k in kept]])
    return report.markdown_table(["chunk length", *[f"α = {r}: kept (content)" for r in ratios]], rows)


def chunk_choice(config: dict | None) -> list[str]:
    """Why the replication config's chunk length: the arithmetic, stated next to the measured shares."""
    lengths = sorted({int(config["presses"][p].get("args", {}).get("chunk_length", 0))
                      for p in chunk_presses(config)}) if config else []
    chosen = ", ".join(map(str, lengths)) or "?"
    lines = [f"The replication config's chunk length is **{chosen}**. Per full chunk, ChunkPress keeps (of which "
             "content, i.e. not one of the 4 sinks):", "", per_chunk_table(), ""]
    if lengths == [512]:
        lines += ["At 64, selection above α = 0.9 is all but positional (3 entries per chunk at 0.95, all sinks); at "
                  "256 a chunk keeps 2 content entries at 0.975. Keeping at least 4 content entries per chunk at "
                  "0.975 needs a chunk of at least 320 tokens (int(320 × 0.025) = 8); 512 is the first power of two "
                  "past it. The long datasets (~700-1,550 tokens) still split into 2-4 chunks, so Chunk stays a "
                  "chunked press there; the short ones (base, knowledge_manipulation, coreference, under 320 "
                  "tokens) are one chunk at any length that keeps 4 content entries at 0.975. 1024 would leave only "
                  "hops and long_context chunked.", ""]
    return lines


def chunk_section(root: Path, found: list[Path], runs: list[dict], config: dict | None = None) -> list[str]:
    lines = ["## Chunk length", "",
             "ChunkPress keeps `max(1, int(chunk_length * (1 - α)))` entries of every chunk and ExpectedAttention ranks "
             "each chunk's first 4 tokens (sinks) first, so a short chunk at a high ratio keeps sinks and little else: "
             "selection becomes positional. The share of kept entries that are sinks (ledger, all layers and KV heads, "
             "kvroute.metrics.chunks):", ""]
    shares = [pd.read_csv(p / "sink_share.csv").assign(model=r["model"]) for p, r in zip(found, runs)
              if (p / "sink_share.csv").exists()]
    sensitivity = root / "chunk_length"
    if (sensitivity / "sink_share.csv").exists():
        shares.append(pd.read_csv(sensitivity / "sink_share.csv"))
    if shares:
        lines += [share_table(pd.concat(shares, ignore_index=True)), ""]
    lines += chunk_choice(config)
    if (sensitivity / "breakpoint.csv").exists():
        run = json.loads((sensitivity / "run.json").read_text())
        bp = pd.read_csv(sensitivity / "breakpoint.csv")
        rows = [[r["press"], r["dataset"], r["regime"], report.estimate_text(pd.Series(
            {"estimate": r["cliff_ratio"], "ci_lo": r["cliff_lo"], "ci_hi": r["cliff_hi"]})),
                 report.number(r["share_no_rise"]), r["cliff"], r.get("reason", "")] for _, r in bp.iterrows()]
        lines += [f"Sensitivity run ({run['model']}, `{run['command']}`, {minutes(run.get('wall_s'))}): the "
                  "break of the hallucination curve per chunk length, with its passage-bootstrap 95% interval and "
                  "the share of resamples that show no rise:", "",
                  report.markdown_table(["press", "dataset", "regime", "break [95% CI]", "no rise", "cliff test",
                                         "reason"], rows), ""]
    else:
        lines += ["The sensitivity run (config/chunk_sensitivity.yaml: chunk length 64, 256 and 1024 on base and "
                  "long_context) has not run yet.", ""]
    return lines


# --- assemble: the report from every piece ------------------------------------------------------------------

def pieces(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "claims.csv").exists() and (p / "run.json").exists())


def minutes(seconds) -> str:
    return "–" if seconds is None else f"{seconds / 60:.0f} min"


def runs_table(runs: list[dict]) -> str:
    rows = [[r["model"], r["family"], r.get("passages_per_dataset") or "all", r["answers"],
             minutes(r.get("wall_s")), minutes(r["infer_s"]), f"{r.get('peak_rss_gb', '–')} GB",
             r["kvroute_commit"][:7]] for r in runs]
    return report.markdown_table(["model", "family", "passages per dataset", "answers", "wall time",
                                  "of it inference", "peak memory", "kvroute commit"], rows)


def passages_table(found: list[Path], runs: list[dict]) -> str:
    """Passages behind each model's rows, per dataset and regime (from its piece's curves at ratio 0)."""
    rows = []
    for piece, run in zip(found, runs):
        curves = pd.read_csv(piece / "stats" / "curves.csv")
        zero = curves[(curves["ratio"] == 0) & (curves["dataset"] != "pooled")]
        zero = zero[zero["press"] == sorted(zero["press"].unique())[0]]
        for _, r in zero.sort_values(["regime", "dataset"]).iterrows():
            rows.append([run["model"], r["regime"], r["dataset"], int(r["n_passages"]), int(r["n"])])
    return report.markdown_table(["model", "regime", "dataset", "passages", "questions"], rows)


def baseline_table(found: list[Path], runs: list[dict]) -> str:
    """H at alpha = 0 per model, regime and dataset, with its passage-bootstrap 95% interval, and the items
    H_cond reads there: how much each model fails before any compression, against which every later rate is
    read."""
    rows = []
    for piece, run in zip(found, runs):
        curves = pd.read_csv(piece / "stats" / "curves.csv")
        zero = curves[curves["ratio"] == 0]
        zero = zero[zero["press"] == sorted(zero["press"].unique())[0]]  # one uncompressed cache per regime

        def rate(r, name):
            lo, hi = r.get(f"{name}_boot_lo"), r.get(f"{name}_boot_hi")
            ci = f" [{report.number(lo)}, {report.number(hi)}]" if report.has_interval(lo, hi) else " (–: no CI)"
            return report.number(r[f"{name}_rate"]) + ci

        for _, r in zero.sort_values(["regime", "dataset"]).iterrows():
            rows.append([run["model"], r["regime"], r["dataset"], rate(r, "hallucination"),
                         f"{int(r['n_cond'])} of {int(r['n'])}", int(r["n_passages"])])
    return report.markdown_table(["model", "regime", "dataset", "H at α = 0", "H_cond's items (correct at α = 0)",
                                  "passages"], rows)


def precision_table(frame: pd.DataFrame, models: list[str]) -> str:
    """Median 95% CI half-width of each claim's headline rows (all items), per model: what the run's size bought."""
    rows = []
    for claim in CLAIMS:
        cells = []
        for m in models:
            sub = report.headline(frame[(frame["claim"] == claim) & (frame["model"] == m) & (frame["items"] == "all")])
            sub = sub[[report.has_interval(lo, hi) for lo, hi in zip(sub["ci_lo"], sub["ci_hi"])]]
            half = (sub["ci_hi"] - sub["ci_lo"]) / 2  # only real intervals: a zero-width band is none
            cells.append(f"±{report.number(half.median())} ({report.number(sub['n'].median())})" if len(half) else
                         "– (no interval)")
        rows.append([f"**{claim}**", CLAIMS[claim].quantity, *cells])
    return report.markdown_table(["claim", "quantity", *[f"{m}: half-width (n)" for m in models]], rows)


def draw(family: str, out_png: Path, **inputs) -> None:
    """One figure through the workflow's own CLI; only its PNG is kept."""
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "figure.pdf"
        argv = [sys.executable, "-m", "kvroute", "figure", family]
        for flag, paths in inputs.items():
            argv += [f"--{flag.replace('_', '-')}", *map(str, paths)]
        subprocess.run(argv + ["--out", str(pdf)], check=True, cwd=ROOT)
        out_png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf.with_suffix(".png"), out_png)


def draw_figures(found: list[Path], runs: list[dict], figures: Path) -> list[str]:
    lines = []
    for piece, run in zip(found, runs):
        stats = piece / "stats"
        png = figures / f"safety_cliff_{run['model']}.png"
        draw("safety-cliff", png, curves=[stats / "curves.csv"], chi=[stats / "susceptibility.csv"],
             cliff=[stats / "cliff.csv"], breakpoint=[stats / "breakpoint.csv"])
        lines.append(f"![dense-grid cliff, {run['model']}](figures/{png.name})")
    oracle = [p / "stats" / "oracle.csv" for p in found if (p / "stats" / "oracle.csv").exists()]
    if oracle:
        draw("oracle", figures / "oracle.png", oracle=oracle)
        lines.append("![oracle presses against their base press](figures/oracle.png)")
    for family in sorted({r["family"] for r in runs}):
        routing = [p / "routing.csv" for p, r in zip(found, runs) if r["family"] == family]
        png = figures / f"routing_consensus_{family}.png"
        draw("routing", png, routing=routing, measure=["consensus"])
        lines.append(f"![consensus by depth, {family} family](figures/{png.name})")
    return lines


def earlier_rules_note(found: list[Path], runs: list[dict]) -> list[str]:
    """A warning above the verdicts for pieces whose claims were decided before the per-dataset passage gate
    and the jackknife (their claims.csv has no jackknife columns): their verdicts are not this report's rules'."""
    old = [r["model"] for p, r in zip(found, runs) if "jk_lo" not in pd.read_csv(p / "claims.csv", nrows=0).columns]
    if not old:
        return []
    return [f"**Decided under the earlier rules:** {', '.join(old)}. These pieces were decided on one passage per "
            "dataset before a verdict needed claims.min_passages passages in every dataset behind it and had to "
            "survive the jackknife; their claims rows carry no jackknife interval. Read their supported and "
            "contradicted cells as leads, not decisions, until each model is rerun as campaign shards "
            "(`python scripts/campaign.py run --model MODEL`).", ""]


def regimes_line(study: dict) -> str:
    """The study's regimes, then each dataset that runs others (study.dataset_regimes)."""
    own = {d: r for d, r in (study.get("dataset_regimes") or {}).items() if list(r) != list(study["regimes"])}
    return ", ".join(study["regimes"]) + "".join(f"; {d}: {', '.join(r)}" for d, r in own.items())


def cmd_assemble(a) -> None:
    root = Path(a.pieces)
    found = pieces(root)
    if not found:
        raise SystemExit(f"no pieces under {root}: run `collect` after a model's replication run")
    runs = [json.loads((p / "run.json").read_text()) for p in found]
    frame = pd.concat([pd.read_csv(p / "claims.csv") for p in found], ignore_index=True)
    frame = frame[~frame["model"].astype(str).str.startswith("(no ")]  # re-derived below, over every model
    families = {r["model"]: r["family"] for r in runs}
    unrun = [m for m in kvconfig.load(a.config)["study"]["models"] if m not in families]
    frame = report.claims_frame(frame.to_dict("records") + missing_families(families) +
                                [r for m in unrun for r in model_not_run(m, a.unrun_reason)])
    write_csv(frame, root / "claims.csv")
    config = kvconfig.load(runs[0]["config"]) if Path(ROOT / runs[0]["config"]).exists() else None
    header = {"config": runs[0]["config"], "models": ", ".join(f"{m} ({f})" for m, f in families.items())}
    if unrun:
        header["not run"] = f"{', '.join(unrun)} ({a.unrun_reason})"
    if config:
        study = config["study"]
        header |= {"datasets": ", ".join(study["datasets"]), "presses": ", ".join(study["presses"]),
                   "regimes": regimes_line(study), "ratios": ", ".join(map(str, study["ratios"]))}
    body = report.render(frame, header, list(families) + unrun)
    figure_lines = draw_figures(found, runs, Path(a.figures))
    run_lines = ["## The runs", "", "Each model ran on its own on 2 CPU cores (a campaign model as passage shards over "
                 "several sessions; its wall time is the shards' inference):", "",
                 runs_table(runs), ""]
    for r in runs:
        v = ", ".join(f"{k} {val}" for k, val in r["versions"].items())
        run_lines += [f"- **{r['model']}**: `{r['command']}`; {r['machine']}; {v}." +
                      (f" {r['note']}" if r.get("note") else "")]
    run_lines += ["", "Passages behind each model's rows:", "", passages_table(found, runs), "",
                  "Failure before any compression: H at α = 0, and how many items H_cond reads (those correct at "
                  "α = 0, where H_cond is 0 by definition):", "", baseline_table(found, runs), "",
                  "Median half-width of the 95% intervals behind each claim's verdict (all items; n is the "
                  "median number of items, answers or cells behind an estimate):", "",
                  precision_table(frame, list(families)), ""]
    extra = chunk_section(root, found, runs, config) + earlier_rules_note(found, runs)
    title, rest = body.split("\n", 1)
    text = "\n".join([title, "", rest.lstrip("\n").split("\n## Verdicts", 1)[0].rstrip(), "", *run_lines, "",
                      "## Figures", "", *figure_lines, "", *extra,
                      "## Verdicts" + rest.split("\n## Verdicts", 1)[1]])
    write_text(a.out, text)
    print(f"{a.out}: {len(frame)} claim rows, {len(found)} models")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="one model's piece: claims rows, stats tables, routing, run facts")
    c.add_argument("model")
    c.add_argument("--config", default="config/replication.yaml")
    c.add_argument("--results", default="results", help="the run's results/ folder (in the run's checkout)")
    c.add_argument("--time", nargs="+", help="GNU `time -v` output of the run (one per invocation, if resumed)")
    c.add_argument("--command", required=True, help="the command the run was, as written in the report")
    c.add_argument("--cores", type=int, default=2)
    c.add_argument("--precision", default="float32 (inference.dtype auto: no GPU, no native bf16 on this CPU)")
    c.add_argument("--note", default="", help="anything a reader should know about the run (shown in the report)")
    c.add_argument("--out", help=f"default: {PIECES.relative_to(ROOT)}/MODEL")
    c.set_defaults(func=cmd_collect)
    h = sub.add_parser("shards", help="one model's piece from its committed campaign shards (scripts/campaign.py)")
    h.add_argument("model")
    h.add_argument("--config", default="config/replication.yaml")
    h.add_argument("--shards", default=str(ROOT / campaign.SHARDS), help="the folder holding MODEL/shards/")
    h.add_argument("--note", default="", help="anything a reader should know about the run (shown in the report)")
    h.add_argument("--out", help=f"default: {PIECES.relative_to(ROOT)}/MODEL")
    h.set_defaults(func=cmd_shards)
    k = sub.add_parser("chunks", help="the chunk-length sensitivity run's piece (config/chunk_sensitivity.yaml)")
    k.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    k.add_argument("--config", default="config/chunk_sensitivity.yaml")
    k.add_argument("--results", default="results")
    k.add_argument("--time", nargs="+")
    k.add_argument("--command", required=True)
    k.add_argument("--out", help=f"default: {PIECES.relative_to(ROOT)}/chunk_length")
    k.set_defaults(func=cmd_chunks)
    s = sub.add_parser("assemble", help="docs/replication.md and docs/figures/*.png from every piece")
    s.add_argument("--pieces", default=str(PIECES))
    s.add_argument("--config", default="config/replication.yaml",
                   help="the study whose models the report covers: a model without a piece is listed as not run")
    s.add_argument("--unrun-reason", default="no committed run on this machine yet",
                   help="the reason shown for a study model without a piece")
    s.add_argument("--out", default=str(ROOT / "docs" / "replication.md"))
    s.add_argument("--figures", default=str(ROOT / "docs" / "figures"))
    s.set_defaults(func=cmd_assemble)
    a = p.parse_args(argv)
    a.func(a)


if __name__ == "__main__":
    main()
