"""LibreTranslate's ``alternatives`` end to end: a real node, and a real coordinator in front of it.

The node serves a tiny random-weight CTranslate2 pair (en-xx, float32, so batched answers are
the engine's own) and the bundled Bergamot pairs, which give no alternatives. Every CTranslate2
answer is compared with the raw engine's for that text alone, with the node's options: the
best of ``alternatives + 1`` hypotheses, its beam widened to that many, and the rest as
LibreTranslate keeps them (no repeats, not the best itself, nothing empty).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    NODE_TOKEN,
    TIMEOUT,
    CoordinatorProcess,
    NodeProcess,
    eventually,
    start_coordinator,
    start_node,
    translate,
)
from tests.support.ct2_model import corpus, raw_hypotheses, raw_translate

CT2_OPTIONS = {"compute_type": "float32", "max_decoding_length": 16}  # float32: batched == alone
DECODING = {"max_decoding_length": 16}
# Sentences the node keeps whole (one segment each): they end a sentence, and hold no other end.
SENTENCES = [s for s in corpus(60, seed=11) if s[-1] in ".!"][:8]
TWO_SENTENCES = f"{SENTENCES[0]} {SENTENCES[1]}"


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoordinatorProcess]:
    process = start_coordinator(tmp_path_factory.mktemp("coordinator"))  # no Redis: its state file
    yield process
    process.stop()


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, ct2_model: Path, coordinator: CoordinatorProcess
) -> Iterator[NodeProcess]:
    """A node with the CTranslate2 pair and the bundled pairs, registered with ``coordinator``."""
    config = {
        "serving": {"workers": 1, "threads": 2},
        "models": {"pairs": {"en-xx": {"path": str(ct2_model), **CT2_OPTIONS}}},
        "registration": {"node_id": "alternatives"},
    }
    process = start_node(
        tmp_path_factory.mktemp("node"),
        config,
        env={"UDN_NODE_TOKEN": NODE_TOKEN},
        args=["--coordinator", coordinator.url],
    )
    try:
        eventually(lambda: "alternatives" in coordinator.node_ids(), 30, lambda: coordinator.log())
    except BaseException:
        process.stop()
        raise
    yield process
    process.stop()


def libretranslate_alternatives(hypotheses: list[str]) -> list[str]:
    """What LibreTranslate answers from a text's hypotheses, best first: the others, once each."""
    seen = {hypotheses[0], ""}
    others = []
    for hypothesis in hypotheses[1:]:
        if hypothesis not in seen:
            seen.add(hypothesis)
            others.append(hypothesis)
    return others


def expected(ct2_model: Path, texts: list[str], alternatives: int) -> list[tuple[str, list[str]]]:
    """(best, alternatives) per one-sentence text, from the raw engine."""
    hypotheses = raw_hypotheses(ct2_model, texts, alternatives + 1, **DECODING)
    return [(h[0], libretranslate_alternatives(h)) for h in hypotheses]


def post(url: str, body: dict[str, Any], form: bool = False) -> httpx.Response:
    if form:
        return httpx.post(url + "/translate", data=body, timeout=TIMEOUT)
    return httpx.post(url + "/translate", json=body, timeout=TIMEOUT)


def test_a_string_gets_a_list_of_alternatives_from_the_engine_s_n_best(
    node: NodeProcess, ct2_model: Path
) -> None:
    answers = expected(ct2_model, SENTENCES, 2)
    for text, (best, others) in zip(SENTENCES, answers, strict=True):
        body = {"q": text, "source": "en", "target": "xx", "alternatives": 2}
        response = post(node.url, body)
        assert response.status_code == 200, response.text
        assert response.json() == {"translatedText": best, "alternatives": others}, text
        # A form sends every field as text, as LibreTranslate's web page does.
        form = post(node.url, {**body, "alternatives": "2"}, form=True)
        assert form.status_code == 200, form.text
        assert form.json() == response.json()
    assert sum(len(others) for _, others in answers) >= len(SENTENCES), "the random model gives alternatives"


def test_a_list_gets_a_list_of_lists_and_a_text_s_sentences_are_joined_k_th_with_k_th(
    node: NodeProcess, ct2_model: Path
) -> None:
    texts = [SENTENCES[2], TWO_SENTENCES, SENTENCES[3]]
    response = post(node.url, {"q": texts, "source": "en", "target": "xx", "alternatives": 3})
    assert response.status_code == 200, response.text
    first, last = expected(ct2_model, [SENTENCES[2], SENTENCES[3]], 3)
    # The two-sentence text: the k-th alternative is both sentences' k-th hypotheses, joined.
    one, two = raw_hypotheses(ct2_model, SENTENCES[:2], 4, **DECODING)
    joined = [f"{a} {b}" for a, b in zip(one, two, strict=True)]
    assert response.json() == {
        "translatedText": [first[0], joined[0], last[0]],
        "alternatives": [first[1], libretranslate_alternatives(joined), last[1]],
    }
    assert len(response.json()["alternatives"][1]) == 3


