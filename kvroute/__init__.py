"""kvroute: KV-cache compression as a perturbation of attention routing.

Every workflow stage is a function in this package; the Snakemake rules only
call them (through ``python -m kvroute <stage>``), so each stage can be run and
tested without Snakemake.
"""

__version__ = "0.1.0"
