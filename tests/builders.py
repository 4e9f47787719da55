"""Hand-built tables shared by the metrics, stats, probing and oracle-analysis tests."""

import json

import numpy as np
import pandas as pd

# 2 layers x 2 KV heads x 6 tokens. Kept anywhere: 0, 1, 2, 3; globally evicted: 4, 5.
# Layer 0 keeps {0, 1, 2}; layer 1 keeps {0, 3}.
KEPT = np.zeros((2, 2, 6), dtype=bool)
KEPT[0, 0, [0, 1]] = True
KEPT[0, 1, [0, 2]] = True
KEPT[1, 0, [3]] = True
KEPT[1, 1, [0]] = True


def ledger_row(kept, passage="p0", press="adakv", ratio=0.5):
    return {"passage_id": passage, "press": press, "ratio": ratio, "layers": kept.shape[0],
            "kv_heads": kept.shape[1], "tokens": kept.shape[2], "kept_bits": np.packbits(kept.ravel()).tobytes()}


def predictions(evidence, passage="p0", press="adakv", ratio=0.5, classes=None):
    n = len(evidence)
    return pd.DataFrame({
        "model": "m", "dataset": "d", "regime": "agnostic", "press": press, "ratio": ratio,
        "passage_id": passage, "qid": [f"{passage}-q{i}" for i in range(n)], "evidence_positions": evidence,
        "n_context_tokens": 6, "error_class": classes or ["hallucination"] * n, "f1": 0.0, "recall": 0.0,
        "answer_type": "Person", "question_type": "Standard", "direction": "FWD",
        "hop": pd.array([None] * n, dtype="Int64")})


def simulate_items(ger_effect: float, seed: int = 1, n_passages: int = 80, n_q: int = 5, presses=("p",),
                   datasets=("d",), idk_share: float = 0.0):
    """Questions x presses x ratios 0..0.9. At ratio 0 (GER 0, shared by every press) an item
    fails with a passage-dependent chance; above 0, GER rises with ratio plus question noise
    and logit H = ratio trend + 1.0 failed_at_0 + passage effect (+ ger_effect * GER).
    "I don't know" items (idk_share) hallucinate by coin flip, whatever their GER."""
    rng = np.random.default_rng(seed)
    expit = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    rows = []
    ratios = np.round(np.arange(0.0, 1.0, 0.1), 1)
    for p in range(n_passages):
        dataset = datasets[p % len(datasets)]
        shift = rng.normal(0, 0.5)  # passage random effect: errors cluster by passage
        for q in range(n_q):
            idk = rng.random() < idk_share
            failed_at_0 = rng.random() < expit(-1.0 + shift)
            for press in presses:
                for r in ratios:
                    ger = 0.0 if r == 0 else float(np.clip(r + rng.normal(0, 0.25), 0, 1))
                    h = failed_at_0 if r == 0 else rng.random() < expit(
                        -2.5 + 3.0 * r + ger_effect * ger + 1.0 * failed_at_0 + shift)
                    if idk:
                        h = rng.random() < 0.5
                    rows.append(dict(model="m", regime="agnostic", press=press, dataset=dataset,
                                     passage_id=f"p{p}", qid=f"p{p}q{q}", ratio=r, ger=ger,
                                     answers='["I don\'t know"]' if idk else '["Paris"]',
                                     error_class="hallucination" if h else "correct"))
    return pd.DataFrame(rows)


CLASSES = np.array(["Person", "Location", "Event"])
# Six templates; each passage fills them with its own entity name and year.
TEMPLATES = ["Who founded {name}?", "Where is {name} based?", "When did {name} open in {year}?",
             "Which event did {name} sponsor?", "What does {name} export?", "Who led {name} after {year}?"]


def synthetic(n_passages=12, per_passage=6, signal=3.0, ratios=(0.0,), seed=0, dim=16, label_by="passage"):
    """A table + states (rows, 1 layer, dim) + question-only states (same shape).

    The label is planted in the states (signal=0: pure noise). label_by="passage": the label
    of a template changes from passage to passage, so the question alone cannot give it (the
    question-only states encode the template only); label_by="question": the template fixes
    the label, and the question-only states carry it too.
    """
    rng = np.random.default_rng(seed)
    rows, states, qonly = [], [], []
    centres = rng.normal(size=(len(CLASSES), dim))
    wording = rng.normal(size=(len(TEMPLATES), dim))
    for ratio in ratios:
        for p in range(n_passages):
            for q in range(per_passage):
                c = (p + q) % len(CLASSES) if label_by == "passage" else q % len(CLASSES)
                name = f"Tamiduon{chr(65 + p % 26)}{p} Consortium"
                rows.append(dict(model="m", dataset="d", regime="agnostic", press="adakv", ratio=ratio,
                                 passage_id=f"p{p}", qid=f"p{p}-q{q}", answer_type=CLASSES[c],
                                 question=TEMPLATES[q % len(TEMPLATES)].format(name=name, year=1800 + p),
                                 answers=json.dumps([f"answer {p} {q}"])))
                states.append(signal * centres[c] + rng.normal(size=dim))
                template = signal * (centres[c] if label_by == "question" else wording[q % len(TEMPLATES)])
                qonly.append(template + rng.normal(size=dim))
    table = pd.DataFrame(rows)
    table.attrs["layers"] = [7]
    as3d = lambda a: np.asarray(a, dtype=np.float32)[:, None, :]  # noqa: E731
    return table, as3d(states), as3d(qonly).astype(np.float16)


def write_unit(directory, table, X, Q=None):
    directory.mkdir(parents=True)
    arrays = dict(states=X.astype(np.float16), layers=np.array([7]), qid=table["qid"].to_numpy(str),
                  press=table["press"].to_numpy(str), ratio=table["ratio"].to_numpy(float))
    if Q is not None:
        arrays["question_only"] = Q
    np.savez(directory / "hidden.npz", **arrays)
    table.assign(error_class="correct").to_parquet(directory / "scores.parquet")
    return str(directory / "hidden.npz"), str(directory / "scores.parquet")
