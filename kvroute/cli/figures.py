"""Figures and tables: ``figure FAMILY`` (one subcommand per registry entry) and ``tables``.

    kvroute figure FAMILY --INPUT FILE... [--OPTION VALUE] --out figures/NAME.pdf   (NAME.png beside it)

Inputs, options, their types and defaults come from kvroute/figures/registry.py
and the config schema's ``figures`` section.
"""

from __future__ import annotations

EMPTY_HELP = "if the input holds nothing to draw (e.g. no hop tags), write a figure saying so instead of failing"


def cmd_figure(a):
    from kvroute.figures import registry

    fam = registry.family(a.figure)
    files = {inp.name: getattr(a, inp.name) for inp in fam.inputs}
    options = {o: getattr(a, o) for o in fam.options}
    if "{dataset}" in fam.output:
        options["dataset"] = a.dataset
    registry.draw(fam, files, a.out, options, placeholder_if_empty=getattr(a, "placeholder_if_empty", False))


def cmd_tables(a):
    from kvroute.figures.registry import METRIC_COLUMNS, read_frames
    from kvroute.tables import write_tables

    write_tables(read_frames([a.dataset_stats]), read_frames(a.answers), a.table1_csv, a.table1_tex,
                 a.table2_csv, a.table2_tex, agg=a.agg, metric=METRIC_COLUMNS.get(a.metric, a.metric))


def _option_argument(schema: dict, per_value: bool) -> dict:
    """argparse keywords for one figure option, from its schema (list options take several values)."""
    kw = {"help": schema.get("description")}
    if schema.get("type") == "array":
        item = schema["items"]
        kw.update(type=float if item.get("type") == "number" else str)
        if "enum" in item:
            kw["choices"] = item["enum"]
        if per_value:  # one figure per value: the command draws one of them
            kw["default"] = schema["default"][0]
        else:
            kw.update(nargs="+", default=schema["default"])
        return kw
    if "enum" in schema:
        kw["choices"] = [v for v in schema["enum"] if v is not None]
    kw.update(type=float if schema.get("type") == "number" else str, default=schema.get("default"))
    return kw


def add_parsers(sub) -> None:
    from kvroute.config import schema_at
    from kvroute.figures.registry import FAMILIES, KINDS

    f = sub.add_parser("figure", help="draw one figure family (PDF + PNG)")
    figs = f.add_subparsers(dest="figure", required=True, metavar="FAMILY")
    for fam in FAMILIES:
        s = figs.add_parser(fam.name, help=fam.title,
                            description=f"Draws {fam.output} (and its PNG). Plot function: "
                                        f"kvroute.figures.{fam.plot.replace(':', '.')}.")
        for inp in fam.inputs:
            s.add_argument(f"--{inp.name.replace('_', '-')}", dest=inp.name, nargs="+" if inp.required else "*",
                           required=inp.required, help=KINDS[inp.kind])
        if "{dataset}" in fam.output:
            s.add_argument("--dataset", required=True, help="the dataset drawn")
        for opt in fam.options:
            s.add_argument(f"--{opt.replace('_', '-')}", dest=opt,
                           **_option_argument(schema_at(f"figures.{fam.key}.{opt}"), opt in fam.per_value))
        if fam.empty_ok:
            s.add_argument("--placeholder-if-empty", action="store_true", help=EMPTY_HELP)
        s.add_argument("--out", required=True, help="PDF path; a PNG is written beside it")
        s.set_defaults(func=cmd_figure)

    s = sub.add_parser("tables", help="Table 1 (datasets) and Table 2 (base performance) as CSV and LaTeX")
    s.add_argument("--dataset-stats", required=True, help="results/tables/dataset_stats.csv")
    s.add_argument("--answers", nargs="+", required=True, help="metrics/answers.csv")
    s.add_argument("--agg", **_option_argument(schema_at("figures.table2.agg"), False))
    s.add_argument("--metric", **_option_argument(schema_at("figures.table2.metric"), False))
    for name in ("table1-csv", "table1-tex", "table2-csv", "table2-tex"):
        s.add_argument(f"--{name}", required=True)
    s.set_defaults(func=cmd_tables)
