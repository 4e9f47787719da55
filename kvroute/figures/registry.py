"""Every figure family, declared once.

A family names its plot function, the artifacts it reads (input kinds), its
options (schema-validated under ``figures.<key>`` in the config, defaults in
the schema only) and where it sits in the HTML report. From this table come
the Snakemake rules (rules/figures.smk), the ``FIGURES`` target list and the
``python -m kvroute figure FAMILY`` subcommands.

Adding a figure = one ``Family`` below + one plot function (+ a caption in
report/). The plot function is called as ``plot(**frames, out_pdf=PATH,
**options)``, with one DataFrame per input kind.

This module is imported by the Snakefile: it must stay free of pandas,
matplotlib and torch at import time.
"""

from __future__ import annotations

import importlib
import itertools
import shlex
from dataclasses import dataclass, field

from kvroute.config import study_units
from kvroute.paths import INFER_FILES, LEADERBOARD_FILES, METRICS_FILES, UNIT, probe_file, stats_file

# Input kinds: every artifact a figure may read, by the name the plot function takes.
KINDS = {
    **{kind: f"{UNIT}/metrics/{METRICS_FILES[kind]}"
       for kind in ("answers", "eviction", "routing", "questions", "reachability")},
    "ledger": f"{UNIT}/{INFER_FILES['ledger']}",
    "evidence": f"{UNIT}/{INFER_FILES['predictions']}",
    **{kind: stats_file(kind) for kind in ("curves", "chi", "cliff", "breakpoint", "erasure", "oracle")},
    "verdict": stats_file("ger"),
    **{f"probe_{kind}": probe_file(kind) for kind in ("scores", "tags", "drift")},
    "leaderboard": LEADERBOARD_FILES["table"],  # every model's, in one file
}
# Per-answer kinds that hold oracle-press rows beside the grid's: read with the columns that tell them
# apart (when the file has them), so the plot functions can keep base rows only (kvroute.frames).
ORACLE_KEYS = {"questions": ("oracle",), "evidence": ("oracle",), "ledger": ("oracle", "qid")}

# Metric names users write (config, CLI) -> the answers.csv column they mean.
METRIC_COLUMNS = {"f1": "f1_mean", "recall": "recall_mean", "correct": "correct_rate",
                  "hallucination": "hallucination_rate", "unknown": "unknown_rate",
                  "hallucination_cond": "hallucination_cond_rate"}


@dataclass(frozen=True)
class Input:
    kind: str  # a key of KINDS
    arg: str | None = None  # the plot function's keyword, CLI flag and rule input name (default: kind)
    required: bool = True
    columns: tuple[str, ...] | None = None  # parquet columns to read (None: all)

    @property
    def name(self) -> str:
        return self.arg or self.kind


@dataclass(frozen=True)
class Family:
    name: str  # CLI subcommand, e.g. "safety-cliff"
    title: str  # one line for --help
    plot: str  # "module:function" under kvroute.figures, imported only when drawing
    inputs: tuple[Input, ...]
    output: str  # PDF path; {option} / {dataset} make one figure per value
    category: str  # HTML report section
    subcategory: str | None = None
    caption: str | None = None  # report/<caption>.rst (default: the family's key)
    options: tuple[str, ...] = ()  # keys of figures.<key> passed to the plot function
    one_unit: bool = False  # reads one dataset x regime, chosen by options dataset/regime
    empty_ok: bool = False  # nothing to draw gives a placeholder figure instead of a failure
    needs_generator: str | None = None  # drawn only when a dataset of this generator is studied
    min_presses: int = 0  # drawn with `rule all` only when the study has this many presses (its own rule: always)
    convert: dict = field(default_factory=dict)  # option -> function applied before plotting

    @property
    def key(self) -> str:
        """The family's name in the config (figures.<key>), rule names and captions."""
        return self.name.replace("-", "_")

    @property
    def per_value(self) -> list[str]:
        """Options whose every configured value is its own figure ({option} in the output)."""
        return [o for o in self.options if "{" + o + "}" in self.output]


def _metric(name: str) -> str:
    return METRIC_COLUMNS.get(name, name)


METRIC = {"metric": _metric}

