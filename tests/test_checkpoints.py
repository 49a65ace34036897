"""Checkpoint regression end to end: LoRA fine-tune with the callback, eval-checkpoints, compare."""

from __future__ import annotations

import json

import pytest

from harness.tasks import UserError
from harness.workflows.checkpoints import find_checkpoints


def test_find_checkpoints_trainer_and_ms_swift_layouts(tmp_path):
    for rel in ("checkpoint-10", "checkpoint-2", "v1-20260101-000000/checkpoint-5", "v0-20251231-000000/checkpoint-7", "logs"):
        (tmp_path / rel).mkdir(parents=True)
    (tmp_path / "checkpoint-2" / "adapter_config.json").write_text("{}")
    found = find_checkpoints(tmp_path)
    assert [(c.name, c.step, c.adapter) for c in found] == [
        ("checkpoint-2", 2, True),
        ("checkpoint-10", 10, False),
        ("v0-20251231-000000/checkpoint-7", 7, False),
        ("v1-20260101-000000/checkpoint-5", 5, False),
    ]
    with pytest.raises(UserError, match="no checkpoint-N folders"):
        find_checkpoints(tmp_path / "logs")


@pytest.mark.slow
def test_lora_finetune_callback_eval_checkpoints_and_compare(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from harness.backends.default_model import resolve_alias
    from harness.cli.main import main
    from harness.integrations.transformers import EvalCallback, preserved_training_state

    base_dir = resolve_alias("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token  # a GGUF-built tokenizer may have none
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir), LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    )

    texts = ["Question: What is H2O?\nAnswer: water", "Question: Largest planet?\nAnswer: Jupiter"] * 8

    class Tiny(torch.utils.data.Dataset):
        def __len__(self):
            return len(texts)

        def __getitem__(self, i):
            ids = tokenizer(texts[i], padding="max_length", max_length=24, truncation=True, return_tensors="pt")
            return {"input_ids": ids.input_ids[0], "attention_mask": ids.attention_mask[0], "labels": ids.input_ids[0]}

    out = tmp_path / "out"
    args = TrainingArguments(
        output_dir=str(out), max_steps=4, save_steps=2, per_device_train_batch_size=4, learning_rate=5e-3,
        logging_steps=1, report_to=[], use_cpu=True, save_strategy="steps", seed=0,
    )  # fmt: skip
    callback = EvalCallback(datasets=("general_mcq", "general_qa"), limit=12)
    trainer = Trainer(model=model, args=args, train_dataset=Tiny(), processing_class=tokenizer)
    callback.attach(trainer)
    trainer.train()

    assert [h["step"] for h in callback.history] == [2, 4]
    logged = [e for e in trainer.state.log_history if "harness/general_mcq/example/acc" in e]
    assert len(logged) == 2  # through trainer.log, so every reporting integration sees them
    assert model.training  # the training state came back

    # Evaluation does not touch the training state: mode, grads, RNG.
    model.train()
    rng = torch.get_rng_state()
    with preserved_training_state(model):
        callback._run(args, trainer.state, {"model": model, "processing_class": tokenizer}, tmp_path / "extra")
    assert model.training and torch.equal(rng, torch.get_rng_state())
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)

    # The callback evaluated both checkpoints with these settings: eval-checkpoints finds and reuses them.
    # One default per setting (max_new_tokens included), so MCQ and QA runs of the callback are both reused.
    args = ["eval-checkpoints", str(out), "--model", str(base_dir), "--datasets", "general_mcq", "general_qa", "--limit", "12"]
    before = {step: (out / f"checkpoint-{step}" / "harness_eval" / "results.json").read_bytes() for step in (2, 4)}
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "general_mcq/acc" in printed
    assert [
        line.rsplit(",", 1)[1] for line in (out / "harness_eval" / "trend.csv").read_text().splitlines() if line.startswith("checkpoint-")
    ] == ["earlier (reused)"] * 2
    assert all((out / f"checkpoint-{step}" / "harness_eval" / "results.json").read_bytes() == before[step] for step in (2, 4))
    assert (out / "harness_eval" / "trend.png").exists()
    trend = (out / "harness_eval" / "trend.csv").read_text().splitlines()
    assert trend[0].startswith("checkpoint,step,general_mcq/acc,general_mcq/acc_norm,general_qa/")
    # The base model is step 0 (known from --model) and the chance level is a row: a collapse reads as one.
    assert [row.split(",")[:2] for row in trend[1:]] == [["base", "0"], ["checkpoint-2", "2"], ["checkpoint-4", "4"], ["chance", "-"]]
    assert trend[-1].split(",")[2] == "0.2500"  # the example's 12 questions have 4 options each

    # Evaluated afresh after training (another output folder), the saved adapters give the callback's answers.
    assert main([*args, "--output", str(tmp_path / "fresh")]) == 0
    capsys.readouterr()
    assert [line.rsplit(",", 1)[1] for line in (tmp_path / "fresh" / "trend.csv").read_text().splitlines()[1:]] == ["now"] * 3 + ["-"]
    for step in (2, 4):
        cb_samples = [
            json.loads(line) for line in (out / f"checkpoint-{step}" / "harness_eval" / "samples.jsonl").read_text().split("\n") if line
        ]
        cli_samples = [
            json.loads(line) for line in (tmp_path / "fresh" / f"checkpoint-{step}" / "samples.jsonl").read_text().split("\n") if line
        ]
        assert [s.get("prediction") for s in cb_samples] == [s.get("prediction") for s in cli_samples]  # QA text too
        cb_samples = [s for s in cb_samples if s["task"] == "general_mcq"]
        cli_samples = [s for s in cli_samples if s["task"] == "general_mcq"]
        assert [s["chosen"] for s in cb_samples] == [s["chosen"] for s in cli_samples]
        worst = max(
            abs(a - b)
            for x, y in zip(cb_samples, cli_samples, strict=True)
            for a, b in zip(x["option_logprobs"], y["option_logprobs"], strict=True)
        )
        assert worst < 1e-3

    first, last = (out / "checkpoint-2" / "harness_eval"), (out / "checkpoint-4" / "harness_eval")
    assert main(["compare", str(first), str(last), "--format", "md"]) == 0
    assert "| checkpoint-4 | general_mcq | acc | example | 12 |" in capsys.readouterr().out

    # An adapter folder given straight to `harness eval --model` loads its base and gives the same answers.
    assert (
        main(
            [
                "eval",
                "--model",
                str(out / "checkpoint-4"),
                "--datasets",
                "general_mcq",
                "--limit",
                "12",
                "--run-dir",
                str(tmp_path / "direct"),
            ]
        )
        == 0
    )
    direct = [json.loads(line) for line in (tmp_path / "direct" / "samples.jsonl").read_text().split("\n") if line]
    via_cli = [json.loads(line) for line in (last / "samples.jsonl").read_text().split("\n") if line]
    via_cli = [s for s in via_cli if s["task"] == "general_mcq"]
    assert [s["chosen"] for s in direct] == [s["chosen"] for s in via_cli]
    assert json.loads((tmp_path / "direct" / "results.json").read_text())["model"]["fingerprint"]["adapter"].endswith("checkpoint-4")


