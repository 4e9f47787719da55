# The replication report: a verdict on each of the paper's claims C1-C14 per model,
# from every model's answers, per-layer routing, stats tables and probe scores. Claims whose inputs this
# config does not produce are listed as "not run".


rule claims:
    input:
        questions=[f for m in MODELS for f in unit_files(f"metrics/{METRICS_FILES['questions']}", m)],
        layers=[f for m in MODELS for f in unit_files(f"metrics/{METRICS_FILES['layers']}", m)],
        breakpoint=[stats_file("breakpoint", m) for m in MODELS],
        ger=[stats_file("ger", m) for m in MODELS],
        ger_item=[stats_file("ger_item", m) for m in MODELS],
        rigidity=[stats_file("rigidity", m) for m in MODELS],
        oracle=[stats_file("oracle", m) for m in MODELS],
        probe=[probe_file("scores", m) for m in MODELS],
        probe_passages=[probe_file("passages", m) for m in MODELS],
    output:
        csv=report("results/claims.csv", caption="../report/claims.rst", category="0 Claims"),
        md="results/replication.md",
    params:
        families=[f"{m}={config['models'][m].get('family', 'unknown')}" for m in MODELS],
        generators=[f"{d}={config['datasets'][d].get('generator', d)}" for d in DATASETS],
        n_boot=config["stats"]["n_boot"],
        n_boot_breakpoint=config["stats"]["n_boot_breakpoint"],
        min_passages=config["claims"]["min_passages"],
        seed=SEED,
        configfiles=[os.path.relpath(f) for f in workflow.configfiles],
        study=as_json(STUDY),
    log:
        "logs/claims.log",
    benchmark:
        "benchmarks/claims.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute claims --questions {input.questions} --layers {input.layers} "
        "--breakpoint {input.breakpoint} --ger {input.ger} --ger-item {input.ger_item} "
        "--rigidity {input.rigidity} --oracle {input.oracle} --probe {input.probe} "
        "--probe-passages {input.probe_passages} "
        "--families {params.families:q} --generators {params.generators:q} "
        "--n-boot {params.n_boot} --n-boot-breakpoint {params.n_boot_breakpoint} --seed {params.seed} "
        "--min-passages {params.min_passages} "
        "--configfiles {params.configfiles:q} --study {params.study:q} "
        "--out {output.csv} --report {output.md} > {log} 2>&1"
