"""Small random-weight CTranslate2 translation models, built offline at test time.

``build_ct2_model(directory)`` writes a directory in the layout of the OPUS-MT CTranslate2
conversions on the Hub (``model.bin``, ``config.json``, ``shared_vocabulary.json``,
``source.spm``, ``target.spm``): a Transformer with weights drawn from numpy with a fixed
seed, and a SentencePiece model trained on a few hundred generated lines. No torch, no
download; a tiny model takes about a second. The sizes are arguments, so a benchmark can
build a base-width model the same way.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np
import sentencepiece as spm
from ctranslate2.specs import common_spec, transformer_spec

_WORDS = [
    "the",
    "a",
    "one",
    "two",
    "three",
    "small",
    "large",
    "red",
    "green",
    "blue",
    "old",
    "new",
    "good",
    "bad",
    "happy",
    "quiet",
    "loud",
    "house",
    "garden",
    "river",
    "mountain",
    "city",
    "village",
    "road",
    "car",
    "train",
    "boat",
    "school",
    "doctor",
    "teacher",
    "brother",
    "sister",
    "mother",
    "father",
    "child",
    "dog",
    "cat",
    "bird",
    "fish",
    "tree",
    "flower",
    "book",
    "letter",
    "table",
    "walks",
    "runs",
    "sees",
    "eats",
    "reads",
    "writes",
    "likes",
    "finds",
    "opens",
    "closes",
    "buys",
    "sells",
    "builds",
    "carries",
    "today",
    "tomorrow",
    "yesterday",
    "always",
    "never",
    "often",
    "slowly",
    "quickly",
    "near",
    "far",
    "under",
    "over",
    "with",
    "and",
    "but",
    "because",
    "when",
    "where",
    "morning",
    "evening",
    "night",
    "summer",
    "winter",
    "weather",
    "beach",
]


@dataclass(frozen=True, slots=True)
class ModelSize:
    """The shape of a built model: layers, widths and the SentencePiece vocabulary size."""

    encoder_layers: int = 2
    decoder_layers: int = 2
    d_model: int = 64
    heads: int = 4
    ffn: int = 128
    vocab: int = 200


TINY = ModelSize()


def corpus(lines: int = 400, seed: int = 7) -> list[str]:
    """``lines`` sentences of generated words, the same every time for a given seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        words = rng.choices(_WORDS, k=rng.randint(4, 12))
        out.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ","]))
    return out


