# Linear probes on last-prompt-token hidden states, per ratio, probed layer and
# the layer-pooled state: the answer-type tag and whether the cell's answer is
# scored correct (hence scores, not predictions). Each against a majority
# baseline, a control task and the question-only baseline (question_only states
# in hidden.npz); per-tag F1 and accessibility drift (trained at ratio 0); the
# correctness probe's out-of-fold confusion counts per passage (claim C2 pairs
# them with the answers by passage).


rule probe:
    input:
        hidden=unit_files("hidden.npz"),
        scores=unit_files("scores.parquet"),
    output:
        **{name: probe_file(name) for name in PROBE_FILES},
    params:
        n_splits=config["probing"]["n_splits"],
        C=config["probing"]["C"],
        control_by=config["probing"]["control_by"],
        seed=SEED,
        out_dir=lambda w: PROBE.format(model=w.model),
    log:
        "logs/probe/{model}.log",
    benchmark:
        "benchmarks/probe/{model}.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute probe --hidden {input.hidden} --scores {input.scores} "
        "--n-splits {params.n_splits} --C {params.C} --control-by {params.control_by} --seed {params.seed} "
        "--out-dir {params.out_dir} > {log} 2>&1"
