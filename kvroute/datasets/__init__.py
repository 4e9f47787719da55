"""Deterministic synthetic QA datasets (paper section 3.1, Appendix A).

    generate(name, n_passages, seed) -> list of records
    validate_record(rec)             -> raises ValueError on a contract breach
    write_jsonl / load_jsonl         -> validated, atomic JSONL
    dataset_stats(records)           -> Table 1 numbers
"""

from .io import load_jsonl, write_jsonl
from .registry import GENERATORS, generate
from .schema import ANSWER_TYPES, DIRECTIONS, IDK, QUESTION_TYPES, UNIQUE_ANSWER_DATASETS, validate_record
from .stats import dataset_stats

__all__ = ["GENERATORS", "generate", "validate_record", "write_jsonl", "load_jsonl", "dataset_stats",
           "ANSWER_TYPES", "QUESTION_TYPES", "DIRECTIONS", "IDK", "UNIQUE_ANSWER_DATASETS"]