@pytest.mark.slow
def test_eval_checkpoints_reuses_unchanged_inputs_and_reevaluates_after_a_data_edit(tmp_path, capsys):
    """Full-weight checkpoints: a second pass reuses both; editing the data file evaluates both again."""
    import shutil

    from harness.backends.default_model import resolve_alias
    from harness.cli.main import main

    base = resolve_alias("smollm2-135m-instruct")
    for step in (1, 2):
        shutil.copytree(base, tmp_path / "train" / f"checkpoint-{step}")
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        "id,question,A,B,C,D,answer",
        "1,What is 2+2?,3,4,5,6,B",
        "2,Capital of France?,Rome,Paris,Oslo,Bern,B",
        "3,H2O is?,salt,water,gold,air,B",
    ]
    (data / "mini_val.csv").write_text("\n".join(rows) + "\n")
    args = ["eval-checkpoints", str(tmp_path / "train"), "--datasets", "general_mcq",
            "--dataset-args", json.dumps({"general_mcq": {"local_path": str(data)}})]  # fmt: skip

    def evaluated() -> list[str]:
        assert main(args) == 0
        capsys.readouterr()
        trend = (tmp_path / "train" / "harness_eval" / "trend.csv").read_text().splitlines()[1:]
        assert trend[-1].startswith("chance,-,0.2500,")  # 4 options each; no base row: full weights, no --model
        return [line.rsplit(",", 1)[1] for line in trend if line.startswith("checkpoint-")]

    assert evaluated() == ["now", "now"]
    results = [(tmp_path / "train" / f"checkpoint-{s}" / "harness_eval" / "results.json").read_bytes() for s in (1, 2)]
    assert evaluated() == ["earlier (reused)", "earlier (reused)"]
    assert [(tmp_path / "train" / f"checkpoint-{s}" / "harness_eval" / "results.json").read_bytes() for s in (1, 2)] == results
    (data / "mini_val.csv").write_text("\n".join([*rows[:3], "3,H2O is?,salt,water,gold,air,A"]) + "\n")  # an answer key fixed
    assert evaluated() == ["now", "now"]
    fixed = json.loads((tmp_path / "train" / "checkpoint-1" / "harness_eval" / "samples.jsonl").read_text().split("\n")[2])
    assert fixed["answer"] == ["A"]
