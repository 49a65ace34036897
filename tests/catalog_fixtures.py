"""Small files in each catalogue benchmark's real hub schema (columns and types of the hub's parquet/CSV
files, per the dataset cards), laid out as `huggingface-cli download --repo-type dataset` leaves them.
Odd rows are planted on purpose: missing options, answers as index / letter / label, digit labels."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

# Collected as a doctest module in every venv (the vLLM one has no pyarrow): skip there, not fail.
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _parquet(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


MMLU = pa.schema([("question", pa.string()), ("subject", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.int64())])
CHOICES = pa.struct([("text", pa.list_(pa.string())), ("label", pa.list_(pa.string()))])
ARC = pa.schema([("id", pa.string()), ("question", pa.string()), ("choices", CHOICES), ("answerKey", pa.string())])
CEVAL = pa.schema([("id", pa.int32()), ("question", pa.string()), ("A", pa.string()), ("B", pa.string()), ("C", pa.string()),
                   ("D", pa.string()), ("answer", pa.string()), ("explanation", pa.string())])  # fmt: skip
HELLASWAG = pa.schema([("ind", pa.int32()), ("activity_label", pa.string()), ("ctx_a", pa.string()), ("ctx_b", pa.string()),
                       ("ctx", pa.string()), ("endings", pa.list_(pa.string())), ("source_id", pa.string()), ("split", pa.string()),
                       ("split_type", pa.string()), ("label", pa.string())])  # fmt: skip
GSM8K = pa.schema([("question", pa.string()), ("answer", pa.string())])


def mmlu(root: Path) -> None:
    for subject in ("abstract_algebra", "anatomy"):
        test = [
            {"question": f" Find the degree of {subject}? ", "subject": subject, "choices": ["0", "4", "2", "6"], "answer": 1},
            {"question": "Which is a bone?", "subject": subject, "choices": ["femur", "liver", "", ""], "answer": 0},  # 2 options
            {"question": "Broken row", "subject": subject, "choices": ["a", "", "c", "d"], "answer": 2},  # a gap: left out
        ]
        dev = [{"question": f"Dev {i}?", "subject": subject, "choices": ["w", "x", "y", "z"], "answer": i % 4} for i in range(5)]
        _parquet(root / subject / "test-00000-of-00001.parquet", test, MMLU)
        _parquet(root / subject / "dev-00000-of-00001.parquet", dev, MMLU)
    _parquet(root / "all" / "test-00000-of-00001.parquet", [], MMLU)  # the hub's "all" config is not a subject


def arc(root: Path, config: str = "ARC-Easy") -> None:
    def row(i: int, labels: list[str], key: str) -> dict:
        return {"id": f"Q{i}", "question": f"Question {i}?", "choices": {"text": [f"opt{j}" for j in range(len(labels))], "label": labels},
                "answerKey": key}  # fmt: skip

    test = [row(1, ["A", "B", "C", "D"], "C"), row(2, ["1", "2", "3", "4"], "4"), row(3, ["A", "B", "C"], "A"),
            row(4, ["A", "B", "C", "D", "E"], "E"), row(5, ["A", "B", "C", "D"], "F")]  # fmt: skip
    _parquet(root / config / "test-00000-of-00001.parquet", test, ARC)
    _parquet(root / config / "train-00000-of-00001.parquet", [row(10 + i, ["A", "B", "C", "D"], "B") for i in range(30)], ARC)
    _parquet(root / config / "validation-00000-of-00001.parquet", [row(99, ["A", "B"], "A")], ARC)


def ceval(root: Path) -> None:
    for subject in ("accountant", "advanced_mathematics"):
        val = [{"id": 0, "question": "会计问题？", "A": "甲", "B": "乙", "C": "丙", "D": "丁", "answer": "D", "explanation": ""},
               {"id": 1, "question": "第二题", "A": "1", "B": "2", "C": "3", "D": "4", "answer": "b", "explanation": "x"}]  # fmt: skip
        dev = [{"id": i, "question": f"例{i}", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "A", "explanation": "因为"}
               for i in range(5)]  # fmt: skip
        test = [{"id": 0, "question": "无答案", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "", "explanation": ""}]
        _parquet(root / subject / "val-00000-of-00001.parquet", val, CEVAL)
        _parquet(root / subject / "dev-00000-of-00001.parquet", dev, CEVAL)
        _parquet(root / subject / "test-00000-of-00001.parquet", test, CEVAL)


def cmmlu(root: Path, subjects: tuple[str, ...] = ("agronomy", "anatomy")) -> None:
    """CMMLU's repository keeps CSV files per split: test/agronomy.csv, dev/agronomy.csv (Question,A,B,C,D,Answer)."""
    for subject in subjects:
        for split, rows in (("test", [["", "土壤是什么？", "甲", "乙", "丙", "丁", "C"], ["", "第二题", "1", "2", "3", "4", "A"]]),
                            ("dev", [["", f"例{i}", "a", "b", "c", "d", "B"] for i in range(5)])):  # fmt: skip
            path = root / split / f"{subject}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["", "Question", "A", "B", "C", "D", "Answer"])
                w.writerows([[str(i), *r[1:]] for i, r in enumerate(rows)])


