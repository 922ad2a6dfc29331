"""The ``udn`` command: the main paths as a real subprocess, error paths through ``cli.main``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import (
    BEACH_EN,
    UDN,
    NodeProcess,
    coordinator_env,
    eventually,
    free_port,
    start_coordinator,
    write_config,
)
from universal_decoder_node import __version__
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
    assert "give either a text, --file, or '-'" in err
    code, _, err = run_main(capsys, "translate", "Hello.", "--file", str(tmp_path / "x.txt"))
    assert code == 2
    assert "give either a text, --file, or '-'" in err


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


def test_version() -> None:
    result = udn("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"udn {__version__}"


def test_init_into_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = udn("init", str(tmp_path / "absent" / "udn.yaml"))
    assert result.returncode == 1
    assert f"folder {tmp_path / 'absent'} does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "absent").exists()


def test_init_says_how_the_file_is_used(tmp_path: Path) -> None:
    result = udn("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "udn.yaml").is_file()
    assert "wrote udn.yaml" in result.stdout
    assert "read it when started in its folder" in result.stdout and "UDN_CONFIG" in result.stdout


def test_translate_reads_standard_input(tmp_path: Path) -> None:
    text = f"{BEACH_EN}\nI like books.\n"
    for args in (["translate", "-"], ["translate"]):  # '-', and a pipe with no text at all
        result = subprocess.run(
            [*UDN, *args], input=text, capture_output=True, text=True, timeout=120, env=_plain_env()
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 2 and "praia" in lines[0] and "livros" in lines[1], lines


def test_translate_of_an_empty_pipe_says_so() -> None:
    result = subprocess.run(
        [*UDN, "translate"], input="", capture_output=True, text=True, timeout=120, env=_plain_env()
    )
    assert result.returncode == 2
    assert "nothing on standard input" in result.stderr


def _plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDN_")}
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


def test_status_of_a_coordinator(tmp_path: Path) -> None:
    coordinator = start_coordinator(tmp_path)
    try:
        result = udn("status", "--url", coordinator.url)
    finally:
        coordinator.stop()
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert f"coordinator {coordinator.url}" in out
    assert "unavailable: no decoder node is registered and ready" in out
    assert "state file" in out and "0 nodes" in out
    assert "gpu_available" not in out  # not a node's table


def _coordinator_in(folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*UDN, "coordinator"],
        cwd=folder,
        env=coordinator_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=30)
    return err


def test_coordinator_uses_udn_yaml_in_the_current_folder_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    write_config(tmp_path, {"coordinator": {"port": port, "state_file": str(tmp_path / "s.json")}})
    process = _coordinator_in(tmp_path, {})
    try:
        eventually(lambda: _answers(port), 60, f"the coordinator to answer on port {port}, from udn.yaml")
    finally:
        err = _stop(process)
    assert f"using {tmp_path / 'udn.yaml'} from the current folder" in err


def test_udn_config_wins_over_udn_yaml_and_config_over_both(tmp_path: Path) -> None:
    (tmp_path / "udn.yaml").write_text("coordinator: {port: 0}\n")  # invalid: never read here
    port = free_port()
    chosen = tmp_path / "chosen.yaml"
    chosen.write_text(yaml.safe_dump({"coordinator": {"port": port, "state_file": str(tmp_path / "s.json")}}))
    process = _coordinator_in(tmp_path, {"UDN_CONFIG": str(chosen)})
    try:
        eventually(lambda: _answers(port), 60, "the coordinator to answer on UDN_CONFIG's port")
    finally:
        err = _stop(process)
    assert "current folder" not in err
    # --config wins over UDN_CONFIG: the invalid file is the one read.
    result = subprocess.run(
        [*UDN, "serve", "--config", "udn.yaml"],
        cwd=tmp_path,
        env=_plain_env(UDN_CONFIG=str(chosen)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "coordinator.port" in result.stderr, result.stderr


def test_serve_uses_udn_yaml_in_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "udn.yaml").write_text("serving: {port: 0}\n")
    result = subprocess.run(
        [*UDN, "serve"], cwd=tmp_path, env=_plain_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert f"udn serve: using {tmp_path / 'udn.yaml'} from the current folder" in result.stderr
    assert "serving.port" in result.stderr  # the file was read: its invalid port is named