def test_without_alternatives_the_answer_is_the_engine_s_own_and_has_no_alternatives(
    node: NodeProcess, ct2_model: Path
) -> None:
    texts = SENTENCES[:4]
    plain = list(raw_translate(ct2_model, texts, **DECODING))
    for body in (
        {"q": texts, "source": "en", "target": "xx"},
        {"q": texts, "source": "en", "target": "xx", "alternatives": 0},
        {"q": texts, "source": "en", "target": "xx", "alternatives": None},
    ):
        response = post(node.url, body)
        assert response.status_code == 200, response.text
        assert response.json() == {"translatedText": plain}


def test_requests_with_and_without_alternatives_at_once_each_get_their_own_answer(
    node: NodeProcess, ct2_model: Path
) -> None:
    plain = list(raw_translate(ct2_model, SENTENCES, **DECODING))
    wide = expected(ct2_model, SENTENCES, 2)
    requests = [(text, n) for text in SENTENCES for n in (0, 2, 0, 1)]
    one = dict(zip(SENTENCES, expected(ct2_model, SENTENCES, 1), strict=True))

    def ask(request: tuple[str, int]) -> httpx.Response:
        text, n = request
        return post(node.url, {"q": text, "source": "en", "target": "xx", "alternatives": n})

    with ThreadPoolExecutor(len(requests)) as pool:
        answers = list(pool.map(ask, requests))
    for (text, n), answer in zip(requests, answers, strict=True):
        assert answer.status_code == 200, answer.text
        i = SENTENCES.index(text)
        if n == 0:
            want: dict[str, Any] = {"translatedText": plain[i]}
        elif n == 1:
            want = {"translatedText": one[text][0], "alternatives": one[text][1]}
        else:
            want = {"translatedText": wide[i][0], "alternatives": wide[i][1]}
        assert answer.json() == want, (text, n)


def test_a_bergamot_pair_answers_empty_alternatives(node: NodeProcess) -> None:
    texts = ["Good morning.", "I like to read books. The house is big."]
    plain = translate(node.url, texts, expect=200).json()["translatedText"]
    single = post(node.url, {"q": texts[0], "source": "en", "target": "pt", "alternatives": 2})
    assert single.status_code == 200, single.text
    assert single.json() == {"translatedText": plain[0], "alternatives": []}
    listed = post(node.url, {"q": texts, "source": "en", "target": "pt", "alternatives": 3})
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"translatedText": plain, "alternatives": [[], []]}


@pytest.mark.parametrize(
    ("alternatives", "message"),
    [
        (4, "'alternatives' may be at most 3 on this server (serving.alternatives_limit)"),
        ("4", "'alternatives' may be at most 3"),
        ("9" * 5000, "'alternatives' may be at most 3"),
        (-1, "'alternatives' must be 0 or more"),
        (2.5, "'alternatives' must be a whole number, such as 3, not a float"),
        ("two", "'alternatives' must be a whole number, such as 3, not 'two'"),
        (True, "not a bool"),
        ([2], "not a list"),
    ],
)
def test_bad_alternatives_are_a_400_naming_the_limit(
    node: NodeProcess, alternatives: Any, message: str
) -> None:
    response = post(node.url, {"q": "Hello.", "source": "en", "target": "xx", "alternatives": alternatives})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_the_coordinator_forwards_alternatives_and_refuses_too_many_itself(
    node: NodeProcess, coordinator: CoordinatorProcess
) -> None:
    body = {"q": [SENTENCES[4], TWO_SENTENCES], "source": "en", "target": "xx", "alternatives": 2}
    direct = post(node.url, body)
    assert direct.status_code == 200 and len(direct.json()["alternatives"]) == 2, direct.text
    # An api_key makes the coordinator re-encode the body without it: alternatives must survive.
    key = coordinator.create_key(name="alternatives")["key"]
    for sent in (body, {**body, "api_key": key}):
        routed = post(coordinator.url, sent)
        assert routed.status_code == 200, routed.text
        assert routed.json() == direct.json()
    form = {"q": SENTENCES[4], "source": "en", "target": "xx", "alternatives": "2", "api_key": key}
    routed_form = post(coordinator.url, form, form=True)
    assert routed_form.status_code == 200, routed_form.text
    first = {key: value[0] for key, value in direct.json().items()}
    assert routed_form.json() == first

    too_many = post(coordinator.url, {**body, "alternatives": 4})
    assert too_many.status_code == 400, too_many.text
    assert "'alternatives' may be at most 3" in too_many.json()["error"]
