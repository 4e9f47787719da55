# Linear probes on last-prompt-token hidden states (answer-type tag): per ratio
# and layer, with majority baseline, control-task selectivity, per-tag F1 and
# accessibility drift (trained at ratio 0, tested at every ratio).


rule probe:
    input:
        hidden=expand("results/{{model}}/{dataset}/{regime}/hidden.npz", dataset=DATASETS, regime=REGIMES),
        predictions=expand(
            "results/{{model}}/{dataset}/{regime}/predictions.parquet", dataset=DATASETS, regime=REGIMES
        ),
    output:
        scores="results/{model}/probe/probe_scores.csv",
        tags="results/{model}/probe/probe_tags.csv",
        drift="results/{model}/probe/probe_drift.csv",
    params:
        n_splits=config["probing"]["n_splits"],
        C=config["probing"]["C"],
        control_by=config["probing"]["control_by"],
        seed=SEED,
    log:
        "logs/probe/{model}.log",
    benchmark:
        "benchmarks/probe/{model}.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute probe --hidden {input.hidden} --predictions {input.predictions} "
        "--n-splits {params.n_splits} --C {params.C} --control-by {params.control_by} --seed {params.seed} "
        "--out {output.scores} --tags {output.tags} --drift {output.drift} > {log} 2>&1"
