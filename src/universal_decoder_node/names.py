"""The shapes of names that come from configuration or from outside: language pairs, Hub repositories.

Each rule lives here once; the settings, the model store and the engine all check with it.
Every check raises ValueError with the expected shape. This module imports nothing from the package.
"""

from __future__ import annotations

DEFAULT_REVISION = "main"
_REPO_SHAPE = "must look like 'org/name' or 'org/name@revision'"


def check_pair_name(name: str) -> None:
    """A language pair is two language codes: ``en-pt``."""
    parts = name.split("-")
    if len(parts) != 2 or not all(p.isalpha() and 2 <= len(p) <= 8 for p in parts):
        raise ValueError(f"pair name {name!r} must look like 'en-pt' (source-target language codes)")


def is_safe_name(name: str) -> bool:
    """True when ``name`` is a relative '/'-separated path that stays where it is joined.

    Not absolute, no '..' or '.' or empty segment, no backslash, no control character: what
    a file in a repository or a branch name may be, never a way out of a directory.
    """
    return (
        bool(name)
        and "\\" not in name
        and not any(ord(c) < 32 or ord(c) == 127 for c in name)
        and all(part not in ("", ".", "..") for part in name.split("/"))
    )


def check_repo(repo_id: str, revision: str) -> None:
    """A Hub repository id (``org/name``, as the Hub allows it) and a revision safe as a path."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if repo_id.count("/") != 1:
        raise ValueError(f"repository {repo_id!r} {_REPO_SHAPE}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise ValueError(
            f"repository {repo_id!r} {_REPO_SHAPE}, in letters, digits, '-', '_' and '.' (no '--' or '..')"
        ) from None
    if not is_safe_name(revision):
        raise ValueError(f"revision {revision!r} of {repo_id} is not a branch, tag or commit name")


def parse_repo(text: str) -> tuple[str, str]:
    """``org/name`` or ``org/name@revision`` -> (repository id, revision: ``main`` when none is given)."""
    repo_id, sep, revision = text.strip().partition("@")
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or (sep and not revision):
        raise ValueError(f"repository {text!r} {_REPO_SHAPE}")
    revision = revision or DEFAULT_REVISION
    check_repo(repo_id, revision)
    return repo_id, revision
