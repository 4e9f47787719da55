# Linear probes on last-prompt-token hidden states (answer-type tag), per ratio.


rule probe:
    input:
        hidden=expand("results/{{model}}/{dataset}/{regime}/hidden.npz", dataset=DATASETS, regime=REGIMES),
        predictions=expand(
            "results/{{model}}/{dataset}/{regime}/predictions.parquet", dataset=DATASETS, regime=REGIMES
        ),
    output:
        "results/{model}/probe/probe_scores.csv",
    params:
        test_fraction=config["probing"]["test_fraction"],
        C=config["probing"]["C"],
        seed=SEED,
    log:
        "logs/probe/{model}.log",
    benchmark:
        "benchmarks/probe/{model}.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute probe --hidden {input.hidden} --predictions {input.predictions} "
        "--test-fraction {params.test_fraction} --C {params.C} --seed {params.seed} --out {output} > {log} 2>&1"
