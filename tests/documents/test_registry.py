"""The registry of formats by extension: what ``/translate_file`` accepts, and the refusal of the rest."""

from __future__ import annotations

import pytest

from universal_decoder_node.documents import UnsupportedFileType, format_for, supported_extensions


def test_supported_extensions_are_the_issue_s_formats() -> None:
    assert set(supported_extensions()) >= {".txt", ".srt", ".md", ".docx", ".pptx", ".odt", ".epub", ".html"}
    assert all(ext.startswith(".") and ext == ext.lower() for ext in supported_extensions())


@pytest.mark.parametrize("name", ["report.DOCX", "dir/notes.Md", "C:\\films\\movie.srt", "page.htm"])
def test_the_extension_picks_the_format_whatever_its_case_or_folder(name: str) -> None:
    fmt = format_for(name)
    assert name.lower().rsplit(".", 1)[1] in " ".join(fmt.extensions)


@pytest.mark.parametrize(
    ("name", "shown"),
    [("scan.pdf", "'.pdf' files"), ("setup.exe", "'.exe' files"), ("README", "files without an extension")],
)
def test_other_types_are_refused_with_the_list_of_supported_ones(name: str, shown: str) -> None:
    with pytest.raises(UnsupportedFileType) as refused:
        format_for(name)
    assert shown in str(refused.value)
    assert ".docx" in str(refused.value)
