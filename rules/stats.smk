# Statistics per model, each table per dataset and pooled (dataset = "pooled"):
# error-rate curves with bootstrap bands, chi = dH/dalpha, the breakpoint cliff
# with its bootstrap CI (argmax-chi cliff as secondary), GER-hallucination
# (aggregate and item-level), rigidity (consensus -> failure), consensus curves,
# erasure decomposition, agnostic-vs-aware McNemar, per-tag tests; oracle presses
# against their base press (empty when none is studied) and partial eviction vs
# GER as predictors of hallucination.


rule stats:
    input:
        scores=unit_files("scores.parquet"),
        questions=unit_files(f"metrics/{METRICS_FILES['questions']}"),
    output:
        **{name: stats_file(name) for name in STATS_FILES},
    params:
        n_boot=config["stats"]["n_boot"],
        n_boot_breakpoint=config["stats"]["n_boot_breakpoint"],
        ratio_term=config["stats"]["ratio_term"],
        seed=SEED,
        out_dir=lambda w: STATS.format(model=w.model),
    log:
        "logs/stats/{model}.log",
    benchmark:
        "benchmarks/stats/{model}.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute stats --scores {input.scores} --questions {input.questions} "
        "--n-boot {params.n_boot} --n-boot-breakpoint {params.n_boot_breakpoint} --seed {params.seed} "
        "--ratio-term {params.ratio_term} --out-dir {params.out_dir} > {log} 2>&1"
