# kvroute: KV-cache compression as a perturbation of attention routing.
#
#   snakemake --cores 2                         # the embedded default (config.yaml)
#   snakemake --configfile config/paper.yaml --profile slurm
#
# Rules are thin: each calls `python -m kvroute <stage>`. This file must not
# import torch or transformers (SLURM jobs re-parse it).

import re

from snakemake.utils import min_version, validate

min_version("9.0")


# config.yaml is the embedded default; a --configfile replaces it rather than
# being merged into it, so every config file is complete on its own.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"


report: "report/workflow.rst"


wildcard_constraints:
    model="|".join(map(re.escape, config["models"])),
    dataset="|".join(map(re.escape, config["datasets"])),
    regime="agnostic|aware",
    start=r"\d+",
    end=r"\d+",


localrules:
    all,
    merge_shards,


include: "rules/datasets.smk"
include: "rules/models.smk"
include: "rules/inference.smk"
include: "rules/scoring.smk"
include: "rules/probing.smk"
include: "rules/stats.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        FIGURES,
        TABLES,
        "results/tables/dataset_stats.csv",
        expand("results/{model}/probe/probe_scores.csv", model=MODELS),
        expand("results/{model}/stats/breakpoint.csv", model=MODELS),
        expand("results/{model}/stats/ger_hallucination.csv", model=MODELS),
