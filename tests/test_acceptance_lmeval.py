"""Catalogue prompts against lm-eval 0.4.13 itself, per sample, on the real model and data we have offline.

120 ARC-Easy questions (../shared/data/arc_easy) and the first 12 of four CMMLU subjects, 5-shot
(../shared/data/cmmlu), are first written in
their hub schemas (ARC's parquet with `choices.text/label` and `answerKey`; CMMLU's per-split CSV files),
then (1) `harness data pull --from` converts them and `harness eval --datasets arc_easy|cmmlu` scores them
with prompt_style lm-eval, and (2) lm-eval runs its own `arc_easy` and `cmmlu_<subject>` task files,
included unchanged and pointed at the same files. Every sample must pick the same option, and every
option's log-likelihood must agree within 1e-4 (fp32 on the CPU).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.acceptance

lm_eval = pytest.importorskip("lm_eval")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from harness.backends.default_model import resolve_alias  # noqa: E402
from harness.cli.main import main  # noqa: E402

ARC_N = 80  # questions of ARC-Easy's 2376 (lm-eval scores each option in its own request: minutes on 2 cores)
CMMLU = ("agronomy", "arts", "computer_security", "marketing")
CMMLU_N = 6  # first questions per subject: 5-shot Chinese prompts run to ~2,000 tokens with this tokenizer
TASKS_DIR = Path(lm_eval.__file__).parent / "tasks"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def arc_hub(shared: Path, root: Path) -> None:
    schema = pa.schema([("id", pa.string()), ("question", pa.string()),
                        ("choices", pa.struct([("text", pa.list_(pa.string())), ("label", pa.list_(pa.string()))])),
                        ("answerKey", pa.string())])  # fmt: skip
    for split, name, n in (("test", "arc_easy_val.csv", ARC_N), ("train", "arc_easy_dev.csv", 30)):
        rows = []
        for r in read_csv(shared / "arc_easy" / name)[:n]:
            texts = [r[c] for c in "ABCDE" if r.get(c, "").strip()]
            rows.append({"id": r["id"], "question": r["question"], "choices": {"text": texts, "label": list("ABCDE"[: len(texts)])},
                         "answerKey": r["answer"]})  # fmt: skip
        (root / "ARC-Easy").mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "ARC-Easy" / f"{split}-00000-of-00001.parquet")


def cmmlu_hub(shared: Path, root: Path) -> None:
    for subject in CMMLU:
        for split, suffix in (("test", "val"), ("dev", "dev")):
            (root / split).mkdir(parents=True, exist_ok=True)
            with (root / split / f"{subject}.csv").open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["", "Question", "A", "B", "C", "D", "Answer"])
                for i, r in enumerate(read_csv(shared / "cmmlu" / f"{subject}_{suffix}.csv")):
                    w.writerow([i, r["question"], r["A"], r["B"], r["C"], r["D"], r["answer"]])


def ours(tmp_path: Path, name: str, hub: Path, capsys, limit: int | None = None) -> dict[str, list[list[float]]]:
    folder = tmp_path / f"{name}_ours"
    assert main(["data", "pull", name, "--from", str(hub), "--to", str(folder)]) == 0
    args = json.dumps({name: {"local_path": str(folder)}})
    run = tmp_path / f"{name}_run"
    assert (
        main(["eval", "--datasets", name, "--dataset-args", args, "--run-dir", str(run), *(["--limit", str(limit)] if limit else [])]) == 0
    )
    capsys.readouterr()
    info = json.loads((run / "results.json").read_text())["tasks"][name]
    assert info["prompt_style"] == "lm-eval"
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    by_subset: dict[str, list[list[float]]] = {}
    for s in sorted(samples, key=lambda s: (s["subset"], s["index"])):
        by_subset.setdefault(s["subset"], []).append(s["option_logprobs"])
    return by_subset


def theirs(tmp_path: Path, yamls: dict[str, str], shots: int | None, limit: int | None = None) -> dict[str, list[list[float]]]:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    include = tmp_path / "lm_eval_tasks"
    include.mkdir()
    for task, text in yamls.items():
        (include / f"{task}.yaml").write_text(text, encoding="utf-8")
    model = resolve_alias("smollm2-135m-instruct")
    out = simple_evaluate(model="hf", model_args=f"pretrained={model},dtype=float32", tasks=list(yamls), num_fewshot=shots, limit=limit,
                          task_manager=TaskManager(include_path=str(include)), batch_size=16, device="cpu", log_samples=True)  # fmt: skip
    result = {}
    for task in yamls:
        docs = sorted(out["samples"][task], key=lambda d: d["doc_id"])
        result[task] = [[float(r[0][0]) for r in d["resps"]] for d in docs]
    return result


def agree(a: list[list[float]], b: list[list[float]]) -> tuple[int, float]:
    assert len(a) == len(b) and all(len(x) == len(y) for x, y in zip(a, b, strict=True))
    same = sum(max(range(len(x)), key=x.__getitem__) == max(range(len(y)), key=y.__getitem__) for x, y in zip(a, b, strict=True))
    worst = max(abs(p - q) for x, y in zip(a, b, strict=True) for p, q in zip(x, y, strict=True))
    return same, worst


def test_arc_easy_equals_lm_evals_arc_easy_per_sample(shared_data, tmp_path, capsys):
    hub = tmp_path / "ai2_arc"
    arc_hub(shared_data, hub)
    mine = ours(tmp_path, "arc_easy", hub, capsys)["arc_easy"]
    yaml = (f"include: {TASKS_DIR / 'arc' / 'arc_easy.yaml'}\ntask: arc_easy_shared\ntag: []\ndataset_path: parquet\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n    test: {hub / 'ARC-Easy' / 'test-00000-of-00001.parquet'}\n"
            f"    train: {hub / 'ARC-Easy' / 'train-00000-of-00001.parquet'}\nvalidation_split: null\n")  # fmt: skip
    other = theirs(tmp_path, {"arc_easy_shared": yaml}, 0)["arc_easy_shared"]
    same, worst = agree(mine, other)
    print(f"arc_easy: same choice {same}/{len(mine)}, max |dlogL| {worst:.2e}")
    assert len(mine) == ARC_N and same == len(mine) and worst < 1e-4


def test_cmmlu_equals_lm_evals_cmmlu_per_sample_five_shot(shared_data, tmp_path, capsys):
    hub = tmp_path / "cmmlu"
    cmmlu_hub(shared_data, hub)
    mine = ours(tmp_path, "cmmlu", hub, capsys, limit=CMMLU_N)
    yamls = {
        f"cmmlu_{s}_shared": (
            f"include: {TASKS_DIR / 'cmmlu' / f'cmmlu_{s}.yaml'}\ntask: cmmlu_{s}_shared\ndataset_path: csv\n"
            f"dataset_name: null\ndataset_kwargs:\n  data_files:\n    test: {hub / 'test' / f'{s}.csv'}\n"
            f"    dev: {hub / 'dev' / f'{s}.csv'}\n"
        )  # fmt: skip
        for s in CMMLU
    }
    other = theirs(tmp_path, yamls, 5, limit=CMMLU_N)
    total = 0
    for s in CMMLU:
        same, worst = agree(mine[s], other[f"cmmlu_{s}_shared"])
        print(f"cmmlu {s}: same choice {same}/{len(mine[s])}, max |dlogL| {worst:.2e}")
        assert same == len(mine[s]) and worst < 1e-4
        total += len(mine[s])
    assert total == CMMLU_N * len(CMMLU)


TQA_N = 15  # questions: each has 4-13 options, every one scored after lm-eval's six-example prompt


def truthfulqa_hub(shared: Path, root: Path) -> None:
    """truthful_qa's multiple_choice schema, written from ARC-Easy questions: the true answer first in mc1, and in mc2
    the true answer and a second one marked true; distractors from other questions bring some to 13 options."""
    targets = pa.struct([("choices", pa.list_(pa.string())), ("labels", pa.list_(pa.int32()))])
    schema = pa.schema([("question", pa.string()), ("mc1_targets", targets), ("mc2_targets", targets)])
    arc = read_csv(shared / "arc_easy" / "arc_easy_val.csv")
    rows = []
    for i, r in enumerate(arc[:TQA_N]):
        options = [r[c] for c in "ABCDE" if r.get(c, "").strip()]
        true = options["ABCDE".index(r["answer"])]
        false = [o for o in options if o != true] + [arc[(i + k) % len(arc)]["A"] for k in range(1, 1 + (9 if i % 3 == 0 else 0))]
        mc1 = {"choices": [true, *false], "labels": [1] + [0] * len(false)}
        mc2 = {"choices": [true, false[0], *false[1:]], "labels": [1, 1] + [0] * (len(false) - 1)}
        rows.append({"question": r["question"], "mc1_targets": mc1, "mc2_targets": mc2})
    (root / "multiple_choice").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "multiple_choice" / "validation-00000-of-00001.parquet")


def test_truthfulqa_mc1_and_mc2_equal_lm_evals_per_sample(shared_data, tmp_path, capsys):
    import math

    hub = tmp_path / "truthful_qa"
    truthfulqa_hub(shared_data, hub)
    mine = {name: ours(tmp_path, name, hub, capsys)[name] for name in ("truthfulqa_mc1", "truthfulqa_mc2")}
    data = hub / "multiple_choice" / "validation-00000-of-00001.parquet"
    yamls = {f"{name}_shared": (f"include: {TASKS_DIR / 'truthfulqa' / f'{name}.yaml'}\ntask: {name}_shared\ntag: []\n"
                                f"dataset_path: parquet\ndataset_name: null\ndataset_kwargs:\n  data_files:\n    validation: {data}\n")
             for name in ("truthfulqa_mc1", "truthfulqa_mc2")}  # fmt: skip
    other = theirs(tmp_path, yamls, 0)
    for name in ("truthfulqa_mc1", "truthfulqa_mc2"):
        same, worst = agree(mine[name], other[f"{name}_shared"])
        print(f"{name}: same choice {same}/{len(mine[name])}, max |dlogL| {worst:.2e}, options up to {max(map(len, mine[name]))}")
        assert len(mine[name]) == TQA_N and same == TQA_N and worst < 1e-4 and max(map(len, mine[name])) >= 13
    # MC2 from lm-eval's own log-likelihoods, by its formula, equals our per-sample mc2 (from ours)
    run = tmp_path / "truthfulqa_mc2_run"
    records = sorted((json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()), key=lambda r: r["index"])
    for rec, lls in zip(records, other["truthfulqa_mc2_shared"], strict=True):
        probs = [math.exp(v) for v in lls]
        assert rec["scores"]["mc2"] == pytest.approx((probs[0] + probs[1]) / sum(probs), abs=1e-4)
