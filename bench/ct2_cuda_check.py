"""The CTranslate2 engine's CUDA path, run once on a machine with a GPU (scripts/device-cuda-check.sh).

It reports what the engine needs and finds (CTranslate2's CUDA device count and compute types,
the CUDA 12 libraries its PyPI wheel loads), then builds a small random-weight model, loads it
through the node's own backend with ``device: auto`` and ``device: cuda``, and checks that the
GPU's float32 answers are the CPU's. Exit status 0: the CUDA path works; 3: the machine cannot
run it (the message says why, with the evidence); 1: it ran and answered wrongly.

Usage: python bench/ct2_cuda_check.py [--out DIR]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import importlib.util  # noqa: E402

import ctranslate2  # noqa: E402

from universal_decoder_node.config import EngineOptions  # noqa: E402
from universal_decoder_node.engine.ctranslate2 import CTranslate2Backend  # noqa: E402


def _model_builder() -> Any:
    """tests/support/ct2_model.py alone: the package's __init__ needs the test tools too."""
    spec = importlib.util.spec_from_file_location("ct2_model", ROOT / "tests" / "support" / "ct2_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ct2_model"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# The libraries CTranslate2's CUDA build opens at run time (its wheel ships none of them).
CUDA_LIBRARIES = ("libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12")


def loadable(name: str) -> str:
    try:
        ctypes.CDLL(name)
    except OSError as exc:
        return f"not loadable: {exc}"
    return "loaded"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    report: dict[str, Any] = {"ctranslate2": ctranslate2.__version__}
    report["cuda_devices"] = ctranslate2.get_cuda_device_count()
    report["libraries"] = {name: loadable(name) for name in CUDA_LIBRARIES}
    try:
        report["cuda_compute_types"] = sorted(ctranslate2.get_supported_compute_types("cuda"))
    except Exception as exc:  # no device, or no CUDA runtime
        report["cuda_compute_types"] = f"error: {exc}"
    status = 0
    builder = _model_builder()
    with tempfile.TemporaryDirectory() as workdir:
        model = builder.build_ct2_model(Path(workdir) / "en-xx")
        texts = builder.corpus(16, seed=3)
        expected = list(builder.raw_translate(model, texts, max_decoding_length=16))
        backend = CTranslate2Backend(threads=2)
        for device in ("auto", "cuda"):
            options = EngineOptions(device=device, compute_type="float32", max_decoding_length=16)
            try:
                started = time.perf_counter()
                loaded = backend.load(model, options)
                answers = loaded.translate_batch(texts)
                seconds = time.perf_counter() - started
            except Exception as exc:
                report[device] = f"error: {type(exc).__name__}: {exc}"
                status = max(status, 3)
                continue
            same = sum(a == b for a, b in zip(answers, expected, strict=True))
            report[device] = {
                "device": loaded._translator.device if loaded._translator is not None else None,
                "load_and_translate_s": round(seconds, 3),
                "same_as_cpu": f"{same}/{len(texts)}",
                "memory_bytes": loaded.memory_bytes(),
                "first_answers": [str(a) for a in answers[:2]],
                "cpu_answers": expected[:2],
            }
            if same != len(texts):
                status = 1
            loaded.close()
    text = json.dumps(report, indent=2)
    print(text)
    (args.out / "ct2_cuda_check.json").write_text(text + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
