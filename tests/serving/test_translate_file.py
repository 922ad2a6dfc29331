"""``POST /translate_file`` and ``GET /download_file/<name>`` on a real node with the bundled en<->pt models.

Every format goes in as built by its own library and comes back in the same structure, its text in
Portuguese; bad files and names get a clear 4xx while the node goes on translating.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest

from tests.support import LONG_PARAGRAPH, TIMEOUT, Load, NodeProcess, eventually, start_node, translate
from tests.support.documents import (
    BOOKS,
    CAT,
    CODE,
    LINK,
    MORNING,
    SENTENCES,
    docx_sample,
    epub_sample,
    html_sample,
    md_sample,
    odt_sample,
    pptx_sample,
    read_docx,
    read_epub,
    read_html,
    read_odt,
    read_pptx,
    read_srt,
    srt_sample,
    translate_file,
    translated,
    txt_sample,
)
from tests.support.texts import BEACH_EN


def portuguese(text: str | None, english: str) -> bool:
    """Whether ``text`` is the bundled model's translation of ``english`` (one of ``SENTENCES``)."""
    return text is not None and SENTENCES[english] in text and english not in text


def check_txt(data: bytes) -> None:
    first, second = data.decode().split("\n\n")
    assert portuguese(first, CAT)
    lines = second.rstrip("\n").split("\n")
    assert len(lines) == 2 and portuguese(lines[0], BOOKS) and portuguese(lines[1], BEACH_EN)


def check_srt(data: bytes) -> None:
    cues = read_srt(data)
    assert [(i, start.total_seconds(), end.total_seconds()) for i, start, end, _ in cues] == [
        (7, 1.0, 2.5),
        (8, 3.0, 5.0),
    ]
    assert portuguese(cues[0][3], CAT)
    books, morning = cues[1][3].split("\n")
    assert portuguese(books, BOOKS) and portuguese(morning, MORNING)


def check_md(data: bytes) -> None:
    lines = data.decode().split("\n")
    assert lines[0].startswith("# ") and portuguese(lines[0], CAT)
    items = [line for line in lines if line.startswith("- ")]
    assert len(items) == 2 and portuguese(items[0], BOOKS) and portuguese(items[1], MORNING)
    link_line = next(line for line in lines if LINK in line)
    assert f"]({LINK})" in link_line and portuguese(link_line, BEACH_EN)
    assert f"`{CODE}`" in link_line
    assert f"```\n{CODE}\n```" in data.decode()
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 3 and set(table[1]) == {"|", "-", " "}
    morning, number = (cell.strip() for cell in table[0].strip("|").split("|"))
    books, link = (cell.strip() for cell in table[2].strip("|").split("|"))
    assert portuguese(morning, MORNING) and number == "42"
    assert portuguese(books, BOOKS) and link == f"<{LINK}>"


def check_html(data: bytes) -> None:
    page = read_html(data)
    assert portuguese(page["title"], MORNING) and portuguese(page["h1"], CAT)
    assert portuguese(page["b"], BEACH_EN) and portuguese(page["p"], BOOKS)
    assert page["p class"] == "intro" and page["pre"] == CODE and page["script"] == f'var s = "{CODE}";'


def check_docx(data: bytes) -> None:
    doc = read_docx(data)
    assert doc["heading style"] == "Heading 1" and portuguese(doc["heading"], CAT)
    (plain, plain_bold), (bold, bold_bold) = doc["runs"]
    assert portuguese(plain, BOOKS) and not plain_bold
    assert portuguese(bold, MORNING) and bold_bold
    assert portuguese(doc["cells"][0], BEACH_EN) and doc["cells"][1] == "42"
    assert portuguese(doc["header"], MORNING)


def check_pptx(data: bytes) -> None:
    deck = read_pptx(data)
    assert deck["slides"] == 1 and portuguese(deck["title"], CAT)
    [(books, books_bold)], [(morning, morning_bold)] = deck["body"]
    assert portuguese(books, BOOKS) and not books_bold
    assert portuguese(morning, MORNING) and morning_bold
    assert portuguese(deck["cell"], BEACH_EN) and portuguese(deck["notes"], MORNING)


def check_odt(data: bytes) -> None:
    doc = read_odt(data)
    [heading] = doc["headings"]
    assert portuguese(heading, CAT)
    [(style, span)] = doc["spans"]
    assert style == "Bold" and portuguese(span, MORNING)
    [paragraph] = doc["paragraphs"]
    assert portuguese(paragraph, BOOKS) and paragraph.endswith(span)


