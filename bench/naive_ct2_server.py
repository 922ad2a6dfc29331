"""The naive CTranslate2 baseline: a FastAPI endpoint that calls the engine once per request.

What a first attempt at serving a CTranslate2 model looks like: one process, the
``ctranslate2.Translator`` and its SentencePiece models loaded at start, a plain (sync)
FastAPI endpoint, so FastAPI runs each request on its thread pool and each request's texts
go to the engine in one ``translate_batch`` call of their own. The engine runs the calls of
concurrent requests side by side on its ``inter_threads`` workers, but never batches two
requests together. No queue, no limits. Speaks LibreTranslate's ``/translate``.

The engine settings are arguments, so a benchmark gives it the node's (threads, precision,
decoding options).

Usage: python bench/naive_ct2_server.py --port 8100 --model DIR [--device cpu] [--compute-type int8]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class TranslateBody(BaseModel):
    q: str | list[str]
    source: str
    target: str


def build_app(model: Path, engine: dict[str, Any], decode: dict[str, Any]) -> FastAPI:
    """The app; ``engine`` goes to ``ctranslate2.Translator``, ``decode`` to each ``translate_batch``."""
    import ctranslate2
    import sentencepiece

    translator = ctranslate2.Translator(str(model), **engine)
    source = sentencepiece.SentencePieceProcessor(model_file=str(model / "source.spm"))
    target = sentencepiece.SentencePieceProcessor(model_file=str(model / "target.spm"))
    app = FastAPI()

    def translate_texts(texts: list[str]) -> list[str]:
        tokens = [source.encode(text, out_type=str) for text in texts]
        results = translator.translate_batch(tokens, **decode)
        return [target.decode(result.hypotheses[0]) for result in results]

    @app.post("/translate")
    def translate(body: TranslateBody) -> dict[str, str | list[str]]:
        if isinstance(body.q, str):
            return {"translatedText": translate_texts([body.q])[0]}
        return {"translatedText": translate_texts(body.q)}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--model", type=Path, required=True, help="a CTranslate2 directory (OPUS-MT layout)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--inter-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--intra-threads", type=int, default=1)
    parser.add_argument("--beam-size", type=int, default=2)
    parser.add_argument("--max-decoding-length", type=int, default=256)
    args = parser.parse_args()
    # As the node's workers do, before the library's OpenMP runtime loads.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    engine = {
        "device": args.device,
        "compute_type": args.compute_type,
        "inter_threads": args.inter_threads,
        "intra_threads": args.intra_threads,
    }
    decode = {"beam_size": args.beam_size, "max_decoding_length": args.max_decoding_length}
    uvicorn.run(build_app(args.model, engine, decode), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
