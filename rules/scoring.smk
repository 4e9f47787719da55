# Answer scoring (token F1, gold-token recall, error class per answer) and the
# per-unit metric tables: answer breakdowns, eviction / GER from the ledger,
# first-step routing consensus, erasure decomposition.


rule score:
    input:
        "results/{model}/{dataset}/{regime}/predictions.parquet",
    output:
        "results/{model}/{dataset}/{regime}/scores.parquet",
    params:
        threshold=config["scoring"]["threshold"],
        tokenizer=config["scoring"]["match_tokenizer"],
    log:
        "logs/score/{model}/{dataset}/{regime}.log",
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute score --predictions {input} --threshold {params.threshold} "
        "--tokenizer {params.tokenizer:q} --out {output} > {log} 2>&1"


rule metrics:
    input:
        scores="results/{model}/{dataset}/{regime}/scores.parquet",
        ledger="results/{model}/{dataset}/{regime}/ledger.parquet",
        routing="results/{model}/{dataset}/{regime}/routing.npz",
    output:
        **{name: f"{UNIT}/metrics/{file}" for name, file in METRICS_FILES.items()},
    params:
        out_dir=subpath(output.questions, parent=True),
    log:
        "logs/metrics/{model}/{dataset}/{regime}.log",
    benchmark:
        "benchmarks/metrics/{model}/{dataset}/{regime}.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute metrics --scores {input.scores} --ledger {input.ledger} "
        "--routing {input.routing} --out-dir {params.out_dir:q} > {log} 2>&1"