def train_sentencepiece(vocab: int, lines: list[str]) -> bytes:
    """A unigram SentencePiece model of ``vocab`` pieces trained on ``lines``, as bytes."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab,
        model_type="unigram",
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def _fill(rng: np.random.Generator, *shape: int, scale: float = 0.3) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _norm(spec: common_spec.LayerNormSpec, d: int) -> None:
    spec.gamma = np.ones(d, dtype=np.float32)
    spec.beta = np.zeros(d, dtype=np.float32)


def _linear(spec: common_spec.LinearSpec, rng: np.random.Generator, out: int, inp: int) -> None:
    spec.weight = _fill(rng, out, inp)
    spec.bias = _fill(rng, out, scale=0.05)


def transformer(size: ModelSize, vocab: int, seed: int) -> transformer_spec.TransformerSpec:
    """A pre-norm Transformer spec with every weight set from a seeded generator."""
    rng = np.random.default_rng(seed)
    d = size.d_model
    spec = transformer_spec.TransformerSpec.from_config(
        (size.encoder_layers, size.decoder_layers), size.heads
    )
    encoder, decoder = spec.encoder, spec.decoder
    for embeddings in encoder.embeddings:
        embeddings.weight = _fill(rng, vocab, d, scale=1.0)
    decoder.embeddings.weight = _fill(rng, vocab, d, scale=1.0)
    _norm(encoder.layer_norm, d)
    _norm(decoder.layer_norm, d)
    _linear(decoder.projection, rng, vocab, d)
    for layer in encoder.layer:
        _norm(layer.self_attention.layer_norm, d)
        _linear(layer.self_attention.linear[0], rng, 3 * d, d)  # fused query, key, value
        _linear(layer.self_attention.linear[1], rng, d, d)
        _feed_forward(layer.ffn, rng, size)
    for layer in decoder.layer:
        _norm(layer.self_attention.layer_norm, d)
        _linear(layer.self_attention.linear[0], rng, 3 * d, d)
        _linear(layer.self_attention.linear[1], rng, d, d)
        _norm(layer.attention.layer_norm, d)
        _linear(layer.attention.linear[0], rng, d, d)  # query
        _linear(layer.attention.linear[1], rng, 2 * d, d)  # fused key, value of the encoder
        _linear(layer.attention.linear[2], rng, d, d)
        _feed_forward(layer.ffn, rng, size)
    return spec


def _feed_forward(ffn: transformer_spec.FeedForwardSpec, rng: np.random.Generator, size: ModelSize) -> None:
    _norm(ffn.layer_norm, size.d_model)
    _linear(ffn.linear_0, rng, size.ffn, size.d_model)
    _linear(ffn.linear_1, rng, size.d_model, size.ffn)


def build_ct2_model(
    directory: Path,
    size: ModelSize = TINY,
    *,
    seed: int = 1,
    lines: list[str] | None = None,
    quantization: str | None = None,
    end_token: bool = True,
    language_tokens: Sequence[str] = (),
) -> Path:
    """Write a CTranslate2 model directory (OPUS-MT layout) at ``directory``; returns it.

    ``quantization``: how ``model.bin`` stores the weights ("int8", "float16"; None: float32).
    ``end_token=False``: the end token gets a large negative output bias, so decoding always
    runs to ``max_decoding_length`` (benchmarks use it to fix every sentence's work).
    ``language_tokens``: added to the vocabulary after the SentencePiece pieces, as a multilingual
    model's (``eng_Latn`` for NLLB-200, ``__en__`` for M2M-100).
    """
    directory.mkdir(parents=True, exist_ok=True)
    sp_bytes = train_sentencepiece(size.vocab, lines or corpus())
    processor = spm.SentencePieceProcessor(model_proto=sp_bytes)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    pieces += list(language_tokens)
    spec = transformer(size, len(pieces), seed)
    if not end_token:  # far below any logit a random model reaches, and representable in float16
        spec.decoder.projection.bias[processor.eos_id()] = -1.0e4
    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    spec.validate()
    spec.optimize(quantization=quantization)
    spec.save(str(directory))
    (directory / "source.spm").write_bytes(sp_bytes)
    (directory / "target.spm").write_bytes(sp_bytes)
    return directory


def _engine(directory: Path, compute_type: str) -> tuple[ctranslate2.Translator, Any, Any]:
    """A translator on the CPU and the model's source and target SentencePiece processors."""
    translator = ctranslate2.Translator(str(directory), device="cpu", compute_type=compute_type)
    source = spm.SentencePieceProcessor(model_file=str(directory / "source.spm"))
    target = spm.SentencePieceProcessor(model_file=str(directory / "target.spm"))
    return translator, source, target


def raw_translate(
    directory: Path,
    texts: list[str],
    *,
    compute_type: str = "float32",
    **options: object,
) -> Iterator[str]:
    """The engine's own answer for each text, one text per call: what a node must match."""
    translator, source, target = _engine(directory, compute_type)
    for text in texts:
        (result,) = translator.translate_batch([source.encode(text, out_type=str)], **options)  # type: ignore[arg-type]
        yield target.decode(result.hypotheses[0])


def raw_hypotheses(
    directory: Path,
    texts: list[str],
    n: int,
    *,
    compute_type: str = "float32",
    beam_size: int = 2,
    **options: object,
) -> Iterator[list[str]]:
    """The engine's own ``n`` best for each text, one text per call, the beam widened as a node widens it."""
    translator, source, target = _engine(directory, compute_type)
    for text in texts:
        (result,) = translator.translate_batch(  # type: ignore[arg-type]
            [source.encode(text, out_type=str)], beam_size=max(beam_size, n), num_hypotheses=n, **options
        )
        yield [target.decode(hypothesis) for hypothesis in result.hypotheses]


def raw_translate_multilingual(
    directory: Path,
    texts: list[str],
    source_token: str,
    target_token: str,
    *,
    compute_type: str = "float32",
    **options: object,
) -> Iterator[str]:
    """The engine's own answer for each text of a multilingual model, one text per call.

    The source as NLLB-200's and M2M-100's tokenizers make it (``[source_token, *pieces, "</s>"]``),
    the target forced to start with ``target_token``, which is dropped from the answer.
    """
    translator, source, target = _engine(directory, compute_type)
    for text in texts:
        tokens = [source_token, *source.encode(text, out_type=str), "</s>"]
        (result,) = translator.translate_batch([tokens], target_prefix=[[target_token]], **options)  # type: ignore[arg-type]
        hypothesis = result.hypotheses[0]
        assert hypothesis[0] == target_token
        yield target.decode(hypothesis[1:])
