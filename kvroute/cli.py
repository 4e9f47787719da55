"""``python -m kvroute <stage>``: the entry point every Snakemake rule calls.

Each subcommand reads files, calls one package function, and writes its
outputs atomically. JSON arguments carry config sections verbatim.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def _json(text: str):
    return json.loads(text)


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


def cmd_prepare_model(a):
    import os

    # transformers' GGUF reader draws a per-tensor bar no setting reaches; tqdm
    # reads this variable when it is first imported.
    os.environ.setdefault("TQDM_DISABLE", "1")
    from kvroute import models

    models.prepare(a.name, _json(a.spec), a.out_dir, a.cache_dir)


def cmd_infer(a):
    from kvroute import inference

    from kvroute.artifacts import paths_in

    settings = _json(a.inference)
    if a.max_batch_questions:
        settings["max_batch_questions"] = a.max_batch_questions
    inference.run(a.manifest, a.dataset, a.regime, _json(a.presses), _json(a.ratios), settings,
                  paths_in(a.out_dir), model_name=a.model_name, passages=a.passages)


def cmd_merge(a):
    from kvroute.artifacts import merge, paths_in

    merge([paths_in(d) for d in a.shards], paths_in(a.out_dir))


def cmd_score(a):
    import pandas as pd

    from kvroute.io import write_parquet
    from kvroute.scoring import score_predictions

    frames = [pd.read_parquet(p) for p in a.predictions]
    scored = score_predictions(pd.concat(frames, ignore_index=True), threshold=a.threshold, tokenizer=a.tokenizer)
    write_parquet(scored, a.out)


def cmd_validate_config(a):
    import yaml

    from kvroute.config import ConfigError, validate

    for path in a.configs:
        try:
            validate(yaml.safe_load(open(path)))
        except ConfigError as e:
            sys.exit(f"{path}: {e}")
        print(f"{path}: ok")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kvroute", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("generate", help="generate (or import) one dataset as JSONL")
    s.add_argument("--dataset", required=True)
    s.add_argument("--generator")
    s.add_argument("--passages", type=int)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--path", help="import a user JSONL instead of generating")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("dataset-stats", help="Table 1 for generated datasets")
    s.add_argument("--inputs", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_dataset_stats)

    s = sub.add_parser("prepare-model", help="fetch/convert a model into resources/models/NAME")
    s.add_argument("--name", required=True)
    s.add_argument("--spec", required=True, help="the model's config entry, as JSON")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--cache-dir", required=True)
    s.set_defaults(func=cmd_prepare_model)

    s = sub.add_parser("infer", help="compressed inference for one model x dataset x regime")
    s.add_argument("--manifest", required=True)
    s.add_argument("--model-name")
    s.add_argument("--dataset", required=True)
    s.add_argument("--regime", required=True)
    s.add_argument("--presses", required=True, help="{name: press spec} as JSON")
    s.add_argument("--ratios", required=True, help="list of ratios as JSON")
    s.add_argument("--inference", default="{}", help="the config's inference section as JSON")
    s.add_argument("--max-batch-questions", type=int,
                   help="override inference.max_batch_questions (the workflow halves it on each retry)")
    s.add_argument("--passages", help="shard START-END of the dataset's passages (0-based, end exclusive)")
    s.add_argument("--out-dir", required=True, help="writes predictions.parquet, hidden.npz, routing.npz, ledger.parquet")
    s.set_defaults(func=cmd_infer)

    s = sub.add_parser("merge", help="concatenate inference shards")
    s.add_argument("--shards", nargs="+", required=True, help="shard folders, in passage order")
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_merge)

    s = sub.add_parser("score", help="token F1, gold recall and error class per answer")
    s.add_argument("--predictions", nargs="+", required=True)
    s.add_argument("--threshold", type=float, default=0.5)
    s.add_argument("--tokenizer", default="whitespace")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("validate-config", help="check config files against the schema")
    s.add_argument("configs", nargs="+")
    s.set_defaults(func=cmd_validate_config)

    from kvroute.analysis_cli import add_parsers

    add_parsers(sub)  # metrics, probe, stats
    from kvroute.figures_cli import add_parsers as add_figure_parsers

    add_figure_parsers(sub)  # figure FAMILY, tables
    return p


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except (ValueError, OSError, RuntimeError) as err:
        # Bad input, a missing or unwritable path, a full disk: say what and where,
        # without a traceback unless asked for (-v).
        if args.verbose or not _expected(err):
            raise
        sys.exit(f"kvroute {args.command}: error: {err}")


def _expected(err: BaseException) -> bool:
    from kvroute.models import ChecksumError

    import errno

    if isinstance(err, (ValueError, ChecksumError, FileNotFoundError, PermissionError, NotADirectoryError,
                        IsADirectoryError)):
        return True
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT)


if __name__ == "__main__":
    main()
