"""The Dockerfile, read by BuildKit's own parser: every target (the CUDA one is never built here)."""

from __future__ import annotations

import fnmatch

import dockerfile
import pytest

from tests.deploy.tools import REPO

STAGES = ["build", "runtime", "cuda-base", "cuda-build", "cuda"]
INSTRUCTIONS = {
    "FROM", "ARG", "ENV", "RUN", "COPY", "ADD", "USER", "WORKDIR", "VOLUME", "EXPOSE", "HEALTHCHECK",
    "ENTRYPOINT", "CMD", "LABEL", "STOPSIGNAL", "SHELL", "ONBUILD",
}  # fmt: skip


def parse(text: str) -> tuple[dockerfile.Command, ...]:
    """BuildKit's parser, plus the checks its instruction stage makes: known instructions, FROM's form."""
    parsed = dockerfile.parse_string(text)
    for command in parsed:
        if command.cmd not in INSTRUCTIONS:
            raise ValueError(f"line {command.start_line}: unknown instruction {command.cmd}")
        if command.cmd == "FROM" and not (
            len(command.value) == 1 or (len(command.value) == 3 and command.value[1].upper() == "AS")
        ):
            raise ValueError(f"line {command.start_line}: FROM IMAGE [AS NAME], not {command.original}")
    return parsed


def commands() -> tuple[dockerfile.Command, ...]:
    return parse((REPO / "Dockerfile").read_text())


def stages() -> dict[str, list[dockerfile.Command]]:
    """Each named stage's instructions, FROM first."""
    named: dict[str, list[dockerfile.Command]] = {}
    current: list[dockerfile.Command] | None = None
    for command in commands():
        if command.cmd == "FROM":
            value = command.value
            current = []
            named[value[2] if len(value) == 3 else f"unnamed-{len(named)}"] = current
        if current is not None:
            current.append(command)
    return named


def instruction(stage: list[dockerfile.Command], cmd: str) -> list[dockerfile.Command]:
    return [c for c in stage if c.cmd == cmd]


@pytest.mark.parametrize(
    "broken", ["FROM a\nENV A\n", "FROM a\nCOPY <<EOF\n", "FROM a\nRUNN true\n", "FROM a AS\n"]
)
def test_the_check_refuses_a_broken_dockerfile(broken: str) -> None:
    with pytest.raises((dockerfile.GoParseError, ValueError)):
        parse(broken)


def test_stages_and_their_bases() -> None:
    named = stages()
    assert [name for name in named if not name.startswith("unnamed")] == STAGES
    declared = {c.value[0].split("=")[0] for c in commands() if c.cmd == "ARG"}
    assert {"BASE_IMAGE", "CUDA_BASE_IMAGE"} <= declared
    assert named["build"][0].value[0] == named["runtime"][0].value[0] == "${BASE_IMAGE}"
    assert named["cuda-base"][0].value[0] == "${CUDA_BASE_IMAGE}"
    assert [s[0].value[0] for s in (named["cuda-build"], named["cuda"])] == ["cuda-base", "cuda-base"]
    # A plain build (no --target) gives the CPU image.
    assert list(named.values())[-1][0].value == ("runtime",)
    # Every COPY --from names a stage defined before it.
    seen: list[str] = []
    for name, stage in named.items():
        for copy in instruction(stage, "COPY"):
            sources = [f.split("=", 1)[1] for f in copy.flags if f.startswith("--from=")]
            assert all(source in seen for source in sources), (name, copy.original)
        seen.append(name)


@pytest.mark.parametrize("target", ["runtime", "cuda"])
def test_runtime_targets_run_unprivileged_with_a_healthcheck_and_the_model_store(target: str) -> None:
    stage = stages()[target]
    assert [c.value for c in instruction(stage, "USER")] == [("10001:10001",)]
    healthcheck = instruction(stage, "HEALTHCHECK")
    assert len(healthcheck) == 1 and "/health" in healthcheck[0].original
    assert [c.value for c in instruction(stage, "VOLUME")] == [("/models/adapters",)]
    env = dict(zip(*[iter(v for c in instruction(stage, "ENV") for v in c.value)] * 2, strict=True))
    assert env["ADAPTER_DIR"] == "/models/adapters"
    assert env["UDN_SERVING__HOST"] == "0.0.0.0"
    assert [c.value for c in instruction(stage, "ENTRYPOINT")] == [("udn",)]
    # The venv comes from its build stage; wheels and sources stay there.
    copies = [c.original for c in instruction(stage, "COPY")]
    assert any("/opt/venv" in c and "--from=" in c for c in copies)
    assert not any("COPY . " in c for c in copies)


def test_build_stages_get_the_ca_bundle_as_a_secret_only() -> None:
    for name in ("build", "cuda-build"):
        runs = instruction(stages()[name], "RUN")
        assert any("--mount=type=secret,id=ca" in r.flags for r in runs), name
    assert "ca-certificates.crt" not in (REPO / "Dockerfile").read_text()


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            body = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
                keep = negated
        return keep

    for path in ("pyproject.toml", "README.md", "requirements/lock.txt", "src/universal_decoder_node/cli.py"):
        assert included(path), path
    for stage in stages().values():
        for copy in instruction(stage, "COPY"):
            if any(f.startswith("--from=") for f in copy.flags) or copy.value[0] == ".":
                continue
            assert included(copy.value[0]) and (REPO / copy.value[0]).exists(), copy.original
    assert not included("tests/conftest.py") and not included(".git/HEAD")
