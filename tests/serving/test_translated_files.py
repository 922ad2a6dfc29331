"""The folder of translated files: random names that cannot leave it, expiry, the sweeper."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from universal_decoder_node.errors import InvalidField, NotFound
from universal_decoder_node.protocol.files import original_name
from universal_decoder_node.serving.translated_files import TranslatedFiles


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_saved_file_reads_back_under_a_random_name_ending_in_its_own(tmp_path: Path) -> None:
    files = TranslatedFiles(tmp_path / "out", ttl=60)
    first = files.save("../../Relatório final (v2).DOCX", b"one")
    second = files.save("../../Relatório final (v2).DOCX", b"two")
    assert first != second
    assert original_name(first) == "Relat_rio_final_v2.docx"
    assert files.read(first) == b"one" and files.read(second) == b"two"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([first, second])
    assert oct((tmp_path / "out" / first).stat().st_mode & 0o777) == "0o600"


def test_a_name_without_a_usable_stem_still_gets_one(tmp_path: Path) -> None:
    files = TranslatedFiles(tmp_path, ttl=60)
    assert original_name(files.save("...txt", b"x")) == "document.txt"
    assert original_name(files.save("日本.md", b"x")) == "document.md"


@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "..",
        "a" * 32 + ".../etc/passwd",
        "0123456789abcdef0123456789abcdef./x.txt",
        "0123456789abcdef0123456789abcdef.x.txt/../../y.txt",
        "/etc/passwd",
        "0123456789ABCDEF0123456789ABCDEF.x.txt",
        "notes.txt",
    ],
)
def test_names_no_saved_file_could_have_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidField, match="invalid file name"):
        TranslatedFiles(tmp_path, ttl=60).read(name)


def test_an_unknown_name_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="never existed or it expired"):
        TranslatedFiles(tmp_path, ttl=60).read("0" * 32 + ".notes.txt")


def test_an_expired_file_is_not_found_and_deleted(tmp_path: Path) -> None:
    files = TranslatedFiles(tmp_path, ttl=60)
    name = files.save("notes.txt", b"x")
    age(tmp_path / name, 61)
    with pytest.raises(NotFound):
        files.read(name)
    assert not (tmp_path / name).exists()


def test_the_sweep_deletes_what_expired_and_keeps_the_rest(tmp_path: Path) -> None:
    files = TranslatedFiles(tmp_path, ttl=60)
    old, new = files.save("old.txt", b"x"), files.save("new.txt", b"x")
    age(tmp_path / old, 120)
    leftover = tmp_path / ".tmp-from-a-crash.tmp"
    leftover.write_bytes(b"x")
    age(leftover, 120)
    assert files.sweep() == 2
    assert [p.name for p in tmp_path.iterdir()] == [new]
    assert TranslatedFiles(tmp_path / "missing", ttl=60).sweep() == 0
