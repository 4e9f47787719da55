# The press leaderboard: every studied press ranked by the F1 it keeps at leaderboard.at_ratio, beside H,
# H_cond, its break, GER, evidence eviction, enrichment, rise removed and AUC, from every model's per-answer
# metrics (kvroute/stats/leaderboard.py). figures/leaderboard.pdf is a figure family
# (kvroute/figures/registry.py): `rule all` draws it from three studied presses on, and the target below
# asks for table and figure on any study (the target first: --configfile takes every word after it as a
# config file):
#   snakemake leaderboard --cores 2 --configfile config/leaderboard.yaml
# The inputs come from leaderboard_questions (rules/common.smk), which checks leaderboard.at_ratio.


rule leaderboard_table:
    input:
        questions=leaderboard_questions,
    output:
        table=LEADERBOARD_FILES["table"],
        summary=LEADERBOARD_FILES["summary"],
    params:
        at_ratio=config["leaderboard"]["at_ratio"],
        n_boot=config["stats"]["n_boot"],
        n_boot_breakpoint=config["stats"]["n_boot_breakpoint"],
        seed=SEED,
    log:
        "logs/leaderboard.log",
    benchmark:
        "benchmarks/leaderboard.tsv"
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute leaderboard --questions {input.questions} --at-ratio {params.at_ratio} "
        "--n-boot {params.n_boot} --n-boot-breakpoint {params.n_boot_breakpoint} --seed {params.seed} "
        "--out {output.table} --summary {output.summary} > {log} 2>&1"


rule leaderboard:
    localrule: True
    input:
        LEADERBOARD_FILES["table"],
        LEADERBOARD_FILES["summary"],
        "figures/leaderboard.pdf",
