"""Figure and table subcommands for ``python -m kvroute``.

kvroute/cli.py registers them with ``add_parsers(sub)``; this module also
runs on its own: ``python -m kvroute.figures_cli figure performance ...``.

    kvroute figure FAMILY [inputs] --out figures/NAME.pdf   (writes NAME.png beside it)
    kvroute tables --dataset-stats ... --answers ... --table1-csv ... ...

Each command reads files, calls one plotting function of kvroute.figures
and writes atomically.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

METRIC_ALIASES = {"f1": "f1_mean", "recall": "recall_mean", "correct": "correct_rate",
                  "hallucination": "hallucination_rate", "unknown": "unknown_rate"}


def _read(paths, columns=None):
    """Concatenate CSV / parquet files (by suffix)."""
    import pandas as pd

    frames = []
    for p in paths:
        p = str(p)
        frames.append(pd.read_parquet(p, columns=columns) if p.endswith(".parquet") else pd.read_csv(p))
    if not frames:
        raise ValueError("no input files")
    return pd.concat(frames, ignore_index=True)


def _metric(name: str) -> str:
    return METRIC_ALIASES.get(name, name)


def cmd_safety_cliff(a):
    from kvroute.figures.safety_cliff import plot_safety_cliff, pool_ger

    ger = pool_ger(_read(a.eviction)) if a.eviction else None
    bp = _read(a.breakpoint) if a.breakpoint else None
    plot_safety_cliff(_read(a.curves), _read(a.chi), _read(a.cliff), a.out, ger_df=ger, breakpoint_df=bp)


def cmd_performance(a):
    from kvroute.figures.performance import plot_performance

    plot_performance(_read(a.answers), a.out, metric=_metric(a.metric))


def _or_placeholder(a, draw):
    """Draw; with --placeholder-if-empty, input that holds nothing to show gives a figure saying so."""
    from kvroute.figures.common import NoData, placeholder

    try:
        draw()
    except NoData as err:
        if not a.placeholder_if_empty:
            raise
        log.warning("%s: %s; writing a placeholder", a.out, err)
        placeholder(a.out, str(err))


def cmd_direction(a):
    from kvroute.figures.performance import plot_direction

    _or_placeholder(a, lambda: plot_direction(_read(a.answers), a.out, metric=_metric(a.metric)))


def cmd_hops(a):
    from kvroute.figures.performance import plot_hops

    _or_placeholder(a, lambda: plot_hops(_read(a.answers), a.out, metric=_metric(a.metric)))


def cmd_tags(a):
    from kvroute.figures.tags import plot_tags

    _or_placeholder(a, lambda: plot_tags(_read(a.answers), a.out, dataset=a.dataset, tag_kind=a.tag_kind,
                                         metric=_metric(a.metric)))


def cmd_error_rates(a):
    from kvroute.figures.errors import plot_error_rates

    plot_error_rates(_read(a.answers), a.out)


def cmd_eviction_rates(a):
    from kvroute.figures.errors import plot_eviction_rates

    plot_eviction_rates(_read(a.eviction), a.out)


def cmd_susceptibility(a):
    from kvroute.figures.errors import plot_susceptibility

    plot_susceptibility(_read(a.chi), _read(a.cliff), a.out)


def cmd_routing(a):
    from kvroute.figures.routing import plot_consensus

    plot_consensus(_read(a.routing), a.out, targets=a.targets, measure=a.measure)


def cmd_eviction_map(a):
    from kvroute.figures.eviction_maps import EVIDENCE_COLS, plot_eviction_maps

    plot_eviction_maps(_read(a.ledger), _read(a.predictions, columns=EVIDENCE_COLS), a.out,
                       passage_id=a.passage, qid=a.qid, ratios=a.ratios)


def cmd_ger(a):
    from kvroute.figures.ger import ger_cells, plot_ger_hallucination

    cells = ger_cells(_read(a.questions, columns=["model", "regime", "press", "ratio", "ger", "error_class"]))
    plot_ger_hallucination(cells, _read(a.verdict) if a.verdict else None, a.out)


def cmd_probe_tags(a):
    from kvroute.figures.probing import plot_probe_tags

    plot_probe_tags(_read(a.tags), _read(a.scores), a.out, dataset=a.dataset, layer=a.layer)


def cmd_probe_drift(a):
    from kvroute.figures.probing import plot_probe_drift

    plot_probe_drift(_read(a.drift), a.out, scores=_read(a.scores) if a.scores else None, dataset=a.dataset)


def cmd_erasure(a):
    from kvroute.figures.erasure import plot_erasure

    plot_erasure(_read(a.erasure), a.out)


def cmd_reachability(a):
    from kvroute.figures.erasure import plot_reachability

    _or_placeholder(a, lambda: plot_reachability(_read(a.reachability), a.out, column=a.column))


def cmd_tables(a):
    from kvroute.tables import write_tables

    write_tables(_read([a.dataset_stats]), _read(a.answers), a.table1_csv, a.table1_tex, a.table2_csv,
                 a.table2_tex, agg=a.agg, metric=_metric(a.metric))


def _fig(figs, name: str, func, help: str):
    s = figs.add_parser(name, help=help)
    s.add_argument("--out", required=True, help="PDF path; a PNG is written beside it")
    s.set_defaults(func=func)
    return s


def add_parsers(sub) -> None:
    """Register the 'figure' (with one sub-subcommand per family) and 'tables' subcommands."""
    f = sub.add_parser("figure", help="draw one figure family (PDF + PNG)")
    figs = f.add_subparsers(dest="figure", required=True)
    metric = dict(default="f1", help="f1, recall, correct, hallucination or unknown")
    empty = "if the input holds nothing to draw (e.g. no hop tags), write a figure saying so instead of failing"

    s = _fig(figs, "safety-cliff", cmd_safety_cliff, "hallucination/unknown rates, GER and chi with the cliff")
    s.add_argument("--curves", nargs="+", required=True, help="stats/curves.csv")
    s.add_argument("--chi", nargs="+", required=True, help="stats/susceptibility.csv")
    s.add_argument("--cliff", nargs="+", required=True, help="stats/cliff.csv")
    s.add_argument("--eviction", nargs="*", help="metrics/eviction.csv (GER on a twin axis)")
    s.add_argument("--breakpoint", nargs="*", help="stats/breakpoint.csv (breakpoint-test cliff)")

    for name, func, hlp in (("performance", cmd_performance, "task performance vs ratio per dataset"),
                            ("direction", cmd_direction, "forward vs reverse questions"),
                            ("hops", cmd_hops, "per-hop performance (multi-hop datasets)")):
        s = _fig(figs, name, func, hlp)
        s.add_argument("--answers", nargs="+", required=True, help="metrics/answers.csv")
        s.add_argument("--metric", **metric)
        if name != "performance":
            s.add_argument("--placeholder-if-empty", action="store_true", help=empty)

    s = _fig(figs, "tags", cmd_tags, "answer-type / question-type tags vs ratio for one dataset")
    s.add_argument("--answers", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tag-kind", default="answer_type", choices=["answer_type", "question_type", "direction", "hop"])
    s.add_argument("--metric", **metric)
    s.add_argument("--placeholder-if-empty", action="store_true", help=empty)

    s = _fig(figs, "error-rates", cmd_error_rates, "hallucination and unknown rates per dataset")
    s.add_argument("--answers", nargs="+", required=True)

    s = _fig(figs, "eviction-rates", cmd_eviction_rates, "eviction rate, GER and GER over its null")
    s.add_argument("--eviction", nargs="+", required=True, help="metrics/eviction.csv")

    s = _fig(figs, "susceptibility", cmd_susceptibility, "chi = dH/dalpha with the cliff")
    s.add_argument("--chi", nargs="+", required=True)
    s.add_argument("--cliff", nargs="+", required=True)

    s = _fig(figs, "routing", cmd_routing, "layer-wise routing consensus at chosen compression levels")
    s.add_argument("--routing", nargs="+", required=True, help="metrics/routing.csv")
    s.add_argument("--targets", nargs="+", type=float, default=[0.1, 0.5, 0.9],
                   help="compression levels; the nearest grid ratios are drawn")
    s.add_argument("--measure", default="consensus", choices=["consensus", "rho", "on_answer", "answer_mass"])

    s = _fig(figs, "eviction-map", cmd_eviction_map, "kept-position maps of one passage")
    s.add_argument("--ledger", nargs="+", required=True, help="ledger.parquet (one dataset and regime)")
    s.add_argument("--predictions", nargs="+", required=True, help="predictions.parquet (evidence positions)")
    s.add_argument("--passage", help="passage id (default: the first)")
    s.add_argument("--qid", help="question whose evidence span is outlined (default: the passage's first)")
    s.add_argument("--ratios", nargs="+", type=float, default=[0.1, 0.9])

    s = _fig(figs, "ger", cmd_ger, "GER vs hallucination per cell, with the item-level verdict")
    s.add_argument("--questions", nargs="+", required=True, help="metrics/questions.parquet")
    s.add_argument("--verdict", nargs="*", help="stats/ger_hallucination.csv")

    s = _fig(figs, "probe-tags", cmd_probe_tags, "per-tag probe F1 with the control task")
    s.add_argument("--tags", nargs="+", required=True, help="probe/probe_tags.csv")
    s.add_argument("--scores", nargs="+", required=True, help="probe/probe_scores.csv")
    s.add_argument("--dataset", default="all", help="'all' (pooled probes) or one dataset")
    s.add_argument("--layer", default="last", help="'last', 'first' or a layer index")

    s = _fig(figs, "probe-drift", cmd_probe_drift, "accessibility drift of the ratio-0 probe")
    s.add_argument("--drift", nargs="+", required=True, help="probe/probe_drift.csv")
    s.add_argument("--scores", nargs="*", help="probe/probe_scores.csv (retrained probes, for reference)")
    s.add_argument("--dataset", default="all")

    s = _fig(figs, "erasure", cmd_erasure, "Pr(E), Pr(F|E), Pr(F|not E) vs ratio")
    s.add_argument("--erasure", nargs="+", required=True, help="stats/erasure.csv")

    s = _fig(figs, "reachability", cmd_reachability, "evidence reachability vs ratio")
    s.add_argument("--reachability", nargs="+", required=True)
    s.add_argument("--column", help="the reachability column (default: reachable_rate / reachability / reachable)")
    s.add_argument("--placeholder-if-empty", action="store_true", help=empty)

    s = sub.add_parser("tables", help="Table 1 (datasets) and Table 2 (base performance) as CSV and LaTeX")
    s.add_argument("--dataset-stats", required=True, help="results/tables/dataset_stats.csv")
    s.add_argument("--answers", nargs="+", required=True, help="metrics/answers.csv")
    s.add_argument("--agg", choices=["ratio0", "mean"], default="ratio0",
                   help="Table 2 at ratio 0 (default) or averaged over the ratio grid")
    s.add_argument("--metric", default="f1", help="f1, recall, correct or hallucination")
    for name in ("table1-csv", "table1-tex", "table2-csv", "table2-tex"):
        s.add_argument(f"--{name}", required=True)
    s.set_defaults(func=cmd_tables)
