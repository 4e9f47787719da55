# Statistics per model: error-rate curves with bootstrap bands, chi = dH/dalpha, cliff location.


rule stats:
    input:
        expand("results/{{model}}/{dataset}/{regime}/scores.parquet", dataset=DATASETS, regime=REGIMES),
    output:
        curves="results/{model}/stats/curves.csv",
        chi="results/{model}/stats/susceptibility.csv",
        cliff="results/{model}/stats/cliff.csv",
    params:
        n_boot=config["stats"]["n_boot"],
        seed=SEED,
    log:
        "logs/stats/{model}.log",
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute stats --scores {input} --n-boot {params.n_boot} --seed {params.seed} "
        "--curves {output.curves} --chi {output.chi} --cliff {output.cliff} > {log} 2>&1"