def check_epub(data: bytes) -> None:
    book = read_epub(data)
    assert book["title"] == "Sample"
    assert portuguese(book["toc"][0], CAT) and portuguese(book["toc"][1], BEACH_EN)
    one, two = book["chapters"]["one.xhtml"], book["chapters"]["two.xhtml"]
    assert portuguese(one["h1"], CAT) and portuguese(one["p"], BOOKS) and portuguese(one["i"], MORNING)
    assert one["pre"] == CODE and portuguese(two["h1"], BEACH_EN)


FORMATS: dict[str, tuple[Callable[[], bytes], Callable[[bytes], None]]] = {
    ".txt": (txt_sample, check_txt),
    ".srt": (srt_sample, check_srt),
    ".md": (md_sample, check_md),
    ".html": (html_sample, check_html),
    ".docx": (docx_sample, check_docx),
    ".pptx": (pptx_sample, check_pptx),
    ".odt": (odt_sample, check_odt),
    ".epub": (epub_sample, check_epub),
}


@pytest.mark.parametrize("extension", list(FORMATS))
def test_each_format_comes_back_translated_with_its_structure(node: NodeProcess, extension: str) -> None:
    build, check = FORMATS[extension]
    link, data = translated(node.url, f"My sample{extension}", build())
    assert link.startswith(node.url + "/download_file/")
    assert link.endswith(f".My_sample{extension}")
    check(data)


def test_the_download_is_an_attachment_named_like_the_upload(node: NodeProcess) -> None:
    link, _ = translated(node.url, "report.docx", docx_sample())
    response = httpx.get(link, timeout=TIMEOUT)
    assert response.headers["content-disposition"] == 'attachment; filename="report.docx"'
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )


def test_portuguese_to_english_and_the_api_key_field_is_accepted(node: NodeProcess) -> None:
    response = translate_file(
        node.url, "a.txt", "O gato está dormindo no sofá.".encode(), "pt", "en", api_key="x"
    )
    assert response.status_code == 200, response.text
    text = httpx.get(response.json()["translatedFileUrl"], timeout=TIMEOUT).text
    assert "cat" in text.lower() and "gato" not in text


def test_a_file_larger_than_one_request_is_translated_in_several_items(node: NodeProcess) -> None:
    # 300 paragraphs: more than max_items (128) texts; each paragraph comes back in place.
    sentences = [CAT, BOOKS, MORNING] * 100
    _, data = translated(node.url, "long.txt", "\n\n".join(sentences).encode())
    paragraphs = data.decode().split("\n\n")
    assert len(paragraphs) == 300
    assert all(portuguese(out, english) for out, english in zip(paragraphs, sentences, strict=True))


def test_emoji_urls_and_placeholders_in_a_file_come_back_verbatim(node: NodeProcess) -> None:
    spans = ["🍕", "https://example.com/a#b", "{name}"]
    text = f"I love pizza {spans[0]}. See {spans[1]} now, {spans[2]}."
    _, data = translated(node.url, "spans.docx", docx_of(text))
    out = read_docx(data)["heading"]
    assert all(out.count(span) == 1 for span in spans), out
    assert "pizza" in out and "love" not in out


def docx_of(text: str) -> bytes:
    document = docx.Document()
    document.add_heading(text, level=1)
    document.add_paragraph("")
    document.add_table(rows=1, cols=2)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


