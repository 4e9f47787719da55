# kvroute: KV-cache compression as a perturbation of attention routing.
#
#   snakemake --cores 2                         # the embedded default (config.yaml)
#   snakemake --configfile config/paper.yaml --profile slurm
#
# Rules are thin: each calls `python -m kvroute <stage>`. This file must not
# import torch or transformers (SLURM jobs re-parse it).

import os
import re

from snakemake.utils import min_version, validate

min_version("9.0")


# The model registry comes first, for every config. config.yaml is the embedded
# default study (beside this file, whatever --directory says); a --configfile
# replaces it rather than being merged into it (its values still win over the
# registry's, key by key).
configfile: os.path.join(workflow.basedir, "config", "models.yaml")


if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


include: "rules/common.smk"


report: "report/workflow.rst"


wildcard_constraints:
    model="|".join(map(re.escape, config["models"])),
    dataset="|".join(map(re.escape, config["datasets"])),
    regime="agnostic|aware",
    start=r"\d+",
    end=r"\d+",


include: "rules/datasets.smk"
include: "rules/models.smk"
include: "rules/inference.smk"
include: "rules/scoring.smk"
include: "rules/probing.smk"
include: "rules/stats.smk"
include: "rules/figures.smk"
include: "rules/claims.smk"
include: "rules/leaderboard.smk"


rule all:
    default_target: True
    localrule: True
    input:
        FIGURES,
        TABLES,
        "results/tables/dataset_stats.csv",
        expand("results/{model}/probe/probe_scores.csv", model=MODELS),
        expand("results/{model}/stats/breakpoint.csv", model=MODELS),
        expand("results/{model}/stats/ger_hallucination.csv", model=MODELS),
        expand("results/{model}/stats/evidence_predictors.csv", model=MODELS),
        "results/claims.csv",
        "results/replication.md",
