"""Secrets never leave the process: a server that tries to leak the key everywhere, a key in the URL."""

from __future__ import annotations

import json

import pytest
from conftest import write
from fault_server import FaultServer

pytest.importorskip("httpx")

from harness.cli.main import main  # noqa: E402
from harness.core.redact import redact, split_url_credentials  # noqa: E402

KEY = "sk-leaky-9f8e7d6c5b4a"
URL_KEY = "url-pass-1a2b3c4d5e"


def test_redact_masks_registered_secrets_and_credential_shapes():
    split_url_credentials(f"http://someone:{URL_KEY}@example.org/v1")
    assert URL_KEY not in redact(f"failed for {URL_KEY} at http://someone:{URL_KEY}@example.org/v1")
    assert redact('{"Authorization": "Bearer abc.def-ghi"}') == '{"Authorization": "Bearer ***"}'
    assert redact("x-api-key=abcdef012345 rest") == "x-api-key=*** rest"
    assert redact("token Bearer zzzzzzzzzz!") == "token Bearer ***!"
    assert redact("plain text with no secret") == "plain text with no secret"


def test_key_is_found_nowhere(tmp_path, capsys, monkeypatch):
    server = FaultServer(leak=KEY).start()
    try:
        monkeypatch.setenv("LEAKY_KEY", KEY)
        monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
        lines = [
            {"query": f"question {i} {marker}", "response": "r"}
            for i, marker in enumerate(["", "LEAK200", "LEAK400", "LEAK500", "LEAKREPLY"])
        ]
        write(tmp_path / "qa", "leak.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
        host = server.url.split("://", 1)[1]
        args = [
            "eval", "--backend", "api", "--api-url", f"http://user:{URL_KEY}@{host}", "--api-key-env", "LEAKY_KEY",
            "--datasets", "general_qa", "--dataset-args", json.dumps({"general_qa": {"local_path": str(tmp_path / "qa")}}),
            "--output", str(tmp_path / "out"), "--max-retries", "1", "--timeout", "5", "--use-cache",
        ]  # fmt: skip
        code = main(args)
        out, err = capsys.readouterr()
        assert code == 1 and "3 samples failed" in err  # LEAK200, LEAK400, LEAK500 fail; LEAKREPLY answers
        code = main(["compare", str(next((tmp_path / "out").iterdir())), str(next((tmp_path / "out").iterdir()))])
        out2, err2 = capsys.readouterr()
    finally:
        server.stop()
    for secret in (KEY, URL_KEY):
        assert secret not in out + err + out2 + err2
        files = [p for p in tmp_path.rglob("*") if p.is_file() and "qa" not in p.parts]
        assert len(files) >= 6
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
    (run_dir,) = (tmp_path / "out").iterdir()
    records = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().split("\n") if x]
    assert [bool(r.get("failed")) for r in records] == [False, True, True, True, False]
    assert records[4]["prediction"] == "your key is ***"
    assert all("***" in r["error"] for r in records[1:4])


def test_secrets_in_other_encodings_are_masked(tmp_path, capsys, monkeypatch):
    """Basic auth echoed as base64, a key in a URL's query string, a key pasted where an env var name goes."""
    import base64

    from harness.core.redact import redact, register_url_secrets
    from harness.runs.store import atomic_write_text

    server = FaultServer(echo_headers=True).start()
    try:
        url = server.url.replace("http://", "http://alice:pa55-w0rd-9x@")
        qa = tmp_path / "qa"
        qa.mkdir()
        (qa / "q.jsonl").write_text(json.dumps({"query": "hello", "response": "hi"}) + "\n")
        args = ["eval", "--backend", "api", "--api-url", url, "--datasets", "general_qa", "--output", str(tmp_path / "out"),
                "--dataset-args", json.dumps({"general_qa": {"local_path": str(qa)}})]  # fmt: skip
        assert main(args) == 0
    finally:
        server.stop()
    basic = base64.b64encode(b"alice:pa55-w0rd-9x").decode()
    written = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert b"you sent Authorization" in written  # the echo reached the record, masked
    assert basic.encode() not in written and b"pa55-w0rd-9x" not in written

    register_url_secrets("https://host/v1?api_key=QS3cret-value-77&v=2")
    assert "QS3cret-value-77" not in redact("see https://host/v1?api_key=QS3cret-value-77&v=2 and QS3cret-value-77")
    atomic_write_text(tmp_path / "config.yaml", "api_url: https://host/v1?api_key=QS3cret-value-77\nagain: QS3cret-value-77\n")
    assert "QS3cret-value-77" not in (tmp_path / "config.yaml").read_text()

    capsys.readouterr()
    pasted = "sk-proj-9f8e7d6c5b4a3210"
    assert main(["eval", "--backend", "api", "--api-url", "http://127.0.0.1:9/v1", "--api-key-env", pasted, "--datasets", "general_qa",
                 "--output", str(tmp_path / "x")]) == 2  # fmt: skip
    out, err = capsys.readouterr()
    assert pasted not in out + err and "looks like a key" in err and err.count("\n") == 1
