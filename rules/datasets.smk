# Synthetic QA datasets (or a user's JSONL), and Table 1 for what was generated.


rule generate_dataset:
    output:
        "data/{dataset}.jsonl",
    params:
        args=lambda w: (
            f"--path {config['datasets'][w.dataset]['path']}"
            if "path" in config["datasets"][w.dataset]
            else f"--generator {config['datasets'][w.dataset].get('generator', w.dataset)} "
            f"--passages {config['datasets'][w.dataset]['passages']} --seed {SEED}"
        ),
    log:
        "logs/generate_dataset/{dataset}.log",
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute generate --dataset {wildcards.dataset} {params.args} --out {output} > {log} 2>&1"


rule dataset_stats:
    input:
        expand("data/{dataset}.jsonl", dataset=DATASETS),
    output:
        "results/tables/dataset_stats.csv",
    log:
        "logs/dataset_stats.log",
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute dataset-stats --inputs {input} --out {output} > {log} 2>&1"
