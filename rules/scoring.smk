# Answer scoring: token F1, gold-token recall and error class per answer.


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
