"""Argos Translate packages: ``udn models install`` (a file, a URL on loopback) and ``list`` as an
operator runs them, the packages folder and the precedence of sources, and every hostile archive
refused with its file and what is wrong, leaving nothing in the store.
"""

from __future__ import annotations

import functools
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import udn
from tests.support.argos_package import build_package, pack, package_metadata, symlink_member
from universal_decoder_node.config import ConfigError, load_settings
from universal_decoder_node.models import ArgosSource, DirectorySource, pair_sources

PACKAGE = "translate-en_xx-1_9"


def _env(tmp_path: Path, packages: Path | None = None) -> dict[str, str]:
    """The model store under ``tmp_path``; Argos's own folder in an empty data home (never this machine's)."""
    env = {"ADAPTER_DIR": str(tmp_path / "store"), "XDG_DATA_HOME": str(tmp_path / "data")}
    if packages is not None:
        env["ARGOS_PACKAGES_DIR"] = str(packages)
    return env


def _left_in_store(tmp_path: Path) -> list[str]:
    """What the store holds besides its lock: installed packages and install litter."""
    store = tmp_path / "store"
    return sorted(
        p.relative_to(store).as_posix()
        for folder in ("argos", ".tmp")
        if (store / folder).is_dir()
        for p in (store / folder).iterdir()
    )


@pytest.fixture(scope="module")
def good_package(tmp_path_factory: pytest.TempPathFactory, ct2_model: Path) -> Path:
    """An en->xx package folder (version 1.9); never modify it."""
    return build_package(tmp_path_factory.mktemp("argos"), ct2_model, "en", "xx")


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving the files of a folder: (its URL, the folder)."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()
    thread.join()


