"""Dataset statistics for the paper's Table 1."""

import statistics

from .text import n_words


def dataset_stats(records) -> dict:
    records = list(records)
    words = [n_words(r["passage"]) for r in records]
    queries = [len(r["questions"]) for r in records]
    return {
        "passages": len(records),
        "queries": sum(queries),
        "words_per_passage_mean": statistics.fmean(words) if words else 0.0,
        "words_per_passage_std": statistics.pstdev(words) if words else 0.0,
        "queries_per_passage_mean": statistics.fmean(queries) if queries else 0.0,
    }
