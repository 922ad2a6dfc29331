"""``format: "html"`` on a real node and through a coordinator: text translated, markup as it came."""

from __future__ import annotations

import httpx
import pytest

from tests.support import TIMEOUT, NodeProcess, metric_samples, sample
from tests.support.coordinator import start_coordinator, start_registered_node

PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>My page</title>'
    "<style>p { color: red }</style></head><body>"
    '<p class="intro" title="Hello there">The weather is <b>nice</b> today, so we are going to the '
    '<a href="https://example.com/beach?x=1&amp;y=2">beach</a>.</p>'
    "<!-- the cat sleeps -->"
    "<p>Tom &amp; Jerry&nbsp;live in the house.</p>"
    "<script>var greeting = 'Good morning';</script>"
    "<pre>The cat sleeps on the sofa.</pre>"
    "<p>Run <code>make test</code> before you go 🍕</p>"
    "</body></html>"
)
UNTOUCHED = [
    '<!DOCTYPE html><html lang="en"><head><title>',
    "</title><style>p { color: red }</style></head><body>",
    '<p class="intro" title="Hello there">',
    "<b>",
    "</b>",
    '<a href="https://example.com/beach?x=1&amp;y=2">',
    "</a>",
    "<!-- the cat sleeps -->",
    "&amp;",
    "&nbsp;",
    "<script>var greeting = 'Good morning';</script>",
    "<pre>The cat sleeps on the sofa.</pre>",
    "<code>make test</code>",
    "🍕</p>",
    "</body></html>",
]


def html(url: str, q: object, source: str = "en", target: str = "pt", **extra: object) -> httpx.Response:
    body = {"q": q, "source": source, "target": target, "format": "html", **extra}
    return httpx.post(url + "/translate", json=body, timeout=TIMEOUT)


def test_a_page_keeps_its_markup_and_its_text_is_translated(node: NodeProcess) -> None:
    response = html(node.url, PAGE)
    assert response.status_code == 200, response.text
    answer = response.json()["translatedText"]
    for part in UNTOUCHED:
        assert answer.count(part) == PAGE.count(part), (part, answer)
    assert "praia" in answer
    assert "tempo" in answer
    assert "nice" not in answer


def test_portuguese_to_english_and_a_list(node: NodeProcess) -> None:
    response = html(node.url, ["<p>O gato <i>está dormindo</i> no sofá.</p>", "Bom dia"], "pt", "en")
    assert response.status_code == 200, response.text
    first, second = response.json()["translatedText"]
    assert first.startswith("<p>") and first.endswith("</p>")
    assert first.count("<i>") == first.count("</i>") == 1
    assert "cat" in first.lower()
    assert "morning" in second.lower()


@pytest.mark.parametrize(
    "markup",
    [
        "<p>The cat <b>sleeps",
        "<div><p>The cat <i>sleeps</b> here</div></p>",
        "<<>> the cat </p> <p",
        "<a href='x>The cat",
    ],
)
def test_broken_html_is_answered(node: NodeProcess, markup: str) -> None:
    response = html(node.url, markup)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["translatedText"], str)


def test_through_a_coordinator(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp_path = tmp_path_factory.mktemp("html-coordinator")
    coordinator = start_coordinator(tmp_path)
    node = start_registered_node(tmp_path, coordinator, "node-html")
    try:
        response = html(coordinator.url, PAGE)
        assert response.status_code == 200, response.text
        answer = response.json()["translatedText"]
        for part in UNTOUCHED:
            assert answer.count(part) == PAGE.count(part), (part, answer)
        assert "praia" in answer
        form = httpx.post(
            coordinator.url + "/translate",
            data={"q": "<p>Good <b>morning</b></p>", "source": "en", "target": "pt", "format": "html"},
            timeout=TIMEOUT,
        )
        assert form.status_code == 200, form.text
        assert form.json()["translatedText"].startswith("<p>")
        bad = html(coordinator.url, "<p>hi</p>", format="xml")
        assert bad.status_code == 400
        assert "format 'xml' is not supported" in bad.json()["error"]
    finally:
        node.stop()
        coordinator.stop()


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ({"format": "markdown"}, 400, "format 'markdown' is not supported"),
        ({"format": 5}, 400, "format 5 is not supported"),
        ({"q": "<p>" + "The cat sleeps. " * 2000 + "</p>"}, 400, "characters; at most"),
        ({"q": "<p>" + "Hi.\n" * 1200 + "</p>"}, 413, "sentences or lines"),
    ],
    ids=["unknown format", "format not a string", "html too long", "html of too many lines"],
)
def test_bad_html_requests_are_refused_and_good_ones_still_served(
    node: NodeProcess, extra: dict[str, object], status: int, message: str
) -> None:
    body = {"q": "<p>Hi</p>", "source": "en", "target": "pt", "format": "html", **extra}
    response = httpx.post(node.url + "/translate", json=body, timeout=TIMEOUT)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    good = html(node.url, "<p>Good <b>morning</b></p>")
    assert good.status_code == 200
    assert good.json()["translatedText"].count("<b>") == 1


def test_a_list_of_snippets_is_one_batch_and_each_is_translated_as_alone(node: NodeProcess) -> None:
    # What a web page's translator sends: many small HTML snippets in one request.
    snippets = [f"<p>The cat sleeps on <b>sofa {i}</b>.</p>" for i in range(12)] + [
        '<a href="/home">Good morning</a>',
        "plain text",
        "<br>",
    ]
    alone = []
    for snippet in snippets:
        response = html(node.url, snippet)
        assert response.status_code == 200, response.text
        alone.append(response.json()["translatedText"])
    before = sample(metric_samples(node.url), "udn_batch_size_sum")
    response = html(node.url, snippets)
    assert response.status_code == 200, response.text
    items = sample(metric_samples(node.url), "udn_batch_size_sum") - before
    assert response.json()["translatedText"] == alone
    # The snippets' text went to the workers together: one work item, two at most when an
    # answer lost a placeholder; not one per snippet.
    assert 1 <= items <= 2, f"{items} work items for {len(snippets)} snippets"
