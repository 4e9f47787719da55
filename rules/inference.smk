# Compressed inference. Each job covers every press x ratio for one model, regime
# and shard of a dataset's passages; shards are then concatenated.

ARTIFACTS = ["predictions.parquet", "hidden.npz", "routing.npz", "ledger.parquet"]


rule infer:
    input:
        model="resources/models/{model}/kvroute_model.json",
        data="data/{dataset}.jsonl",
    output:
        multiext("results/{model}/{dataset}/{regime}/shards/{start}-{end}/", *ARTIFACTS),
    params:
        presses=as_json(PRESSES),
        ratios=as_json(RATIOS),
        oracle=lambda w: as_json(oracle_plan(config, w.regime)),
        inference=as_json(config["inference"]),
        out_dir=lambda w: f"results/{w.model}/{w.dataset}/{w.regime}/shards/{w.start}-{w.end}",
    threads: config["inference"]["threads"]
    resources:
        mem_mb=model_mem_mb,
        question_batch=question_batch,
    log:
        "logs/infer/{model}/{dataset}/{regime}/{start}-{end}.log",
    benchmark:
        "benchmarks/infer/{model}/{dataset}/{regime}/{start}-{end}.tsv"
    container:
        INFERENCE_IMAGE
    shell:
        "python -m kvroute infer --manifest {input.model} --model-name {wildcards.model} "
        "--dataset {input.data} --passages {wildcards.start}-{wildcards.end} --regime {wildcards.regime} "
        "--presses {params.presses:q} --ratios {params.ratios:q} --oracle {params.oracle:q} "
        "--inference {params.inference:q} "
        "--max-batch-questions {resources.question_batch} --out-dir {params.out_dir} > {log} 2>&1"


rule merge_shards:
    input:
        lambda w: expand(
            "results/{{model}}/{{dataset}}/{{regime}}/shards/{shard}/{artifact}",
            shard=shards(w.dataset, w.model),
            artifact=ARTIFACTS,
        ),
    output:
        multiext("results/{model}/{dataset}/{regime}/", *ARTIFACTS),
    params:
        shards=lambda w: [
            f"results/{w.model}/{w.dataset}/{w.regime}/shards/{s}" for s in shards(w.dataset, w.model)
        ],
        out_dir=lambda w: f"results/{w.model}/{w.dataset}/{w.regime}",
    log:
        "logs/merge_shards/{model}/{dataset}/{regime}.log",
    localrule: True
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute merge --shards {params.shards} --out-dir {params.out_dir} > {log} 2>&1"
