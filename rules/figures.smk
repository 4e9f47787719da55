# Figures and tables: every figure family of the paper (and kvroute's own), as
# PDF for the paper and PNG for `snakemake --report report.html`. Each rule is
# one `python -m kvroute figure FAMILY` call; captions live in report/*.rst.
#
# FIGURES and TABLES list every target for the study in the config (rule all
# takes them); the hop figure appears only when a multi-hop dataset is studied.

ANSWERS = expand("results/{model}/{dataset}/{regime}/metrics/answers.csv", model=MODELS, dataset=DATASETS, regime=REGIMES)
EVICTION = expand(
    "results/{model}/{dataset}/{regime}/metrics/eviction.csv", model=MODELS, dataset=DATASETS, regime=REGIMES
)
ROUTING = expand("results/{model}/{dataset}/{regime}/metrics/routing.csv", model=MODELS, dataset=DATASETS, regime=REGIMES)
QUESTIONS = expand(
    "results/{model}/{dataset}/{regime}/metrics/questions.parquet", model=MODELS, dataset=DATASETS, regime=REGIMES
)
HOP_DATASETS = [d for d in DATASETS if config["datasets"][d].get("generator", d) == "hops"]
# The eviction-map passage: the first passage of the first dataset, first regime.
MAP_DATASET = DATASETS[0]
MAP_REGIME = REGIMES[0]

FIGURES = [
    "figures/safety_cliff.pdf",
    "figures/performance_f1.pdf",
    "figures/performance_recall.pdf",
    "figures/direction.pdf",
    *(["figures/hops.pdf"] if HOP_DATASETS else []),
    *expand("figures/tags/{dataset}_{tag_kind}.pdf", dataset=DATASETS, tag_kind=["answer_type", "question_type"]),
    "figures/routing_consensus.pdf",
    "figures/routing_rho.pdf",
    "figures/eviction_maps.pdf",
    "figures/eviction_rates.pdf",
    "figures/error_rates.pdf",
    "figures/susceptibility.pdf",
    "figures/ger_hallucination.pdf",
    "figures/probe_tags.pdf",
    "figures/probe_drift.pdf",
    "figures/erasure.pdf",
    "figures/reachability.pdf",
]
TABLES = expand("results/tables/table{n}.{ext}", n=[1, 2], ext=["csv", "tex"])


rule safety_cliff:
    input:
        curves=expand("results/{model}/stats/curves.csv", model=MODELS),
        chi=expand("results/{model}/stats/susceptibility.csv", model=MODELS),
        cliff=expand("results/{model}/stats/cliff.csv", model=MODELS),
        breakpoint=expand("results/{model}/stats/breakpoint.csv", model=MODELS),
        eviction=EVICTION,
    output:
        pdf="figures/safety_cliff.pdf",
        png=report("figures/safety_cliff.png", caption="../report/safety_cliff.rst", category="1 Safety cliff"),
    log:
        "logs/figures/safety_cliff.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure safety-cliff --curves {input.curves} --chi {input.chi} "
        "--cliff {input.cliff} --breakpoint {input.breakpoint} --eviction {input.eviction} "
        "--out {output.pdf} > {log} 2>&1"


rule figure_performance:
    input:
        answers=ANSWERS,
    output:
        pdf="figures/performance_{metric}.pdf",
        png=report(
            "figures/performance_{metric}.png",
            caption="../report/performance.rst",
            category="2 Task performance",
            subcategory="by dataset",
        ),
    wildcard_constraints:
        metric="f1|recall",
    log:
        "logs/figures/performance_{metric}.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure performance --answers {input.answers} --metric {wildcards.metric} "
        "--out {output.pdf} > {log} 2>&1"


rule figure_direction:
    input:
        answers=ANSWERS,
    output:
        pdf="figures/direction.pdf",
        png=report(
            "figures/direction.png",
            caption="../report/direction.rst",
            category="2 Task performance",
            subcategory="forward vs reverse",
        ),
    log:
        "logs/figures/direction.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure direction --answers {input.answers} --placeholder-if-empty --out {output.pdf} > {log} 2>&1"


rule figure_hops:
    input:
        answers=ANSWERS,
    output:
        pdf="figures/hops.pdf",
        png=report("figures/hops.png", caption="../report/hops.rst", category="2 Task performance", subcategory="hops"),
    log:
        "logs/figures/hops.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure hops --answers {input.answers} --placeholder-if-empty --out {output.pdf} > {log} 2>&1"


rule figure_tags:
    input:
        answers=expand("results/{model}/{{dataset}}/{regime}/metrics/answers.csv", model=MODELS, regime=REGIMES),
    output:
        pdf="figures/tags/{dataset}_{tag_kind}.pdf",
        png=report(
            "figures/tags/{dataset}_{tag_kind}.png",
            caption="../report/tags.rst",
            category="3 Tags",
            subcategory="{tag_kind}",
        ),
    wildcard_constraints:
        tag_kind="answer_type|question_type",
    log:
        "logs/figures/tags/{dataset}_{tag_kind}.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure tags --answers {input.answers} --dataset {wildcards.dataset} "
        "--tag-kind {wildcards.tag_kind} --placeholder-if-empty --out {output.pdf} > {log} 2>&1"


rule figure_routing:
    input:
        routing=ROUTING,
    output:
        pdf="figures/routing_{measure}.pdf",
        png=report(
            "figures/routing_{measure}.png",
            caption="../report/routing.rst",
            category="4 Routing",
            subcategory="{measure}",
        ),
    wildcard_constraints:
        measure="consensus|rho",
    params:
        targets="0.1 0.5 0.9",
    log:
        "logs/figures/routing_{measure}.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure routing --routing {input.routing} --measure {wildcards.measure} "
        "--targets {params.targets} --out {output.pdf} > {log} 2>&1"


