"""The documentation stays honest: a short README, links that lead somewhere, a complete key reference."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from universal_decoder_node.config import EngineOptions, Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
CONFIGURATION = ROOT / "docs" / "configuration.md"
README_LIMIT = 16_000

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"<[^>]*>")


def _prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return _CODE.sub("", _FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as '-'."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links(path: Path) -> list[str]:
    links = _LINK.findall(_prose(path.read_text(encoding="utf-8")))
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link)]


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size < README_LIMIT, f"README.md is {size} bytes; keep it under {README_LIMIT}, detail in docs/"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_lead_somewhere(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        target, _, anchor = link.partition("#")
        resolved = (page.parent / target).resolve() if target else page
        if not resolved.exists():
            broken.append(f"{link}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{link}: no heading with anchor #{anchor}")
    assert not broken, f"{page.name} has broken links: " + "; ".join(broken)


def _model_of(annotation: object) -> tuple[type[BaseModel] | None, bool]:
    """The settings model a field holds, and whether it holds a mapping of them (name -> model)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in args:
            found = _model_of(arg)
            if found[0] is not None:
                return found
        return None, False
    if typing.get_origin(annotation) is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return args[1], True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _keys(model: type[BaseModel], prefix: str) -> set[str]:
    """Every key under ``prefix``; a model that extends EngineOptions leaves those options to
    ``models.options.<pair>``, where they are documented once."""
    own = set(model.model_fields)
    if model is not EngineOptions and issubclass(model, EngineOptions):
        own -= set(EngineOptions.model_fields)
    keys = set()
    for name in own:
        key = f"{prefix}.{name}"
        keys.add(key)
        inner, mapping = _model_of(model.model_fields[name].annotation)
        if inner is not None:
            keys |= _keys(inner, f"{key}.<*>" if mapping else key)
    return keys


def settings_keys() -> set[str]:
    keys = set()
    for section, field in Settings.model_fields.items():
        inner, _ = _model_of(field.annotation)
        assert inner is not None, f"settings section {section} is not a model"
        keys |= _keys(inner, section)
    return keys


def documented_keys() -> set[str]:
    """The keys named in the first column of docs/configuration.md's tables."""
    sections = tuple(Settings.model_fields)
    keys = set()
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        first = line.strip("|").split("|")[0]
        for name in re.findall(r"`([^`]+)`", first):
            if name.split(".")[0] in sections and "." in name:
                keys.add(_PLACEHOLDER.sub("<*>", name))
    return keys


def test_every_documented_key_exists() -> None:
    unknown = documented_keys() - settings_keys()
    assert not unknown, f"docs/configuration.md documents keys config.py does not have: {sorted(unknown)}"


def test_every_key_is_documented() -> None:
    missing = settings_keys() - documented_keys()
    assert not missing, f"keys of config.py missing from docs/configuration.md's tables: {sorted(missing)}"


def test_the_key_walk_sees_nested_keys() -> None:
    # The two tests above are only as good as this walk: it must reach into mappings of models.
    keys = settings_keys()
    assert {"serving.port", "models.pairs.<*>.path", "models.options.<*>.beam_size"} <= keys
    assert "models.pairs.<*>.beam_size" not in keys
