"""Models and inference: prepare-model, infer, merge."""

from __future__ import annotations

import json


def cmd_prepare_model(a):
    import os

    # transformers' GGUF reader draws a per-tensor bar no setting reaches; tqdm
    # reads this variable when it is first imported.
    os.environ.setdefault("TQDM_DISABLE", "1")
    from kvroute import models

    models.prepare(a.name, json.loads(a.spec), a.out_dir, a.cache_dir)


def cmd_infer(a):
    from kvroute.inference import job as inference
    from kvroute.artifacts import paths_in

    settings = json.loads(a.inference)
    if a.max_batch_questions:
        settings["max_batch_questions"] = a.max_batch_questions
    inference.run(a.manifest, a.dataset, a.regime, json.loads(a.presses), json.loads(a.ratios), settings,
                  paths_in(a.out_dir), model_name=a.model_name, passages=a.passages, oracle=json.loads(a.oracle))


def cmd_merge(a):
    from kvroute.artifacts import merge, paths_in

    merge([paths_in(d) for d in a.shards], paths_in(a.out_dir))


def add_parsers(sub) -> None:
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
    s.add_argument("--inference", default="{}",
                   help="the config's inference section as JSON (missing keys take the schema's defaults)")
    s.add_argument("--max-batch-questions", type=int,
                   help="override inference.max_batch_questions (the workflow halves it on each retry)")
    s.add_argument("--oracle", default="{}",
                   help="oracle presses of this regime as JSON (kvroute.config.oracle_plan); {} runs none")
    s.add_argument("--passages", help="shard START-END of the dataset's passages (0-based, end exclusive)")
    s.add_argument("--out-dir", required=True, help="writes predictions.parquet, hidden.npz, routing.npz, ledger.parquet")
    s.set_defaults(func=cmd_infer)

    s = sub.add_parser("merge", help="concatenate inference shards")
    s.add_argument("--shards", nargs="+", required=True, help="shard folders, in passage order")
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_merge)
