"""Protected spans: placeholders (falling back to runs) against runs alone, with the bundled Bergamot models.

Prints how often the placeholders came back and the chrF (character 6-grams, beta 2) of each
strategy against hand-written references. Run: ``python bench/text_protection.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from universal_decoder_node.engine.bergamot import BergamotBackend, bundled_model_dirs, prepare_process
from universal_decoder_node.text.protect import translate_protected

# (source, text, reference)
CASES = [
    ("en", "I love pizza 🍕 and pasta.", "Eu amo pizza 🍕 e massa."),
    (
        "en",
        "Visit https://example.com/docs for more information.",
        "Visite https://example.com/docs para mais informações.",
    ),
    ("en", "Send an e-mail to ana@example.com today.", "Envie um e-mail para ana@example.com hoje."),
    ("en", "Hello {name}, you have {count} new messages.", "Olá {name}, você tem {count} novas mensagens."),
    (
        "en",
        "Welcome back, %s! You have %d unread messages.",
        "Bem-vindo de volta, %s! Você tem %d mensagens não lidas.",
    ),
    (
        "en",
        "Run `make test` before you open the pull request.",
        "Execute `make test` antes de abrir o pull request.",
    ),
    (
        "en",
        "Open /etc/hosts and add the name of the server.",
        "Abra /etc/hosts e adicione o nome do servidor.",
    ),
    (
        "en",
        "The ticket costs $25.50 and the trip is 120 km long.",
        "O bilhete custa $25.50 e a viagem tem 120 km.",
    ),
    (
        "en",
        "The weather is nice today 🌞, so we are going to the beach.",
        "O tempo está bom hoje 🌞, então vamos à praia.",
    ),
    (
        "en",
        "My sister lives in Москва and works at the hospital.",
        "Minha irmã mora em Москва e trabalha no hospital.",
    ),
    ("pt", "Eu amo pizza 🍕 e massa.", "I love pizza 🍕 and pasta."),
    (
        "pt",
        "Visite https://exemplo.com.br/ajuda para mais informações.",
        "Visit https://exemplo.com.br/ajuda for more information.",
    ),
    ("pt", "Envie um e-mail para joao@exemplo.com.br hoje.", "Send an email to joao@exemplo.com.br today."),
    ("pt", "Olá {nome}, você tem {total} mensagens novas.", "Hello {nome}, you have {total} new messages."),
    (
        "pt",
        "Execute `npm install` antes de iniciar o servidor.",
        "Run `npm install` before starting the server.",
    ),
    (
        "pt",
        "Abra o arquivo /home/ana/notas.txt e mude a porta.",
        "Open the file /home/ana/notas.txt and change the port.",
    ),
    (
        "pt",
        "O bilhete custa R$ 25,50 e a viagem tem 120 km.",
        "The ticket costs R$ 25,50 and the trip is 120 km.",
    ),
    (
        "pt",
        "O tempo está bom hoje 🌞 e vamos à praia.",
        "The weather is nice today 🌞 and we are going to the beach.",
    ),
]


def chrf(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """chrF (Popović 2015): the F-score of character n-grams, spaces removed, averaged over n."""
    hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
    precisions, recalls = [], []
    for n in range(1, order + 1):
        h = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
        common = sum((h & r).values())
        precisions.append(common / max(sum(h.values()), 1))
        recalls.append(common / max(sum(r.values()), 1))
    p, r = sum(precisions) / order, sum(recalls) / order
    return 0.0 if p + r == 0 else 100 * (1 + beta**2) * p * r / (beta**2 * p + r)


async def main() -> None:
    prepare_process()
    backend = BergamotBackend(1)
    dirs = bundled_model_dirs()
    models = {"en": backend.load(dirs["en-pt"]), "pt": backend.load(dirs["pt-en"])}
    scores: dict[str, list[float]] = {"placeholders": [], "runs": []}
    kept = 0
    for source, text, reference in CASES:
        model = models[source]

        async def translate(texts: list[str], model: object = model) -> list[str]:
            return [str(r) for r in model.translate_batch(texts)]  # type: ignore[attr-defined]

        async def runs_only(texts: list[str], translate: object = translate) -> list[str]:
            # Answers without placeholders: every text falls back to translating its runs.
            answers = await translate(texts)  # type: ignore[operator]
            return ["" if "X1" in text else answer for text, answer in zip(texts, answers, strict=True)]

        calls: list[int] = []

        async def counted(
            texts: list[str], calls: list[int] = calls, translate: object = translate
        ) -> list[str]:
            calls.append(len(texts))
            return await translate(texts)  # type: ignore[operator,no-any-return]

        [with_placeholders] = await translate_protected([text], counted, source)
        kept += len(calls) == 1
        [with_runs] = await translate_protected([text], runs_only, source)
        scores["placeholders"].append(chrf(with_placeholders, reference))
        scores["runs"].append(chrf(with_runs, reference))
        print(f"{source}: {text}\n  placeholders: {with_placeholders}\n  runs:         {with_runs}")
    print(f"\nplaceholders kept by the engine: {kept}/{len(CASES)}")
    for name, values in scores.items():
        print(f"mean chrF, {name}: {sum(values) / len(values):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
