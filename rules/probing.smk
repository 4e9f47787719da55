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
        scores="results/{model}/probe/probe_scores.csv",
        tags="results/{model}/probe/probe_tags.csv",
        drift="results/{model}/probe/probe_drift.csv",
        passages="results/{model}/probe/probe_passages.csv",
    params:
        n_splits=config["probing"]["n_splits"],
        C=config["probing"]["C"],
        control_by=config["probing"]["control_by"],
        seed=SEED,
    log:
        "logs/probe/{model}.log",
    benchmark:
        "benchmarks/probe/{model}.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute probe --hidden {input.hidden} --scores {input.scores} "
        "--n-splits {params.n_splits} --C {params.C} --control-by {params.control_by} --seed {params.seed} "
        "--out {output.scores} --tags {output.tags} --drift {output.drift} --passages {output.passages} "
        "> {log} 2>&1"