FAMILIES = (
    Family("safety-cliff", "hallucination and unknown rates, GER and chi with the cliff",
           "safety_cliff:plot_safety_cliff",
           (Input("curves"), Input("chi"), Input("cliff"), Input("breakpoint", required=False), Input("eviction", required=False)),
           "figures/safety_cliff.pdf", "1 Safety cliff"),
    Family("performance", "task performance vs ratio per dataset",
           "performance:plot_performance", (Input("answers"),),
           "figures/performance_{metric}.pdf", "2 Task performance", "by dataset", options=("metric",),
           convert=METRIC),
    Family("direction", "forward vs reverse questions",
           "performance:plot_direction", (Input("answers"),), "figures/direction.pdf",
           "2 Task performance", "forward vs reverse", options=("metric",), empty_ok=True, convert=METRIC),
    Family("hops", "per-hop performance (multi-hop datasets)",
           "performance:plot_hops", (Input("answers"),), "figures/hops.pdf", "2 Task performance",
           "hops", options=("metric",), empty_ok=True, needs_generator="hops", convert=METRIC),
    Family("tags", "answer-type / question-type tags vs ratio, one dataset",
           "tags:plot_tags", (Input("answers"),), "figures/tags/{dataset}_{tag_kind}.pdf", "3 Tags",
           "{tag_kind}", options=("tag_kind", "metric"), empty_ok=True, convert=METRIC),
    Family("routing", "layer-wise routing consensus at chosen compression levels",
           "routing:plot_consensus", (Input("routing"),), "figures/routing_{measure}.pdf",
           "4 Routing", "{measure}", options=("measure", "targets")),
    Family("eviction-map", "kept-position maps of one passage",
           "eviction_maps:plot_eviction_maps",
           (Input("ledger"), Input("evidence", columns=("passage_id", "qid", "evidence_positions"))),
           "figures/eviction_maps.pdf", "5 Eviction", caption="eviction_maps",
           options=("ratios", "passage_id", "qid"), one_unit=True),
    Family("eviction-rates", "eviction rate, GER and GER over its null",
           "errors:plot_eviction_rates", (Input("eviction"),), "figures/eviction_rates.pdf",
           "5 Eviction"),
    Family("error-rates", "hallucination and unknown rates per dataset",
           "errors:plot_error_rates", (Input("answers"),), "figures/error_rates.pdf",
           "6 Errors and GER"),
    Family("susceptibility", "chi = dH/dalpha with the cliff",
           "errors:plot_susceptibility", (Input("chi"), Input("cliff")),
           "figures/susceptibility.pdf", "6 Errors and GER"),
    Family("ger", "GER vs hallucination per cell, with the item-level verdict",
           "ger:plot_ger",
           (Input("questions", columns=("model", "regime", "press", "ratio", "ger", "error_class")),
            Input("verdict", required=False)),
           "figures/ger_hallucination.pdf", "6 Errors and GER", caption="ger_hallucination"),
    Family("probe-tags", "per-tag probe F1 with the control task",
           "probing:plot_probe_tags", (Input("probe_tags", "tags"), Input("probe_scores", "scores")),
           "figures/probe_tags.pdf", "7 Probing", options=("dataset", "layer")),
    Family("probe-drift", "accessibility drift of the ratio-0 probe",
           "probing:plot_probe_drift", (Input("probe_drift", "drift"), Input("probe_scores", "scores", required=False)),
           "figures/probe_drift.pdf", "7 Probing", options=("dataset",)),
    Family("erasure", "Pr(E), Pr(F|E), Pr(F|not E) vs ratio",
           "erasure:plot_erasure", (Input("erasure"),), "figures/erasure.pdf",
           "8 Erasure and reachability"),
    Family("reachability", "evidence reachability vs ratio",
           "erasure:plot_reachability", (Input("reachability"),), "figures/reachability.pdf",
           "8 Erasure and reachability", options=("column",), empty_ok=True),
    Family("oracle", "H and H_cond of the oracle presses (protect, target, placebo, diluted) vs their base press",
           "oracle:plot_oracle", (Input("oracle"),), "figures/oracle.pdf", "8 Erasure and reachability",
           "oracle presses", empty_ok=True),
    # A ranking needs presses to rank: with one or two, every other figure already sets them side by side,
    # so `rule all` draws it from three presses on (`snakemake leaderboard` draws it for any study).
    Family("leaderboard", "every studied press ranked by F1 retained, beside H, GER, evidence eviction, rise "
                          "removed and AUC", "leaderboard:plot_leaderboard", (Input("leaderboard"),),
           "figures/leaderboard.pdf", "10 Press leaderboard", min_presses=3),
)
BY_NAME = {f.name: f for f in FAMILIES}


def family(name: str) -> Family:
    if name not in BY_NAME:
        raise ValueError(f"unknown figure family {name!r}; allowed values: {', '.join(BY_NAME)}")
    return BY_NAME[name]


# --- the workflow's view: which figures a study draws, and from which files ---------------------------

def studied(fam: Family, config: dict) -> bool:
    if len(config["study"]["presses"]) < fam.min_presses:
        return False
    if fam.needs_generator is None:
        return True
    specs = config["datasets"]
    return any(specs[d].get("generator", d) == fam.needs_generator for d in config["study"]["datasets"])


def targets(config: dict) -> list[str]:
    """Every figure PDF the study in ``config`` draws (its PNG comes with it)."""
    out = []
    for fam in FAMILIES:
        if not studied(fam, config):
            continue
        values = {o: config["figures"][fam.key][o] for o in fam.per_value}
        if "{dataset}" in fam.output:
            values["dataset"] = config["study"]["datasets"]
        for combo in itertools.product(*values.values()):
            out.append(fam.output.format(**dict(zip(values, combo))))
    return out


