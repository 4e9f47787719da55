"""Datasets and config: generate, dataset-stats, validate-config."""

from __future__ import annotations

import sys


def cmd_generate(a):
    from kvroute import datasets

    if a.path:
        records = datasets.load_jsonl(a.path)  # a user's file: validate, then normalise the bytes
    else:
        records = datasets.generate(a.generator, a.passages, a.seed)
        for r in records:
            r["dataset"] = a.dataset
    datasets.write_jsonl(records, a.out)


def cmd_dataset_stats(a):
    import pandas as pd

    from kvroute import datasets
    from kvroute.io import write_csv

    rows = []
    for path in a.inputs:
        records = datasets.load_jsonl(path)
        rows.append({"dataset": records[0]["dataset"], **datasets.dataset_stats(records)})
    write_csv(pd.DataFrame(rows), a.out)


def cmd_validate_config(a):
    from kvroute.config import ConfigError, load

    for path in a.configs:
        try:
            load(path)
        except ConfigError as e:
            sys.exit(f"{path}: {e}")
        print(f"{path}: ok")


def add_parsers(sub) -> None:
    from kvroute.config import default

    s = sub.add_parser("generate", help="generate (or import) one dataset as JSONL")
    s.add_argument("--dataset", required=True)
    s.add_argument("--generator")
    s.add_argument("--passages", type=int)
    s.add_argument("--seed", type=int, default=default("seed"))
    s.add_argument("--path", help="import a user JSONL instead of generating")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("dataset-stats", help="Table 1 for generated datasets")
    s.add_argument("--inputs", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_dataset_stats)

    s = sub.add_parser("validate-config", help="check config files against the schema")
    s.add_argument("configs", nargs="+")
    s.set_defaults(func=cmd_validate_config)