rule figure_eviction_maps:
    input:
        ledger=expand("results/{model}/{dataset}/{regime}/ledger.parquet", model=MODELS, dataset=MAP_DATASET, regime=MAP_REGIME),
        predictions=expand(
            "results/{model}/{dataset}/{regime}/predictions.parquet", model=MODELS, dataset=MAP_DATASET, regime=MAP_REGIME
        ),
    output:
        pdf="figures/eviction_maps.pdf",
        png=report("figures/eviction_maps.png", caption="../report/eviction_maps.rst", category="5 Eviction"),
    params:
        dataset=MAP_DATASET,
        regime=MAP_REGIME,
        ratios="0.1 0.9",
    log:
        "logs/figures/eviction_maps.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure eviction-map --ledger {input.ledger} --predictions {input.predictions} "
        "--ratios {params.ratios} --out {output.pdf} > {log} 2>&1"


rule figure_eviction_rates:
    input:
        eviction=EVICTION,
    output:
        pdf="figures/eviction_rates.pdf",
        png=report("figures/eviction_rates.png", caption="../report/eviction_rates.rst", category="5 Eviction"),
    log:
        "logs/figures/eviction_rates.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure eviction-rates --eviction {input.eviction} --out {output.pdf} > {log} 2>&1"


rule figure_error_rates:
    input:
        answers=ANSWERS,
    output:
        pdf="figures/error_rates.pdf",
        png=report("figures/error_rates.png", caption="../report/error_rates.rst", category="6 Errors and GER"),
    log:
        "logs/figures/error_rates.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure error-rates --answers {input.answers} --out {output.pdf} > {log} 2>&1"


rule figure_susceptibility:
    input:
        chi=expand("results/{model}/stats/susceptibility.csv", model=MODELS),
        cliff=expand("results/{model}/stats/cliff.csv", model=MODELS),
    output:
        pdf="figures/susceptibility.pdf",
        png=report("figures/susceptibility.png", caption="../report/susceptibility.rst", category="6 Errors and GER"),
    log:
        "logs/figures/susceptibility.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure susceptibility --chi {input.chi} --cliff {input.cliff} --out {output.pdf} > {log} 2>&1"


rule figure_ger:
    input:
        questions=QUESTIONS,
        verdict=expand("results/{model}/stats/ger_hallucination.csv", model=MODELS),
    output:
        pdf="figures/ger_hallucination.pdf",
        png=report("figures/ger_hallucination.png", caption="../report/ger_hallucination.rst", category="6 Errors and GER"),
    params:
        ratio_term=config["stats"]["ratio_term"],
    log:
        "logs/figures/ger_hallucination.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure ger --questions {input.questions} --verdict {input.verdict} --out {output.pdf} > {log} 2>&1"


rule figure_probe_tags:
    input:
        tags=expand("results/{model}/probe/probe_tags.csv", model=MODELS),
        scores=expand("results/{model}/probe/probe_scores.csv", model=MODELS),
    output:
        pdf="figures/probe_tags.pdf",
        png=report("figures/probe_tags.png", caption="../report/probe_tags.rst", category="7 Probing"),
    params:
        dataset="all",
        layer="last",
    log:
        "logs/figures/probe_tags.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure probe-tags --tags {input.tags} --scores {input.scores} "
        "--dataset {params.dataset} --layer {params.layer} --out {output.pdf} > {log} 2>&1"


rule figure_probe_drift:
    input:
        drift=expand("results/{model}/probe/probe_drift.csv", model=MODELS),
        scores=expand("results/{model}/probe/probe_scores.csv", model=MODELS),
    output:
        pdf="figures/probe_drift.pdf",
        png=report("figures/probe_drift.png", caption="../report/probe_drift.rst", category="7 Probing"),
    params:
        dataset="all",
    log:
        "logs/figures/probe_drift.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure probe-drift --drift {input.drift} --scores {input.scores} "
        "--dataset {params.dataset} --out {output.pdf} > {log} 2>&1"


rule figure_erasure:
    input:
        erasure=expand("results/{model}/stats/erasure.csv", model=MODELS),
    output:
        pdf="figures/erasure.pdf",
        png=report("figures/erasure.png", caption="../report/erasure.rst", category="8 Erasure and reachability"),
    log:
        "logs/figures/erasure.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure erasure --erasure {input.erasure} --out {output.pdf} > {log} 2>&1"


rule figure_reachability:
    input:
        reachability=expand(
            "results/{model}/{dataset}/{regime}/metrics/reachability.csv",
            model=MODELS,
            dataset=DATASETS,
            regime=REGIMES,
        ),
    output:
        pdf="figures/reachability.pdf",
        png=report("figures/reachability.png", caption="../report/reachability.rst", category="8 Erasure and reachability"),
    log:
        "logs/figures/reachability.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute figure reachability --reachability {input.reachability} --placeholder-if-empty "
        "--out {output.pdf} > {log} 2>&1"


rule tables:
    input:
        dataset_stats="results/tables/dataset_stats.csv",
        answers=ANSWERS,
    output:
        table1_csv=report("results/tables/table1.csv", caption="../report/table1.rst", category="9 Tables"),
        table1_tex="results/tables/table1.tex",
        table2_csv=report("results/tables/table2.csv", caption="../report/table2.rst", category="9 Tables"),
        table2_tex="results/tables/table2.tex",
    params:
        agg="ratio0",
        metric="f1",
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