def _options(fam: Family, config: dict) -> dict:
    """The family's ``figures.<key>`` section; a family without options may have none in the config."""
    return config["figures"].get(fam.key, {})


def unit_of(fam: Family, config: dict) -> tuple[str, str]:
    """The (dataset, regime) a one-unit family reads: the configured one, else the first studied."""
    opts, units = _options(fam, config), study_units(config)
    dataset = opts.get("dataset") or units[0][0]
    # A dataset the study does not run ("all": the probes' pooled rows) reads the first studied regime.
    return dataset, opts.get("regime") or next((r for d, r in units if d == dataset), units[0][1])


def input_files(fam: Family, config: dict) -> dict[str, list[str]]:
    """Rule inputs: each kind's files over the study's models x units, the family's own wildcards left open."""
    units = [unit_of(fam, config)] if fam.one_unit else study_units(config)
    open_wildcards = {"dataset": "{dataset}"} if "{dataset}" in fam.output else {}  # one figure per dataset
    if open_wildcards:
        # A per-dataset figure reads, for any dataset, the regimes every dataset runs.
        shared = [r for r in dict.fromkeys(r for _, r in units) if all((d, r) in units for d, _ in units)]
        units = [("{dataset}", r) for r in shared]
    combos = [{"model": m, "dataset": d, "regime": r} for m in config["study"]["models"] for d, r in units]
    files = {}
    for inp in fam.inputs:
        pattern = KINDS[inp.kind]
        used = [a for a in ("model", "dataset", "regime") if "{" + a + "}" in pattern and a not in open_wildcards]
        keys = dict.fromkeys(tuple(c[a] for a in used) for c in combos)  # distinct, in study order
        files[inp.name] = [pattern.format(**open_wildcards, **dict(zip(used, key))) for key in keys]
    return files


def option_values(fam: Family, config: dict) -> dict:
    """Options that are the same for every figure of the family (per-value ones come from wildcards)."""
    opts = _options(fam, config)
    return {o: opts[o] for o in fam.options if o not in fam.per_value}


def command_arguments(fam: Family, config: dict):
    """A Snakemake params function: the figure command's arguments for one job, shell-quoted.

    Built per family (a closure), because a rule defined in a loop would
    otherwise read the loop variable when the job runs, not when it was defined.
    """
    fixed = []
    for name, value in option_values(fam, config).items():
        if value is not None:  # null: the plot function's own default
            fixed += [f"--{name.replace('_', '-')}", *map(str, value if isinstance(value, list) else [value])]
    if fam.empty_ok:
        fixed.append("--placeholder-if-empty")
    open_options = [*fam.per_value, *(["dataset"] if "{dataset}" in fam.output else [])]

    def arguments(wildcards, input) -> str:
        words = []
        for inp in fam.inputs:
            words += [f"--{inp.name.replace('_', '-')}", *getattr(input, inp.name)]
        for name in open_options:
            words += [f"--{name.replace('_', '-')}", getattr(wildcards, name)]
        return shlex.join(words + fixed)

    return arguments


# --- drawing ---------------------------------------------------------------------------------------

def plot_function(fam: Family):
    module, func = fam.plot.split(":")
    return getattr(importlib.import_module(f"kvroute.figures.{module}"), func)


def _parquet_columns(path: str, columns, optional) -> list[str] | None:
    """``columns`` plus those of ``optional`` the file has (None: every column)."""
    if not columns:
        return None
    import pyarrow.parquet as pq

    have = set(pq.read_schema(path).names)
    return [*columns, *(c for c in optional if c in have and c not in columns)]


def read_frames(paths, columns=None, optional=()):
    """Concatenate CSV / parquet files (by suffix) into one DataFrame; ``optional`` parquet columns are
    read beside ``columns`` where a file has them."""
    import pandas as pd

    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("no input files")
    return pd.concat([pd.read_parquet(p, columns=_parquet_columns(p, columns, optional)) if p.endswith(".parquet")
                      else pd.read_csv(p) for p in paths], ignore_index=True)


def draw(fam: Family, files: dict[str, list[str]], out_pdf, options: dict, placeholder_if_empty: bool = False):
    """Read the family's inputs, call its plot function; a NoData gives a placeholder if allowed."""
    from kvroute.figures.common import NoData, placeholder

    frames = {inp.name: read_frames(files[inp.name], inp.columns, ORACLE_KEYS.get(inp.kind, ()))
              for inp in fam.inputs if files.get(inp.name)}
    options = {k: fam.convert.get(k, lambda v: v)(v) for k, v in options.items()}
    try:
        return plot_function(fam)(**frames, out_pdf=out_pdf, **options)
    except NoData as err:
        if not placeholder_if_empty:
            raise
        return placeholder(out_pdf, str(err))
