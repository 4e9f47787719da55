"""Answers, metrics, probes, statistics and the claims report: score, metrics, probe, stats, leaderboard, claims."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _cat_parquet(paths):
    import pandas as pd

    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


def cmd_score(a):
    from kvroute.io import write_parquet
    from kvroute.scoring import score_predictions

    scored = score_predictions(_cat_parquet(a.predictions), threshold=a.threshold, tokenizer=a.tokenizer)
    write_parquet(scored, a.out)


def cmd_metrics(a):
    import numpy as np
    import pandas as pd

    from kvroute.io import write_csv, write_parquet
    from kvroute.metrics import build_metrics
    from kvroute.metrics.build import OUTPUTS

    routing = None
    if a.routing:
        with np.load(a.routing) as z:
            routing = {k: z[k] for k in z.files}
    tables = build_metrics(pd.read_parquet(a.scores), pd.read_parquet(a.ledger), routing)
    missing = int((~tables["questions"]["ledger_found"]).sum())
    if missing:
        log.warning("%d answer rows have no ledger entry; their eviction metrics are NaN", missing)
    out = Path(a.out_dir)
    for key, name in OUTPUTS.items():
        (write_parquet if name.endswith(".parquet") else write_csv)(tables[key], out / name)


def cmd_probe(a):
    from kvroute import probing
    from kvroute.io import write_csv
    from kvroute.paths import PROBE_FILES

    table, states, question_only = probing.load_states(a.hidden, a.scores or a.predictions)
    if question_only is None:
        log.warning("hidden.npz has no question_only states: the question-only baseline is NaN")
    if "error_class" not in table:
        log.warning("unscored predictions (pass --scores): no answer-correctness probe")
    scores, tags, passages = probing.run_probes(table, states, n_splits=a.n_splits, C=a.C, seed=a.seed,
                                      control_by=a.control_by, by_dataset=not a.pooled_only,
                                      question_only=question_only)
    drift = probing.drift_probes(table, states, n_splits=a.n_splits, C=a.C, seed=a.seed,
                                 by_dataset=not a.pooled_only)
    out = Path(a.out_dir)
    for name, table in (("scores", scores), ("tags", tags), ("drift", drift), ("passages", passages)):
        write_csv(table, out / PROBE_FILES[name])


def cmd_stats(a):
    from kvroute.io import write_csv
    from kvroute.stats import build_stats

    from kvroute.paths import STATS_FILES

    tables = build_stats(_cat_parquet(a.scores), _cat_parquet(a.questions), n_boot=a.n_boot,
                         n_boot_breakpoint=a.n_boot_breakpoint, seed=a.seed, ratio_term=a.ratio_term)
    for name, table in tables.items():
        write_csv(table, Path(a.out_dir) / STATS_FILES[name])


def _read_columns(paths, wanted):
    """The ``wanted`` columns each parquet file has, concatenated (questions tables are wide)."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames = []
    for path in paths:
        have = set(pq.read_schema(path).names)
        frames.append(pd.read_parquet(path, columns=[c for c in wanted if c in have]))
    return pd.concat(frames, ignore_index=True)


def cmd_leaderboard(a):
    from kvroute.io import write_csv
    from kvroute.stats.leaderboard import OPTIONAL, REQUIRED, leaderboard_table
    from kvroute.stats.ranking import rank_table

    long = leaderboard_table(_read_columns(a.questions, [*REQUIRED, *OPTIONAL]), at_ratio=a.at_ratio,
                             n_boot=a.n_boot, seed=a.seed, n_boot_breakpoint=a.n_boot_breakpoint)
    write_csv(long, a.out)
    if a.summary:
        write_csv(rank_table(long), a.summary)


