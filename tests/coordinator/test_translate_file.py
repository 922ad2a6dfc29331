"""``/translate_file`` and ``/download_file`` through a real coordinator in front of two real nodes.

The coordinator checks API keys as on ``/translate``, its links point at itself, and it fetches each
file from the node that translated it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import (
    TIMEOUT,
    CoordinatorProcess,
    NodeProcess,
    start_coordinator,
    start_registered_node,
    translate,
)
from tests.support.documents import (
    CAT,
    SENTENCES,
    docx_sample,
    read_docx,
    translate_file,
    translated,
)


@dataclass
class Keyed:
    coordinator: CoordinatorProcess
    nodes: list[NodeProcess]
    key: str


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    """A coordinator requiring API keys (files of up to 64 KiB), with two nodes."""
    tmp_path: Path = tmp_path_factory.mktemp("files-cluster")
    coordinator = start_coordinator(
        tmp_path, {"coordinator": {"require_api_key": True}, "serving": {"file_max_bytes": 65536}}
    )
    nodes: list[NodeProcess] = []
    try:
        for node_id in ("files-a", "files-b"):
            nodes.append(start_registered_node(tmp_path, coordinator, node_id))
        key = coordinator.create_key(name="files")["key"]
        yield Keyed(coordinator, nodes, key)
    finally:
        for node in nodes:
            node.stop()
        coordinator.stop()


def test_a_file_needs_a_key_like_any_translation(keyed: Keyed) -> None:
    response = translate_file(keyed.coordinator.url, "a.txt", CAT.encode())
    assert response.status_code == 401, response.text
    assert "API key" in response.json()["error"]
    wrong = translate_file(keyed.coordinator.url, "a.txt", CAT.encode(), api_key="not-a-key")
    assert wrong.status_code == 403, wrong.text


def test_links_point_at_the_coordinator_which_fetches_each_file_from_its_node(keyed: Keyed) -> None:
    url = keyed.coordinator.url
    seen_nodes = set()
    for i in range(4):
        link, data = translated(url, f"report{i}.docx", docx_sample(), api_key=keyed.key)
        assert link.startswith(url + "/download_file/files-")
        seen_nodes.add(link.split("/download_file/")[1].split("~")[0])
        doc = read_docx(data)
        assert SENTENCES[CAT] in doc["heading"] and doc["heading style"] == "Heading 1"
        response = httpx.get(link, timeout=TIMEOUT)
        assert response.headers["content-disposition"] == f'attachment; filename="report{i}.docx"'
    assert seen_nodes <= {"files-a", "files-b"}


@pytest.mark.parametrize("how", ["bearer", "query"])
def test_the_key_may_come_as_a_bearer_token_or_in_the_query(keyed: Keyed, how: str) -> None:
    request = {"headers": {"Authorization": f"Bearer {keyed.key}"}} if how == "bearer" else {}
    query = f"?api_key={keyed.key}" if how == "query" else ""
    response = httpx.post(
        keyed.coordinator.url + "/translate_file" + query,
        data={"source": "en", "target": "pt"},
        files={"file": ("a.txt", CAT.encode())},
        timeout=TIMEOUT,
        **request,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/download_file/no-such-node~" + "0" * 32 + ".a.txt", 404),
        ("/download_file/files-a~" + "0" * 32 + ".a.txt", 404),
        ("/download_file/files-a~..%2F..%2Fetc%2Fpasswd", 404),
        ("/download_file/files-a~" + "0" * 32 + ".a.txt%2F..%2F..%2Fx", 404),
        ("/download_file/files-a~node.yaml", 400),
        ("/download_file/" + "0" * 32 + ".a.txt", 400),
        ("/download_file/http:%2F%2Fexample.com~" + "0" * 32 + ".a.txt", 404),
    ],
)
def test_bad_download_names_get_a_4xx(keyed: Keyed, path: str, status: int) -> None:
    response = httpx.get(keyed.coordinator.url + path, timeout=TIMEOUT)
    assert response.status_code == status, response.text


def test_bad_files_are_refused_at_the_coordinator_and_good_ones_go_on(keyed: Keyed) -> None:
    url, key = keyed.coordinator.url, keyed.key
    bad = [
        (("scan.pdf", b"%PDF"), {}, 400, "'.pdf' files"),
        (("big.txt", b"Hello. " * 10_000), {}, 413, "larger than the limit of 65536 bytes"),
        (("a.docx", b"PK\x03\x04 broken"), {}, 400, "not a valid zip archive"),
        (("a.txt", b"Hello."), {"target": "de"}, 400, "en-de"),
        (("a.txt", b"Hello."), {"target": None}, 400, "missing 'target'"),
    ]
    for (name, data), fields, status, message in bad:
        response = translate_file(url, name, data, api_key=key, **fields)  # type: ignore[arg-type]
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
        # Between two bad files, good ones go through.
        good = translate(url, CAT, headers={"Authorization": f"Bearer {key}"})
        assert good.status_code == 200 and SENTENCES[CAT] in good.json()["translatedText"]
    _, data = translated(url, "after.docx", docx_sample(), api_key=key)
    assert SENTENCES[CAT] in read_docx(data)["heading"]
