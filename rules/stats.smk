# Statistics per model, each table per dataset and pooled (dataset = "pooled"):
# error-rate curves with bootstrap bands, chi = dH/dalpha, the breakpoint cliff
# with its bootstrap CI (argmax-chi cliff as secondary), GER-hallucination
# (aggregate and item-level), rigidity (consensus -> failure), consensus curves,
# erasure decomposition, agnostic-vs-aware McNemar, per-tag tests; oracle presses
# against their base press (empty when none is studied) and partial eviction vs
# GER as predictors of hallucination.


rule stats:
    input:
        scores=unit_files("scores.parquet"),
        questions=unit_files("metrics/questions.parquet"),
    output:
        curves="results/{model}/stats/curves.csv",
        chi="results/{model}/stats/susceptibility.csv",
        cliff="results/{model}/stats/cliff.csv",
        breakpoint="results/{model}/stats/breakpoint.csv",
        mcnemar="results/{model}/stats/mcnemar.csv",
        tags="results/{model}/stats/tags.csv",
        ger="results/{model}/stats/ger_hallucination.csv",
        ger_item="results/{model}/stats/ger_item_model.csv",
        erasure="results/{model}/stats/erasure.csv",
        rigidity="results/{model}/stats/rigidity.csv",
        consensus="results/{model}/stats/consensus.csv",
        oracle="results/{model}/stats/oracle.csv",
        evidence_predictors="results/{model}/stats/evidence_predictors.csv",
    params:
        n_boot=config["stats"]["n_boot"],
        n_boot_breakpoint=config["stats"]["n_boot_breakpoint"],
        ratio_term=config["stats"]["ratio_term"],
        seed=SEED,
    log:
        "logs/stats/{model}.log",
    benchmark:
        "benchmarks/stats/{model}.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute stats --scores {input.scores} --questions {input.questions} "
        "--n-boot {params.n_boot} --n-boot-breakpoint {params.n_boot_breakpoint} --seed {params.seed} "
        "--ratio-term {params.ratio_term} "
        "--curves {output.curves} --chi {output.chi} --cliff {output.cliff} "
        "--breakpoint {output.breakpoint} --mcnemar {output.mcnemar} --tags {output.tags} "
        "--ger {output.ger} --ger-item {output.ger_item} --erasure {output.erasure} "
        "--rigidity {output.rigidity} --consensus {output.consensus} --oracle {output.oracle} "
        "--evidence-predictors {output.evidence_predictors} > {log} 2>&1"
