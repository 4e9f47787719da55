"""Routing at the first decoding step: head consensus and agreement per layer.

For each question row and layer, over the query heads H:
- consensus = |distinct argmax positions| / |H| (paper 5.1; lower = more agreement)
- rho       = max_t share of heads whose argmax is t (paper Prop. 3)
- on_answer = share of heads whose argmax lies in T_ans
- on_question = share of heads whose argmax is a question token (>= n_context_tokens)
- answer_mass = attention mass on T_ans, averaged over heads
- consensus_content, rho_content = the same over the argmax among content
  tokens only (attention sinks and question tokens excluded), so heads that
  park on the sink or read the question do not count as agreeing
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import present

CHUNK = 2048  # rows at a time: the head x head comparison is O(rows * layers * H^2)


def head_agreement(argmax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """argmax (..., H) -> (consensus, rho), each of shape (...)."""
    a = np.sort(np.asarray(argmax), axis=-1)
    H = a.shape[-1]
    distinct = 1 + (np.diff(a, axis=-1) != 0).sum(axis=-1)
    rho = np.empty(a.shape[:-1])
    flat, out = a.reshape(-1, H), rho.reshape(-1)
    for s in range(0, len(flat), CHUNK):
        block = flat[s:s + CHUNK]
        out[s:s + CHUNK] = (block[:, :, None] == block[:, None, :]).sum(-1).max(-1)
    return distinct / H, rho / H


def _check_aligned(predictions: pd.DataFrame, routing: dict) -> None:
    if len(routing["argmax"]) != len(predictions):
        raise ValueError(f"routing has {len(routing['argmax'])} rows, predictions {len(predictions)}")
    if "qid" in routing and not np.array_equal(np.asarray(routing["qid"]).astype(str),
                                               predictions["qid"].to_numpy(str)):
        raise ValueError("routing rows are not aligned with predictions (qid differs)")


def routing_per_question(predictions: pd.DataFrame, routing: dict) -> pd.DataFrame:
    """Long table (row, layer, consensus, rho, on_answer, on_question, answer_mass[, consensus_content,
    rho_content]).

    ``routing`` is the loaded routing.npz (argmax, answer_mass, qid ...);
    ``row`` indexes predictions.
    """
    _check_aligned(predictions, routing)
    argmax = np.asarray(routing["argmax"])
    n, L, H = argmax.shape
    consensus, rho = head_agreement(argmax)
    on_question = (argmax >= predictions["n_context_tokens"].to_numpy()[:, None, None]).mean(-1)
    on_answer = np.full((n, L), np.nan)
    for i, ev in enumerate(predictions["evidence_positions"]):
        if ev is not None and len(ev):
            on_answer[i] = np.isin(argmax[i], np.asarray(ev)).mean(-1)
    mass = np.asarray(routing["answer_mass"], dtype=float).mean(-1)
    rows, layers = np.meshgrid(np.arange(n), np.arange(L), indexing="ij")
    table = {"row": rows.ravel(), "layer": layers.ravel(), "consensus": consensus.ravel(), "rho": rho.ravel(),
             "on_answer": on_answer.ravel(), "on_question": on_question.ravel(), "answer_mass": mass.ravel()}
    content, rho_content = head_agreement(np.asarray(routing["argmax_content"]))
    table |= {"consensus_content": content.ravel(), "rho_content": rho_content.ravel()}
    return pd.DataFrame(table)


def routing_summary(predictions: pd.DataFrame, per_question: pd.DataFrame, group) -> pd.DataFrame:
    """Per group x layer means: consensus, rho, on_answer, on_question, answer_mass (+ n)."""
    group = present(predictions, group)
    keys = predictions[group].reset_index(drop=True).iloc[per_question["row"].to_numpy()].reset_index(drop=True)
    table = pd.concat([keys, per_question.drop(columns="row").reset_index(drop=True)], axis=1)
    means = [c for c in ("consensus", "rho", "on_answer", "on_question", "answer_mass", "consensus_content",
                         "rho_content") if c in table]
    agg = table.groupby([*group, "layer"], sort=True, dropna=False).agg(
        n=("consensus", "size"), **{c: (c, "mean") for c in means})
    return agg.reset_index()
