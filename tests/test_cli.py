"""The ``udn`` command: the main paths as a real subprocess, error paths through ``cli.main``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import BEACH_EN, UDN, NodeProcess, free_port
from universal_decoder_node.cli import main


def udn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDN_")}
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([*UDN, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``udn ARGS`` in this process (no interpreter start-up): exit code, stdout, stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_translate_text() -> None:
    result = udn("translate", BEACH_EN, "--source", "en", "--target", "pt")
    assert result.returncode == 0, result.stderr
    assert "praia" in result.stdout
    assert result.stdout.count("\n") == 1


def test_translate_portuguese_to_english(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "translate", "Eu gosto muito de livros.", "-s", "pt", "-t", "en")
    assert code == 0, err
    assert "books" in out


def test_translate_file_keeps_every_line(tmp_path: Path) -> None:
    lines = [
        BEACH_EN,
        "",
        "I like books.",
        "Good morning. How are you?",
        "   ",
        "The cat sleeps on the sofa.",
    ]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    result = udn("translate", "--file", str(source), "--out", str(out), "--source", "en", "--target", "pt")
    assert result.returncode == 0, result.stderr
    assert f"translated {len(lines)} lines into {out}" in result.stderr
    translated = out.read_text(encoding="utf-8").split("\n")
    assert translated[-1] == ""  # the file ends with a newline, like its source
    translated = translated[:-1]
    assert len(translated) == len(lines)
    assert "praia" in translated[0]
    assert translated[1] == ""
    assert "livros" in translated[2]
    assert translated[3].startswith("Bom dia")
    assert translated[4] == "   "
    assert "gato" in translated[5]


def test_translate_file_longer_than_one_chunk(tmp_path: Path) -> None:
    # The CLI translates in chunks of 64 lines; lines must not be lost or reordered across them.
    lines = [f"I have {n} books." for n in range(150)]
    source = tmp_path / "many.txt"
    source.write_text("\n".join(lines), encoding="utf-8")
    result = udn("translate", "--file", str(source))
    assert result.returncode == 0, result.stderr
    translated = result.stdout.splitlines()
    assert len(translated) == 150
    for n, line in enumerate(translated):
        assert str(n) in line and "livros" in line, (n, line)


def test_translate_unsupported_pair() -> None:
    result = udn("translate", "Hello.", "--source", "en", "--target", "de")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "language pair 'en-de' is not supported; available pairs: en-pt, pt-en" in result.stderr


def test_translate_unsupported_pair_in_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Hello.\n")
    out_path = tmp_path / "out.txt"
    code, _, err = run_main(capsys, "translate", "--file", str(source), "-o", str(out_path), "-t", "fr")
    assert code == 1
    assert "language pair 'en-fr' is not supported" in err
    assert not out_path.exists()


def test_translate_needs_text_or_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "translate")
    assert code == 2
    assert "give either a text or --file" in err
    code, _, err = run_main(capsys, "translate", "Hello.", "--file", str(tmp_path / "x.txt"))
    assert code == 2
    assert "give either a text or --file" in err


def test_translate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "translate", "--file", str(tmp_path / "missing.txt"))
    assert code == 1
    assert "cannot read" in err and "missing.txt" in err


def test_status_of_a_running_node(node: NodeProcess) -> None:
    result = udn("status", "--url", node.url)
    assert result.returncode == 0, result.stderr
    for word in ("healthy", "uptime", "version", "system_memory_percent", "gpu_available", "en-pt"):
        assert word in result.stdout, result.stdout


def test_status_json(node: NodeProcess) -> None:
    result = udn("status", "--url", node.url + "/", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "healthy"
    assert {"uptime", "version", "memory"} <= set(data)


def test_status_of_a_node_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_main(capsys, "status", "--url", url)
    assert code == 1
    assert f"cannot get {url}/status" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "launch")
    assert code == 2
    assert "invalid choice" in err