BAD: dict[str, tuple[dict[str, Any], int, str]] = {
    "unsupported file type": (
        {"name": "scan.pdf", "data": b"%PDF-1.4"},
        400,
        "'.pdf' files cannot be translated",
    ),
    "no extension": ({"name": "README", "data": b"Hello."}, 400, "files without an extension"),
    "corrupt docx": (
        {"name": "a.docx", "data": b"PK\x03\x04 broken"},
        400,
        "the .docx file is not a valid zip archive",
    ),
    "a presentation named .docx": (
        {"name": "a.docx", "data": pptx_sample()},
        400,
        "cannot be read as a Word document",
    ),
    "text that is not UTF-8": ({"name": "a.txt", "data": b"\xff\xfe\xfa"}, 400, "not UTF-8 text"),
    "empty file": ({"name": "a.txt", "data": b""}, 400, "is empty"),
    "missing target": ({"name": "a.txt", "data": b"Hello.", "target": None}, 400, "missing 'target'"),
    "missing source": ({"name": "a.txt", "data": b"Hello.", "source": None}, 400, "missing 'source'"),
    "unknown pair": ({"name": "a.txt", "data": b"Hello.", "target": "de"}, 400, "en-de"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_get_a_clear_4xx(node: NodeProcess, case: str) -> None:
    kwargs, status, message = BAD[case]
    response = translate_file(node.url, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_a_request_without_a_file_is_refused(node: NodeProcess) -> None:
    form = httpx.post(node.url + "/translate_file", data={"source": "en", "target": "pt"}, timeout=TIMEOUT)
    assert form.status_code == 400 and "missing 'file'" in form.json()["error"]
    as_json = httpx.post(node.url + "/translate_file", json={"source": "en", "target": "pt"}, timeout=TIMEOUT)
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/download_file/..%2F..%2F..%2Fetc%2Fpasswd",
        "/download_file/%2e%2e",
        "/download_file/..%5C..%5Cnode.yaml",
        "/download_file/" + "a" * 32 + ".x.txt%00.docx",
        "/download_file/node.yaml",
    ],
)
def test_download_names_cannot_leave_the_folder(node: NodeProcess, path: str) -> None:
    response = httpx.get(node.url + path, timeout=TIMEOUT)
    assert 400 <= response.status_code < 500, response.text
    assert "root:" not in response.text and "serving" not in response.text


def test_an_unknown_download_is_not_found(node: NodeProcess) -> None:
    response = httpx.get(node.url + "/download_file/" + "0" * 32 + ".notes.txt", timeout=TIMEOUT)
    assert response.status_code == 404
    assert "never existed or it expired" in response.json()["error"]


def test_bad_files_do_not_disturb_good_traffic(node: NodeProcess) -> None:
    with Load(node.url, clients=2) as load:
        load.more(3)
        for case in BAD.values():
            kwargs, status, _ = case
            assert translate_file(node.url, **kwargs).status_code == status
        _, data = translated(node.url, "good.docx", docx_sample())
        check_docx(data)
        load.more(3)
    assert load.failures == []


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Path]]:
    """A node keeping translated files for two seconds, taking files of up to 4 KiB."""
    tmp_path = tmp_path_factory.mktemp("short-lived")
    files_dir = tmp_path / "files"
    config = {"serving": {"file_max_bytes": 4096, "file_ttl_seconds": 2, "files_dir": str(files_dir)}}
    node = start_node(tmp_path, {**config, "models": {"warmup": False}})
    yield node, files_dir
    node.stop()


def test_a_file_over_the_limit_is_refused_with_413(short_lived: tuple[NodeProcess, Path]) -> None:
    node, _ = short_lived
    response = translate_file(node.url, "big.txt", b"Hello. " * 1000)
    assert response.status_code == 413, response.text
    assert "larger than the limit of 4096 bytes" in response.json()["error"]
    assert translate_file(node.url, "small.txt", b"Hello. " * 500).status_code == 200


def test_translated_files_expire_and_are_deleted(short_lived: tuple[NodeProcess, Path]) -> None:
    node, files_dir = short_lived
    response = translate_file(node.url, "soon-gone.txt", CAT.encode())
    assert response.status_code == 200, response.text
    name = response.json()["translatedFileUrl"].rsplit("/", 1)[1]
    assert (files_dir / name).is_file()  # written where serving.files_dir says
    # The sweeper deletes it without anyone asking for it.
    eventually(lambda: not (files_dir / name).exists(), 30, "the expired file to be deleted")
    gone = httpx.get(response.json()["translatedFileUrl"], timeout=TIMEOUT)
    assert gone.status_code == 404


def test_a_file_not_translated_within_the_request_timeout_gets_504_and_the_node_goes_on(
    tmp_path: Path,
) -> None:
    node = start_node(tmp_path, {"serving": {"request_timeout": 2}})
    try:
        # Thousands of sentences (each paragraph its own, as a text met twice is translated once):
        # far more than the node translates in two seconds.
        long_text = "\n\n".join(f"Chapter {i}. {LONG_PARAGRAPH}" for i in range(300)).encode()
        response = translate_file(node.url, "long.txt", long_text)
        assert response.status_code == 504, response.text
        # Said by the worker that dropped the item, or by the API server that stopped waiting for it.
        assert any(words in response.json()["error"] for words in ("deadline", "request timeout of 2s"))
        # What was left of the file was dropped: a short text is answered at once.
        assert translate(node.url, CAT, timeout=10).status_code == 200
        assert list((tmp_path / "translated-files").iterdir()) == []
    finally:
        node.stop()


def test_regional_tags_and_aliases_name_the_pair_as_for_translate(node: NodeProcess) -> None:
    for target in ("pt-BR", "pb"):
        _, data = translated(node.url, "a.txt", CAT.encode(), target=target)
        assert portuguese(data.decode(), CAT)


def test_source_auto_is_refused_for_files_with_a_clear_message(node: NodeProcess) -> None:
    response = translate_file(node.url, "a.txt", CAT.encode(), source="auto")
    assert response.status_code == 400
    assert "'source': language detection ('auto') is not supported here" in response.json()["error"]
