"""Text that survives translation: each protected span comes back exactly once and the rest is
translated, with the bundled Bergamot models, en->pt and pt->en, from a node and through a coordinator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import TIMEOUT, NodeProcess
from tests.support.coordinator import start_coordinator, start_registered_node

# (source, text, the spans that must come back exactly once)
CASES: list[tuple[str, str, list[str]]] = [
    ("en", "I love pizza 🍕", ["🍕"]),
    ("en", "🍕 I love pizza", ["🍕"]),
    ("en", "I love 🍕 and 🍝 on Sundays.", ["🍕", "🍝"]),
    ("en", "Great job, team! 👍🏽🎉", ["👍🏽🎉"]),
    ("en", "My family 👨\u200d👩\u200d👧 lives in Brazil 🇧🇷.", ["👨\u200d👩\u200d👧", "🇧🇷"]),
    (
        "en",
        "Visit https://example.com/docs?lang=en#install for more information.",
        ["https://example.com/docs?lang=en#install"],
    ),
    ("en", "https://example.com is our new website.", ["https://example.com"]),
    ("en", "Our new website is https://example.com", ["https://example.com"]),
    ("en", "Send an e-mail to ana.silva@example.com today.", ["ana.silva@example.com"]),
    (
        "en",
        "Write to support@example.org or visit https://example.org/help.",
        ["support@example.org", "https://example.org/help"],
    ),
    ("en", "Hello {name}, you have {count} new messages.", ["{name}", "{count}"]),
    ("en", "Welcome back, %s! You have %d unread messages.", ["%s", "%d"]),
    ("en", "The file %(filename)s could not be opened.", ["%(filename)s"]),
    ("en", "{{user}} commented on your photo.", ["{{user}}"]),
    ("en", "Thank you for your order, {{customer_name}}", ["{{customer_name}}"]),
    ("en", "Run `pip install regex` before you start the server.", ["`pip install regex`"]),
    ("en", "Open /etc/hosts and add the name of the server.", ["/etc/hosts"]),
    (
        "en",
        "The report is in C:\\Users\\ana\\report.docx on the old computer.",
        ["C:\\Users\\ana\\report.docx"],
    ),
    ("en", "The ticket costs $25.50 and the trip is 120 km long.", ["$25.50", "120 km"]),
    ("en", "The city is called Москва in Russian and 東京 is another city.", ["Москва", "東京"]),
    ("en", "{name}{count} new messages arrived this morning.", ["{name}{count}"]),
    ("en", "Call me 📞 at https://meet.example.com/ana 🙂", ["📞", "https://meet.example.com/ana 🙂"]),
    ("en", "First line with 🍕\nSecond line with {placeholder}\n\nThird line.", ["🍕", "{placeholder}"]),
    ("en", "The weather is nice today 🌞, so we are going to the beach 🏖️.", ["🌞", "🏖️"]),
    ("pt", "Eu amo pizza 🍕", ["🍕"]),
    ("pt", "🍕 Eu amo pizza", ["🍕"]),
    (
        "pt",
        "Visite https://exemplo.com.br/ajuda#contato para mais informações.",
        ["https://exemplo.com.br/ajuda#contato"],
    ),
    ("pt", "Envie um e-mail para joao@exemplo.com.br hoje.", ["joao@exemplo.com.br"]),
    ("pt", "Olá {nome}, você tem {total} mensagens novas.", ["{nome}", "{total}"]),
    ("pt", "Bem-vindo de volta, %s!", ["%s"]),
    ("pt", "O arquivo %(arquivo)s não pôde ser aberto.", ["%(arquivo)s"]),
    ("pt", "{{usuario}} comentou na sua foto.", ["{{usuario}}"]),
    ("pt", "Execute `npm install` antes de iniciar o servidor.", ["`npm install`"]),
    ("pt", "Abra o arquivo /home/ana/notas.txt e mude a porta.", ["/home/ana/notas.txt"]),
    ("pt", "O bilhete custa R$ 25,50 e a viagem tem 120 km.", ["R$ 25,50", "120 km"]),
    ("pt", "Ótimo trabalho, equipe! 👍🎉", ["👍🎉"]),
    ("pt", "A cidade se chama Москва em russo.", ["Москва"]),
    ("pt", "Minha família 👨\u200d👩\u200d👧 mora no Brasil 🇧🇷.", ["👨\u200d👩\u200d👧", "🇧🇷"]),
    (
        "pt",
        "Escreva para suporte@exemplo.org ou visite https://exemplo.org.",
        ["suporte@exemplo.org", "https://exemplo.org"],
    ),
    ("pt", "Primeira linha com 🍕\nSegunda linha com {marcador}", ["🍕", "{marcador}"]),
    ("pt", "O tempo está bom hoje 🌞 e vamos à praia.", ["🌞"]),
    ("pt", "Obrigado pelo seu pedido, {{nome_cliente}}", ["{{nome_cliente}}"]),
]


@pytest.fixture(scope="module")
def coordinator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("text-coordinator")
    coordinator = start_coordinator(tmp_path)
    node = start_registered_node(tmp_path, coordinator, "node-text")
    yield coordinator.url
    node.stop()
    coordinator.stop()


def post(url: str, q: object, source: str, **extra: object) -> httpx.Response:
    target = "pt" if source == "en" else "en"
    body = {"q": q, "source": source, "target": target, **extra}
    return httpx.post(url + "/translate", json=body, timeout=TIMEOUT)


def check(text: str, spans: list[str], answer: str) -> None:
    at = 0
    for span in spans:
        assert answer.count(span) == text.count(span), (span, text, answer)
        found = answer.find(span, at)
        assert found >= 0, (span, "out of order", text, answer)
        at = found + len(span)
    rest = text
    for span in spans:
        rest = rest.replace(span, "\0")
    rest_answer = answer
    for span in spans:
        rest_answer = rest_answer.replace(span, "\0")
    assert rest_answer != rest, ("nothing was translated", text, answer)
    assert text.count("\n") == answer.count("\n"), (text, answer)


def test_the_table_has_forty_inputs_in_both_directions() -> None:
    assert len(CASES) >= 40
    assert {source for source, _, _ in CASES} == {"en", "pt"}


@pytest.mark.parametrize(("source", "text", "spans"), CASES, ids=[text[:40] for _, text, _ in CASES])
def test_each_span_comes_back_once_from_a_node(
    node: NodeProcess, source: str, text: str, spans: list[str]
) -> None:
    response = post(node.url, text, source)
    assert response.status_code == 200, response.text
    check(text, spans, response.json()["translatedText"])


def test_the_same_through_a_coordinator_as_one_list_per_direction(coordinator_url: str) -> None:
    for source in ("en", "pt"):
        cases = [(text, spans) for s, text, spans in CASES if s == source]
        response = post(coordinator_url, [text for text, _ in cases], source)
        assert response.status_code == 200, response.text
        answers = response.json()["translatedText"]
        assert len(answers) == len(cases)
        for (text, spans), answer in zip(cases, answers, strict=True):
            check(text, spans, answer)


def test_a_text_with_nothing_to_protect_gets_the_answer_it_got_before(node: NodeProcess) -> None:
    plain = post(node.url, ["The cat sleeps on the sofa.", "I like books."], "en")
    with_emoji = post(node.url, ["The cat sleeps on the sofa. 🐈", "I like books."], "en")
    assert plain.status_code == with_emoji.status_code == 200
    assert with_emoji.json()["translatedText"][0] == plain.json()["translatedText"][0] + " 🐈"
    assert with_emoji.json()["translatedText"][1] == plain.json()["translatedText"][1]


def test_a_text_that_is_only_spans_comes_back_as_it_is(node: NodeProcess) -> None:
    response = post(node.url, "🍕 https://example.com {name}", "en")
    assert response.status_code == 200, response.text
    assert response.json()["translatedText"] == "🍕 https://example.com {name}"