def test_install_from_a_file_then_a_newer_version_from_a_url_and_list_them(
    tmp_path: Path, ct2_model: Path, file_server: tuple[str, Path]
) -> None:
    env = _env(tmp_path)
    old = build_package(tmp_path / "build", ct2_model, "en", "xx", version="1.0")
    archive = pack(old, tmp_path / "translate-en_xx-1_0.argosmodel")
    first = udn(["models", "install", str(archive)], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("en-xx: Argos Translate package 1.0, ")
    installed = tmp_path / "store" / "argos" / "en-xx-1.0"
    assert f"installed in {installed}" in first.stdout
    assert sorted(p.relative_to(installed).as_posix() for p in installed.rglob("*")) == [
        ".udn-install.json",
        "README.md",
        "metadata.json",
        "model",
        "model/config.json",
        "model/model.bin",
        "model/shared_vocabulary.json",
        "sentencepiece.model",
    ], "the sentence splitter (stanza/) is not unpacked"
    assert (installed / "model" / "model.bin").read_bytes() == (ct2_model / "model.bin").read_bytes()
    assert _left_in_store(tmp_path) == ["argos/en-xx-1.0"]

    url, served = file_server
    newer = build_package(tmp_path / "build", ct2_model, "en", "xx", version="1.1")
    pack(newer, served / "translate-en_xx-1_1.argosmodel")
    second = udn(["models", "install", f"{url}/translate-en_xx-1_1.argosmodel"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("en-xx: Argos Translate package 1.1, ")
    assert "replaced version 1.0" in second.stdout
    assert _left_in_store(tmp_path) == ["argos/en-xx-1.1"]
    record = json.loads((tmp_path / "store" / "argos" / "en-xx-1.1" / ".udn-install.json").read_text())
    assert record["source"] == f"{url}/translate-en_xx-1_1.argosmodel"

    for target, problem in (
        (f"{url}/missing.argosmodel", "the server answered HTTP 404"),
        ("http://example.com/x.argosmodel", "only https:// URLs (or http:// to this machine) are downloaded"),
        (str(tmp_path / "nowhere.argosmodel"), "no such file"),
    ):
        refused = udn(["models", "install", target], env, tmp_path)
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"udn models install: {target}: {problem}"), refused.stderr
        assert _left_in_store(tmp_path) == ["argos/en-xx-1.1"]

    listing = udn(["models", "list", "--url", "http://127.0.0.1:9"], env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if "en-xx" in line and "argos" in line)
    assert "argos 1.1 (model store)" in row
    tables = listing.stdout.split("Argos Translate packages")
    assert len(tables) == 2, listing.stdout
    (package_row,) = [line for line in tables[1].splitlines() if "en-xx" in line]
    assert "1.1" in package_row and "model store" in package_row and "yes" in package_row


def _hostile_cases(folder: Path, work: Path) -> dict[str, tuple[Callable[[], Path], str]]:
    """Each hostile archive (built on demand) and the problem ``udn models install`` must name."""
    top = folder.name

    def with_metadata(metadata: Any, raw: str | None = None) -> Path:
        archive = pack(folder, work / "hostile.argosmodel", skip=["metadata.json"])
        with zipfile.ZipFile(archive, "a") as zf:
            zf.writestr(f"{top}/metadata.json", raw if raw is not None else json.dumps(metadata))
        return archive

    def replaced(name: str, data: bytes | None) -> Path:
        archive = pack(folder, work / "hostile.argosmodel", skip=[name])
        if data is not None:
            with zipfile.ZipFile(archive, "a") as zf:
                zf.writestr(f"{top}/{name}", data)
        return archive

    def extra(*members: tuple[zipfile.ZipInfo | str, bytes]) -> Path:
        return pack(folder, work / "hostile.argosmodel", members)

    def not_a_zip() -> Path:
        path = work / "hostile.argosmodel"
        path.write_text("metadata.json model/ sentencepiece.model")
        return path

    good = package_metadata("en", "xx")
    return {
        "not a zip": (not_a_zip, "is not a zip archive, so not an Argos Translate package (.argosmodel)"),
        "no metadata": (
            lambda: replaced("metadata.json", None),
            f"has no {top}/metadata.json, so it is not an Argos Translate package",
        ),
        "metadata not JSON": (lambda: with_metadata(None, raw="{"), "metadata.json is not valid JSON"),
        "metadata a list": (lambda: with_metadata([good]), "metadata.json holds list, not a JSON object"),
        "no to_code": (
            lambda: with_metadata({k: v for k, v in good.items() if k != "to_code"}),
            "metadata.json has no to_code",
        ),
        "from_code a number": (
            lambda: with_metadata({**good, "from_code": 5}),
            "metadata.json's from_code must be a language code like 'en' (2 to 8 lowercase letters), not 5",
        ),
        "version climbs": (
            lambda: with_metadata({**good, "package_version": "../../../etc"}),
            "metadata.json's package_version must be a version like '1.9', not '../../../etc'",
        ),
        "sentence splitter package": (
            lambda: with_metadata({**good, "type": "sbd"}),
            "a package of type 'sbd', not a translation package",
        ),
        "zip slip with ..": (
            lambda: extra((f"{top}/../../../evil.txt", b"owned")),
            f"member '{top}/../../../evil.txt' would be written outside the package folder",
        ),
        "zip slip absolute": (
            lambda: extra((str(work.parent / "evil.txt"), b"owned")),
            f"member '{work.parent / 'evil.txt'}' would be written outside the package folder",
        ),
        "symlink member": (
            lambda: extra(symlink_member(f"{top}/model/vocabulary.txt", "/etc/passwd")),
            f"member '{top}/model/vocabulary.txt' is a symbolic link",
        ),
        "two folders": (
            lambda: extra(("another-package/metadata.json", b"{}")),
            "holds 2 top-level folders",
        ),
        "no model.bin": (lambda: replaced("model/model.bin", None), "has no model/model.bin"),
        "no sentencepiece.model": (
            lambda: replaced("sentencepiece.model", None),
            "has no sentencepiece.model",
        ),
        "model does not load": (
            lambda: replaced("model/model.bin", b"\x06\x00\x00\x00 not a model"),
            f"its model does not load: CTranslate2 rejected {top} (cpu, int8): File model.bin is incomplete",
        ),
        "config.json missing": (
            lambda: replaced("model/config.json", None),
            f"its model does not load: model directory {top}/model has no config.json",
        ),
    }


HOSTILE = [
    "not a zip",
    "no metadata",
    "metadata not JSON",
    "metadata a list",
    "no to_code",
    "from_code a number",
    "version climbs",
    "sentence splitter package",
    "zip slip with ..",
    "zip slip absolute",
    "symlink member",
    "two folders",
    "no model.bin",
    "no sentencepiece.model",
    "model does not load",
    "config.json missing",
]


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_or_broken_package_is_refused_and_nothing_is_left(
    tmp_path: Path, good_package: Path, case: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    build, problem = _hostile_cases(good_package, work)[case]
    archive = build()
    refused = udn(["models", "install", str(archive)], _env(tmp_path), tmp_path)
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.startswith(f"udn models install: {archive}"), refused.stderr
    assert problem in refused.stderr
    assert refused.stderr.rstrip().endswith("nothing was installed"), refused.stderr
    assert "Traceback" not in refused.stderr
    assert _left_in_store(tmp_path) == []
    assert not (tmp_path / "evil.txt").exists() and not (work.parent / "evil.txt").exists()


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: Any) -> Any:
    for name, value in _env(tmp_path).items():
        monkeypatch.setenv(name, value)
    return load_settings(**config)


def test_packages_are_read_from_argos_own_folder_and_the_newest_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ct2_model: Path
) -> None:
    # Argos's own folder (its settings.py: $XDG_DATA_HOME/argos-translate/packages), found by default.
    argos_home = tmp_path / "data" / "argos-translate" / "packages"
    assert _settings(tmp_path, monkeypatch).models.argos_packages_dir is None, "no folder, no packages"
    argos_home.mkdir(parents=True)
    assert _settings(tmp_path, monkeypatch).models.argos_packages_dir == argos_home
    build_package(argos_home, ct2_model, "en", "xx", version="1.0")
    newest = build_package(argos_home, ct2_model, "en", "xx", version="1.9")
    legacy = build_package(argos_home, ct2_model, "xx", "en", version="1.0", legacy=True)
    sentence_splitter = argos_home / "sbd-en"
    sentence_splitter.mkdir()
    (sentence_splitter / "metadata.json").write_text(json.dumps({"type": "sbd", "from_code": "en"}))
    (argos_home / "index.json").write_text("[]")  # files beside the packages are no packages
    overriding = build_package(argos_home, ct2_model, "en", "pt")

    sources = pair_sources(_settings(tmp_path, monkeypatch))
    assert sorted(sources) == ["en-pt", "en-xx", "pt-en", "xx-en"]
    assert isinstance(sources["en-xx"], ArgosSource) and sources["en-xx"].path == newest
    assert sources["en-xx"].describe() == {
        "source": "argos",
        "path": str(newest),
        "version": "1.9",
        "location": "ARGOS_PACKAGES_DIR",
    }
    assert sources["xx-en"].path == legacy
    assert sources["en-pt"].path == overriding, "a package wins over a bundled pair"
    assert sources["pt-en"].kind == "bundled"

    # The model store's packages win over the packages folder's; configured pairs over both.
    store_copy = tmp_path / "store" / "argos" / "en-xx-1.0"
    store_copy.parent.mkdir(parents=True)
    build_package(tmp_path / "build", ct2_model, "en", "xx", version="1.0").rename(store_copy)
    settings = _settings(tmp_path, monkeypatch, models={"pairs": {"xx-en": {"path": str(ct2_model)}}})
    sources = pair_sources(settings)
    assert sources["en-xx"].path == store_copy and sources["en-xx"].describe()["location"] == "model store"
    assert type(sources["xx-en"]) is DirectorySource and sources["xx-en"].path == ct2_model

    # ARGOS_PACKAGES_DIR wins over the default; YAML's null turns packages off.
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(ConfigError, match=r"ARGOS_PACKAGES_DIR\) is .*elsewhere, which is not a directory"):
        pair_sources(load_settings())
    monkeypatch.delenv("ARGOS_PACKAGES_DIR")
    assert "xx-en" not in pair_sources(load_settings(models={"argos_packages_dir": None}))


def test_a_broken_package_in_the_folder_is_named_when_the_node_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ct2_model: Path
) -> None:
    packages = tmp_path / "packages"
    broken = build_package(
        packages, ct2_model, "en", "xx", metadata={**package_metadata("en", "xx"), "to_code": "English"}
    )
    env = {**_env(tmp_path, packages), "UDN_MODELS__BUNDLED": "false"}
    started = udn(["serve", "--port", "9"], env, tmp_path)
    assert started.returncode != 0
    assert (
        f"invalid Argos Translate package: {broken}: metadata.json's to_code must be a language code "
        "like 'en' (2 to 8 lowercase letters), not 'English'; fix or remove it" in started.stderr
    )
    assert "Traceback" not in started.stderr
