# Figures: the headline safety cliff across every model of the study.


rule safety_cliff:
    input:
        curves=expand("results/{model}/stats/curves.csv", model=MODELS),
        chi=expand("results/{model}/stats/susceptibility.csv", model=MODELS),
        cliff=expand("results/{model}/stats/cliff.csv", model=MODELS),
    output:
        "figures/safety_cliff.pdf",
    log:
        "logs/figures/safety_cliff.log",
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m kvroute safety-cliff --curves {input.curves} --chi {input.chi} "
        "--cliff {input.cliff} --out {output} > {log} 2>&1"
