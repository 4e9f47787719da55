# Compressed inference: one job per model x dataset x regime covers every press x ratio.


rule infer:
    input:
        model="resources/models/{model}/kvroute_model.json",
        data="data/{dataset}.jsonl",
    output:
        predictions="results/{model}/{dataset}/{regime}/predictions.parquet",
        hidden="results/{model}/{dataset}/{regime}/hidden.npz",
        routing="results/{model}/{dataset}/{regime}/routing.npz",
        ledger="results/{model}/{dataset}/{regime}/ledger.parquet",
    params:
        presses=as_json(PRESSES),
        ratios=as_json(RATIOS),
        inference=as_json(config["inference"]),
    threads: config["inference"]["threads"]
    resources:
        mem_mb=lambda w: model_mem_mb(w),
    log:
        "logs/infer/{model}/{dataset}/{regime}.log",
    benchmark:
        "benchmarks/infer/{model}/{dataset}/{regime}.tsv"
    container:
        INFERENCE_IMAGE
    shell:
        "python -m kvroute infer --manifest {input.model} --model-name {wildcards.model} "
        "--dataset {input.data} --regime {wildcards.regime} "
        "--presses {params.presses:q} --ratios {params.ratios:q} --inference {params.inference:q} "
        "--out-predictions {output.predictions} --out-hidden {output.hidden} "
        "--out-routing {output.routing} --out-ledger {output.ledger} > {log} 2>&1"
