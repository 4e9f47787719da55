# Figures and tables. Every figure family is declared once, in
# kvroute/figures/registry.py (plot function, inputs, options, report place);
# the rules below are generated from it, one per family, each a single
# `python -m kvroute figure FAMILY` call. Options come from the config's
# `figures:` section (defaults in the schema); captions live in report/*.rst.
#
# FIGURES and TABLES list every target for the study in the config (rule all
# takes them); the hop figure appears only when a multi-hop dataset is studied.
from kvroute.figures import registry

FIGURES = registry.targets(config)
TABLES = expand("results/tables/table{n}.{ext}", n=[1, 2], ext=["csv", "tex"])

for family in registry.FAMILIES:
    options = registry.option_values(family, config)
    dataset, regime = registry.unit_of(family, config)

    rule:
        name:
            f"figure_{family.key}"
        input:
            **registry.input_files(family, config),
        output:
            pdf=family.output,
            png=report(
                family.output.replace(".pdf", ".png"),
                caption=f"../report/{family.caption or family.key}.rst",
                category=family.category,
                subcategory=family.subcategory,
            ),
        wildcard_constraints:
            **{o: "|".join(map(re.escape, config["figures"][family.key][o])) for o in family.per_value},
        params:
            family=family.name,
            arguments=registry.command_arguments(family, config),
            # Read by the report captions; the arguments carry the same values.
            unit=f"{dataset} ({regime} regime)",
            **options,
        log:
            f"logs/{family.output.removesuffix('.pdf')}.log",
        localrule: True
        container:
            ANALYSIS_IMAGE
        shell:
            "python -m kvroute figure {params.family} {params.arguments} --out {output.pdf} > {log} 2>&1"


rule tables:
    input:
        dataset_stats="results/tables/dataset_stats.csv",
        answers=registry.input_files(registry.family("error-rates"), config)["answers"],
    output:
        table1_csv=report("results/tables/table1.csv", caption="../report/table1.rst", category="9 Tables"),
        table1_tex="results/tables/table1.tex",
        table2_csv=report("results/tables/table2.csv", caption="../report/table2.rst", category="9 Tables"),
        table2_tex="results/tables/table2.tex",
    params:
        agg=config["figures"]["table2"]["agg"],
        metric=config["figures"]["table2"]["metric"],
    log:
        "logs/tables.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute tables --dataset-stats {input.dataset_stats} --answers {input.answers} "
        "--agg {params.agg} --metric {params.metric} --table1-csv {output.table1_csv} "
        "--table1-tex {output.table1_tex} --table2-csv {output.table2_csv} --table2-tex {output.table2_tex} "
        "> {log} 2>&1"
