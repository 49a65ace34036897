"""general_mcq loader rules: exact strings, encodings, variable options, line numbers, answers."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import TEST_DATA, write

from harness.tasks import DataError, UserError, load_mcq, parse_dataset_args

HEADER = "id,question,A,B,C,D,answer\n"


def load(folder: Path, scoring: str = "letter", **args):
    return load_mcq("general_mcq", parse_dataset_args("general_mcq", {"local_path": str(folder), **args}), scoring)


def error_of(folder: Path, **args) -> str:
    with pytest.raises(UserError) as info:
        load(folder, **args)
    return str(info.value)


def test_cells_reach_the_prompt_exactly(tmp_path):
    write(tmp_path, "x_val.csv", HEADER + "1,Pick one,None,NA,null,N/A,A\n2,Pick,0.10,007,TRUE,,b\n")
    samples = load(tmp_path).samples
    assert samples[0].choices == ("None", "NA", "null", "N/A")
    assert samples[1].choices == ("0.10", "007", "TRUE")
    assert samples[1].answer == ("B",)
    text = samples[0].messages[-1]["content"]
    assert "A) None\nB) NA\nC) null\nD) N/A" in text


def test_bom_is_accepted_and_gbk_is_a_clear_error(tmp_path):
    write(tmp_path / "bom", "x_val.csv", "\ufeff" + HEADER + "1,问题,甲,乙,丙,丁,A\n")
    assert load(tmp_path / "bom").samples[0].choices[0] == "甲"
    write(tmp_path / "gbk", "x_val.csv", (HEADER + "1,问题,甲,乙,丙,丁,A\n").encode("gbk"))
    msg = error_of(tmp_path / "gbk")
    assert "x_val.csv line 2: not valid UTF-8" in msg and "encoding" in msg
    assert load(tmp_path / "gbk", encoding="gbk").samples[0].choices == ("甲", "乙", "丙", "丁")


def test_variable_option_counts_and_empty_trailing_options(tmp_path):
    csv = "id,question,A,B,C,D,E,answer\n1,q,a,b,c,,,C\n2,q,a,b,c,d,e,E\n3,q,a,b,c,d,,D\n"
    write(tmp_path, "x_val.csv", csv)
    samples = load(tmp_path).samples
    assert [len(s.choices) for s in samples] == [3, 5, 4]
    assert samples[0].letters == "ABC"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("1,q,a,,c,d,A\n", "line 2: option B is empty but D is not"),
        ("1,q,a,,,,A\n", "line 2: 1 option(s); at least 2 are needed"),
        ("1,q,a,b,c,d,E\n", "line 2: answer 'E' is not among the options A,B,C,D"),
        ("1,q,a,b,,,C\n", "line 2: answer 'C' is not among the options A,B"),
        ("1, ,a,b,c,d,A\n", "line 2: empty question"),
        ("1,q,a,b,c,d\n", "line 2: 6 fields, header has 7 (a field is missing"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, row, expected):
    write(tmp_path, "x_val.csv", HEADER + row)
    msg = error_of(tmp_path)
    assert "x_val.csv " + expected in msg


def test_answer_is_trimmed_and_case_insensitive(tmp_path):
    write(tmp_path, "x_val.csv", HEADER + "1,q,a,b,c,d, c \n")
    assert load(tmp_path).samples[0].answer == ("C",)


def test_multiline_quoted_cells_count_physical_lines(tmp_path):
    csv = HEADER + '1,"line one\nline two\nline three",a,b,c,d,A\n2,q,a,b,c,d,Z\n'
    write(tmp_path, "x_val.csv", csv)
    assert "x_val.csv line 5: answer 'Z'" in error_of(tmp_path)


def test_malformed_upstream_example(tmp_path):
    msg = error_of(TEST_DATA / "example_malformed")
    assert msg.endswith("example_val.csv line 3: 11 fields, header has 9 (quote fields that contain commas)")


def test_on_bad_row_skip_counts_skipped_rows():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load(TEST_DATA / "example_malformed", on_bad_row="skip")
    assert loaded.skipped == 1 and len(loaded.samples) == 11
    assert any("line 3" in str(w.message) for w in caught)


def test_multiple_correct_answers(tmp_path):
    write(tmp_path, "x_val.csv", HEADER + '1,q,a,b,c,d,AC\n2,q,a,b,c,d,"A,C"\n3,q,a,b,c,d,"[""D"",""B""]"\n')
    samples = load(tmp_path, "generate", multiple_correct=True).samples
    assert [s.answer for s in samples] == [("A", "C"), ("A", "C"), ("B", "D")]
    assert "multiple_correct" in error_of(tmp_path)


def test_metadata_and_category_kept(tmp_path):
    write(tmp_path, "x_val.csv", "id,category,question,A,B,answer,explanation\n7,数学,q,a,b,A,why\n")
    s = load(tmp_path).samples[0]
    assert s.id == "7" and s.category == "数学" and s.metadata == {"category": "数学", "explanation": "why"}


def test_jsonl_records_are_accepted(tmp_path):
    write(tmp_path, "x_val.jsonl", '{"id": 1, "question": "q", "A": "0.10", "B": 7, "answer": "b"}\n\n')
    s = load(tmp_path).samples[0]
    assert s.choices == ("0.10", "7") and s.answer == ("B",)


def test_subsets_sorted_and_selected(tmp_path):
    for name in ("b", "a"):
        write(tmp_path, f"{name}_val.csv", HEADER + "1,q,a,b,c,d,A\n")
    assert [s.subset for s in load(tmp_path).samples] == ["a", "b"]
    assert [s.subset for s in load(tmp_path, subset_list=["b"]).samples] == ["b"]
    assert "subset 'zz' from subset_list has no file" in error_of(tmp_path, subset_list=["zz"])
    assert "is a path" in error_of(tmp_path, subset_list=["../x"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "x_val.csv: empty file"),
        (HEADER, "x_val.csv: no data rows (header only)"),
        ("id,question,A,B,C,D\n", 'x_val.csv line 1: missing column "answer"'),
        ("id,question,A,B,D,answer\n", "x_val.csv line 1: option columns A,B,D have a gap"),
        (b"\x00\x01binary", "x_val.csv: binary file"),
    ],
)
def test_file_level_errors(tmp_path, content, expected):
    write(tmp_path, "x_val.csv", content)
    assert expected in error_of(tmp_path)


def test_no_matching_files_and_missing_folder(tmp_path):
    assert "no {subset}_val.csv files" in error_of(tmp_path)
    assert "no such folder" in error_of(tmp_path / "missing")


def test_dataset_arg_types_are_checked(tmp_path):
    with pytest.raises(UserError, match="few_shot_num for general_mcq must be a whole number in"):
        parse_dataset_args("general_mcq", {"few_shot_num": "5"})
    with pytest.raises(UserError, match="unknown dataset arg 'subsets'"):
        parse_dataset_args("general_mcq", {"subsets": ["a"]})
    with pytest.raises(UserError, match="scoring for general_mcq must be one of"):
        parse_dataset_args("general_mcq", {"scoring": "logits"})


def test_duplicate_ids_warn(tmp_path):
    write(tmp_path, "x_val.csv", HEADER + "1,q,a,b,c,d,A\n1,q2,a,b,c,d,B\n")
    with pytest.warns(UserWarning, match="duplicate id '1'"):
        assert len(load(tmp_path).samples) == 2


def test_few_shot_turns_and_language(tmp_path):
    write(tmp_path, "x_val.csv", HEADER + "1,Which is red?,sky,apple,grass,snow,B\n")
    write(tmp_path, "x_dev.csv", HEADER + "1,Which is white?,snow,coal,tar,ink,A\n2,Which is green?,sky,grass,coal,ink,B\n")
    s = load(tmp_path, few_shot_num=2).samples[0]
    roles = [m["role"] for m in s.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert s.messages[1]["content"] == "ANSWER: A" and s.messages[3]["content"] == "ANSWER: B"
    assert s.messages[-1]["content"].startswith("Answer the following multiple choice question.")
    assert s.answer_prefix == "ANSWER:" and s.target_delimiter == " "
    with pytest.raises(DataError, match="no x_dev.csv"):
        (tmp_path / "x_dev.csv").unlink()
        load(tmp_path, few_shot_num=1)


def test_chinese_template_and_custom_template(tmp_path):
    write(tmp_path, "x_val.csv", HEADER + "1,水的化学式是什么？,H2O,CO2,NaCl,O2,A\n")
    s = load(tmp_path).samples[0]
    assert s.messages[-1]["content"].startswith("回答下面的单项选择题，请选出其中的正确答案。")
    assert "问题：水的化学式是什么？\n选项：\nA) H2O\nB) CO2" in s.messages[-1]["content"]
    assert s.answer_prefix == "答案：" and s.target_delimiter == ""
    custom = load(tmp_path, prompt_template="Q: {question}\n{choices}\nAnswer:", choice_format="{letter}. {text}").samples[0]
    assert custom.messages[-1]["content"] == "Q: 水的化学式是什么？\nA. H2O\nB. CO2\nC. NaCl\nD. O2\nAnswer:"
    assert custom.answer_prefix == ""