def _pairs(items, flag: str) -> dict[str, str]:
    """KEY=VALUE arguments as a dict, in the order given."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{flag} takes KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _report_header(a, families: dict, generators: dict) -> dict[str, str]:
    import json

    study = json.loads(a.study) if a.study else {}
    header = {"config": ", ".join(a.configfiles) or "(not given)",
              "models": ", ".join(f"{m} ({f})" for m, f in families.items()),
              "datasets": ", ".join(d if g == d else f"{d} ({g})" for d, g in generators.items()) or "(not given)"}
    for key in ("presses", "regimes", "ratios"):
        if key in study:
            header[key] = ", ".join(map(str, study[key]))
    if study.get("oracle"):
        header["oracle"] = f"{', '.join(study['oracle']['presses'])} at {study['oracle']['ratios']}, " \
                           f"{', '.join(study['oracle']['regimes'])}"
    header["intervals"] = (f"95%, {a.n_boot} passage resamples ({a.n_boot_breakpoint} for the breakpoint), "
                           f"seed {a.seed}; a verdict needs {a.min_passages} passages in every dataset behind it")
    return header


def cmd_claims(a):
    from kvroute.claims import Settings, build_claims, render
    from kvroute.io import write_csv, write_text

    families, generators = _pairs(a.families, "--families"), _pairs(a.generators, "--generators")
    stats_files = {"breakpoint": a.breakpoint, "ger": a.ger, "ger_item": a.ger_item, "rigidity": a.rigidity,
                   "oracle": a.oracle, "probe": a.probe, "probe_passages": a.probe_passages}
    settings = Settings(n_boot=a.n_boot, n_boot_breakpoint=a.n_boot_breakpoint, seed=a.seed,
                        min_passages=a.min_passages, generators=generators)
    frame = build_claims(a.questions, a.layers, stats_files, families, settings)
    write_csv(frame, a.out)
    write_text(a.report, render(frame, _report_header(a, families, generators), list(families)))


def add_parsers(sub) -> None:
    from kvroute.config import default, schema_at

    s = sub.add_parser("score", help="token F1, gold recall and error class per answer")
    s.add_argument("--predictions", nargs="+", required=True)
    s.add_argument("--threshold", type=float, default=default("scoring.threshold"))
    s.add_argument("--tokenizer", default=default("scoring.match_tokenizer"))
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("metrics", help="answer, eviction (GER), routing and erasure tables for one unit")
    s.add_argument("--scores", required=True, help="scores.parquet of one model x dataset x regime")
    s.add_argument("--ledger", required=True)
    s.add_argument("--routing", help="routing.npz (optional: routing tables come out empty without it)")
    s.add_argument("--out-dir", required=True, help="writes questions.parquet, layers.parquet and *.csv")
    s.set_defaults(func=cmd_metrics)

    s = sub.add_parser("probe", help="answer-type and correctness probes with baselines and accessibility drift")
    s.add_argument("--hidden", nargs="+", required=True)
    rows = s.add_mutually_exclusive_group(required=True)
    rows.add_argument("--scores", nargs="+", help="scores.parquet per hidden.npz (gives the correctness probe)")
    rows.add_argument("--predictions", nargs="+", help="predictions.parquet per hidden.npz (answer type only)")
    s.add_argument("--n-splits", type=int, default=default("probing.n_splits"),
                   help="passage-disjoint folds (fewer if fewer passages)")
    s.add_argument("--C", type=float, default=default("probing.C"))
    s.add_argument("--seed", type=int, default=default("seed"))
    s.add_argument("--control-by", choices=schema_at("probing.control_by")["enum"],
                   default=default("probing.control_by"))
    s.add_argument("--pooled-only", action="store_true", help="only dataset 'all', no per-dataset probes")
    s.add_argument("--out-dir", required=True, help="writes probe_scores.csv, probe_tags.csv, probe_drift.csv and "
                                                    "probe_passages.csv there (kvroute/paths.py)")
    s.set_defaults(func=cmd_probe)

    s = sub.add_parser("stats", help="curves, cliff, breakpoint, GER-hallucination, rigidity, McNemar, tag tests, "
                                     "oracle presses, evidence predictors; per dataset and pooled")
    s.add_argument("--scores", nargs="+", required=True)
    s.add_argument("--questions", nargs="+", required=True, help="metrics/questions.parquet files")
    s.add_argument("--n-boot", type=int, default=default("stats.n_boot"))
    s.add_argument("--n-boot-breakpoint", type=int, default=default("stats.n_boot_breakpoint"),
                   help="passage resamples for the breakpoint's CI (0: none)")
    s.add_argument("--seed", type=int, default=default("seed"))
    s.add_argument("--ratio-term", choices=schema_at("stats.ratio_term")["enum"], default=default("stats.ratio_term"))
    s.add_argument("--out-dir", required=True, help="writes every table there (file names: kvroute/paths.py)")
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser("leaderboard", help="every press ranked by F1 retained at one ratio, beside H, H_cond, its "
                                           "break, GER, evidence eviction, enrichment, rise removed and AUC")
    s.add_argument("--questions", nargs="+", required=True,
                   help="metrics/questions.parquet of every model x dataset x regime (oracle rows too)")
    s.add_argument("--at-ratio", type=float, default=default("leaderboard.at_ratio"),
                   help="the ratio presses are ranked at (config leaderboard.at_ratio); must be in the tables")
    s.add_argument("--n-boot", type=int, default=default("stats.n_boot"))
    s.add_argument("--n-boot-breakpoint", type=int, default=default("stats.n_boot_breakpoint"),
                   help="passage resamples for the break's CI (0: none)")
    s.add_argument("--seed", type=int, default=default("seed"))
    s.add_argument("--out", required=True, help="the long table (results/leaderboard.csv)")
    s.add_argument("--summary", help="the ranked wide table, one row per press (results/leaderboard_summary.csv)")
    s.set_defaults(func=cmd_leaderboard)

    s = sub.add_parser("claims", help="a verdict on each of the paper's claims C1-C14 per model: claims.csv and "
                                      "the Markdown replication report")
    s.add_argument("--questions", nargs="+", required=True,
                   help="metrics/questions.parquet of every model x dataset x regime")
    s.add_argument("--layers", nargs="*", default=[], help="metrics/layers.parquet files (per-layer consensus, C9)")
    for name, what in (("breakpoint", "stats/breakpoint.csv"), ("ger", "stats/ger_hallucination.csv"),
                       ("ger-item", "stats/ger_item_model.csv"), ("rigidity", "stats/rigidity.csv"),
                       ("oracle", "stats/oracle.csv"), ("probe", "probe/probe_scores.csv"),
                       ("probe-passages", "probe/probe_passages.csv")):
        s.add_argument(f"--{name}", nargs="*", default=[], help=f"{what} of every model")
    s.add_argument("--families", nargs="+", required=True, metavar="MODEL=FAMILY",
                   help="the models to report, in order, with their family (config models.X.family)")
    s.add_argument("--generators", nargs="*", default=[], metavar="DATASET=GENERATOR",
                   help="each studied dataset's generator (config datasets.X.generator, default its name)")
    s.add_argument("--n-boot", type=int, default=default("stats.n_boot"))
    s.add_argument("--n-boot-breakpoint", type=int, default=default("stats.n_boot_breakpoint"),
                   help="passage resamples for the H_cond breakpoint's CI (0: none)")
    s.add_argument("--seed", type=int, default=default("seed"))
    s.add_argument("--min-passages", type=int, default=default("claims.min_passages"),
                   help="passages needed in every dataset behind a passage-bootstrap verdict")
    s.add_argument("--configfiles", nargs="*", default=[], help="config files of the run (report header)")
    s.add_argument("--study", help="the config's study section as JSON (report header)")
    s.add_argument("--out", required=True, help="claims.csv")
    s.add_argument("--report", required=True, help="replication.md")
    s.set_defaults(func=cmd_claims)
