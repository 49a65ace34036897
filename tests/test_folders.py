"""The folder writer every command uses (harness.core.folders) and the name checks (harness.core.names)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.core.errors import UserError
from harness.core.folders import MANIFEST, OwnedFolder, StagedFolder, read_manifest
from harness.core.names import check_apart, check_name, has_control, printable


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))  # the writers' locks live here


def staged(target: Path, files: dict[str, str], **kwargs) -> None:
    with StagedFolder(target, "example", **kwargs) as folder:
        for name, text in files.items():
            folder.write_text(name, text)
        folder.commit({"note": "test"})


def test_a_staged_folder_replaces_the_previous_one_whole(tmp_path):
    target = tmp_path / "out"
    staged(target, {"a.csv": "1", "b.csv": "2"})
    staged(target, {"a.csv": "3"})
    assert sorted(p.name for p in target.iterdir()) == ["a.csv", MANIFEST]  # b.csv of the first write is gone
    manifest = read_manifest(target)
    assert manifest["kind"] == "example" and list(manifest["files"]) == ["a.csv"] and manifest["note"] == "test"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".harness-")]  # no staging left behind


def test_a_failure_before_commit_leaves_the_previous_folder(tmp_path):
    target = tmp_path / "out"
    staged(target, {"a.csv": "1"})
    with pytest.raises(RuntimeError), StagedFolder(target, "example") as folder:
        folder.write_text("a.csv", "changed")
        raise RuntimeError("the pull failed half-way")
    assert (target / "a.csv").read_text() == "1" and not [p for p in tmp_path.iterdir() if p.name.startswith(".harness-")]


def test_a_users_folder_is_refused_naming_the_files_and_force_keeps_them(tmp_path):
    target = tmp_path / "my_data"
    target.mkdir()
    (target / "anatomy_val.csv").write_bytes(b"user's own\n")
    (target / "notes.txt").write_bytes(b"keep me\n")
    with pytest.raises(UserError, match=r"holds files the harness did not write \(anatomy_val.csv, notes.txt\).*--force"):
        staged(target, {"anatomy_val.csv": "ours"})
    assert (target / "anatomy_val.csv").read_bytes() == b"user's own\n" and not (target / MANIFEST).exists()
    staged(target, {"anatomy_val.csv": "ours"}, force=True)
    assert (target / "anatomy_val.csv").read_text() == "ours" and (target / "notes.txt").read_bytes() == b"keep me\n"
    staged(target, {"other.csv": "x"}, force=True)  # later writes keep the user's file too, and drop only our own
    assert (target / "notes.txt").read_bytes() == b"keep me\n" and not (target / "anatomy_val.csv").exists()


def test_another_kind_of_harness_folder_is_refused(tmp_path):
    staged(tmp_path / "out", {"a": "1"})
    with (
        pytest.raises(UserError, match="holds a harness example folder, not a quant-compare folder"),
        OwnedFolder(tmp_path / "out", "quant-compare"),
    ):
        pass


def test_two_writers_at_once_one_is_refused(tmp_path):
    target = tmp_path / "out"
    with StagedFolder(target, "example") as first:
        with pytest.raises(UserError, match="another harness process is writing this folder"), StagedFolder(target, "example"):
            pass
        first.write_text("a", "1")
        first.commit({})
    assert (target / "a").read_text() == "1"


def die_at_step(kill_at: int, names: tuple[str, ...], module) -> None:
    """In a forked child: count every call of `module.names` and `os.rename`, and SIGKILL this process at call `kill_at`."""
    calls = [0]

    def wrap(real):
        def counted(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return counted

    for name in names:
        setattr(module, name, wrap(getattr(module, name)))
    os.rename = wrap(os.rename)


def test_a_killed_writer_leaves_the_previous_folder_or_none_at_every_step(tmp_path):
    """SIGKILL before each file-system step of a rewrite: what is there is always a complete folder, or nothing."""
    from harness.core import folders

    target = tmp_path / "out"
    for kill_at in range(1, 12):
        staged(target, {"a.csv": "old", "b.csv": "old"})
        pid = os.fork()
        if pid == 0:  # the child: dies at step `kill_at` of the rewrite
            die_at_step(kill_at, ("_write_atomic", "_exchange", "_fsync_dir"), folders)
            staged(target, {"a.csv": "new", "c.csv": "new"})
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if target.exists():
            names = sorted(p.name for p in target.iterdir())
            assert names in (["a.csv", "b.csv", MANIFEST], ["a.csv", "c.csv", MANIFEST]), (kill_at, names)
            expected = "old" if "b.csv" in names else "new"
            assert (target / "a.csv").read_text() == expected
        if os.WIFEXITED(status):
            assert target.exists() and (target / "c.csv").exists()
            break
    else:
        pytest.fail("the rewrite never finished: more steps than expected")


def test_an_owned_folder_lists_what_it_wrote_and_refuses_a_users_folder(tmp_path):
    target = tmp_path / "quant"
    with OwnedFolder(target, "quant-compare") as folder:
        folder.write_text("quant_compare.md", "| x |")
        folder.subfolder("fp32").mkdir()
    manifest = read_manifest(target)
    assert list(manifest["files"]) == ["quant_compare.md"] and manifest["folders"] == ["fp32"]
    with OwnedFolder(target, "quant-compare"):  # ours again: accepted
        pass
    (target / "config.yaml").write_text("mine")
    with pytest.raises(UserError, match=r"holds files the harness did not write \(config.yaml\)"), OwnedFolder(target, "quant-compare"):
        pass
    with pytest.raises(UserError, match="may not be or start with '..'"), OwnedFolder(target, "quant-compare", force=True) as folder:
        folder.subfolder("..")
    assert (target / "config.yaml").read_text() == "mine"


# --- names: every name that becomes a path component or a printed line


HOSTILE = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["..", ".", "../x", "a/b", "a\\b", "a\nwarning: forged", "a\x00b", "..hidden", " lead", "trail ", "", "\u2028"]),
)


@given(HOSTILE)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_checked_name_is_one_path_component_inside_its_folder(tmp_path, name):
    try:
        check_name(name, "variant")
    except UserError as exc:
        assert str(exc).startswith("variant ") and "\n" not in str(exc)
        return
    resolved = (tmp_path / name).resolve()
    assert resolved.parent == tmp_path.resolve() and not has_control(name) and name not in (".", "..")


@given(st.text(max_size=200))
def test_printable_text_is_one_line_without_control_characters(text):
    line = printable(text, 1000)
    assert "\n" not in line and "\r" not in line and "\x00" not in line and not has_control(line)


def test_outputs_never_equal_or_sit_inside_inputs(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(UserError, match="is the input --from"):
        check_apart([("--to", data)], [("--from", data)])
    with pytest.raises(UserError, match="is inside the input --from"):
        check_apart([("--to", data / "x")], [("--from", data)])
    with pytest.raises(UserError, match="holds the input --from"):
        check_apart([("--to", tmp_path)], [("--from", data)])
    with pytest.raises(UserError, match="--records and -o are the same path"):
        check_apart([("--records", tmp_path / "a"), ("-o", tmp_path / "b" / ".." / "a")], [])
    check_apart([("--to", tmp_path / "out")], [("--from", data), ("--x", None)])