def hellaswag(root: Path) -> None:
    def row(i: int, label: str) -> dict:
        return {"ind": i, "activity_label": "Removing ice from car", "ctx_a": "Then, the man writes over the snow on a car.",
                "ctx_b": "a woman wearing winter clothes", "ctx": "", "endings": [" [title] Her hat is red.", "drives  away [step] now",
                "smiles.", "sings."], "source_id": "x", "split": "val", "split_type": "indomain", "label": label}  # fmt: skip

    _parquet(root / "data" / "validation-00000-of-00001.parquet", [row(1, "3"), row(2, "0"), row(3, "")], HELLASWAG)
    _parquet(root / "data" / "train-00000-of-00001.parquet", [row(10 + i, "1") for i in range(3)], HELLASWAG)


def gsm8k(root: Path) -> None:
    test = [{"question": "Janet has 3 apples and buys 2. How many?", "answer": "3 + 2 = <<3+2=5>>5\n#### 5"},
            {"question": "A shop sells 1,200 pens a day. How many in 2 days?", "answer": "1,200 * 2 = 2,400\n#### 2,400"}]  # fmt: skip
    train = [{"question": f"Train {i}?", "answer": f"Work {i}\n#### {i}"} for i in range(8)]
    _parquet(root / "main" / "test-00000-of-00001.parquet", test, GSM8K)
    _parquet(root / "main" / "train-00000-of-00001.parquet", train, GSM8K)
    _parquet(root / "socratic" / "test-00000-of-00001.parquet", [{"question": "other config", "answer": "#### 0"}], GSM8K)


TARGETS = pa.struct([("choices", pa.list_(pa.string())), ("labels", pa.list_(pa.int32()))])
TRUTHFULQA = pa.schema([("question", pa.string()), ("mc1_targets", TARGETS), ("mc2_targets", TARGETS)])


def truthfulqa(root: Path) -> None:
    """truthful_qa's multiple_choice config: the true answer first in mc1; several true answers in mc2; up to 13 options."""
    rows = []
    for i, n in enumerate((4, 13, 2)):
        mc1 = {"choices": [f"true answer {i}"] + [f"false {i}.{j}" for j in range(1, n)], "labels": [1] + [0] * (n - 1)}
        mc2 = {"choices": [f"true {i}.a", f"true {i}.b"] + [f"false {i}.{j}" for j in range(2, n)], "labels": [1, 1] + [0] * (n - 2)}
        rows.append({"question": f"Question {i}?", "mc1_targets": mc1, "mc2_targets": mc2})
    rows.append({"question": "No true answer?", "mc1_targets": {"choices": ["a", "b"], "labels": [0, 0]},
                 "mc2_targets": {"choices": ["a", "b"], "labels": [0, 0]}})  # fmt: skip
    _parquet(root / "multiple_choice" / "validation-00000-of-00001.parquet", rows, TRUTHFULQA)


BUILDERS = {"mmlu": mmlu, "arc_easy": arc, "arc_challenge": lambda root: arc(root, "ARC-Challenge"), "ceval": ceval, "cmmlu": cmmlu,
            "hellaswag": hellaswag, "gsm8k": gsm8k, "truthfulqa_mc1": truthfulqa, "truthfulqa_mc2": truthfulqa}  # fmt: skip
