"""Parsing of LibreTranslate's ``POST /translate_file`` and the names of translated files.

The file comes as the ``file`` field of a multipart form, with ``source`` and ``target``;
everything is checked here, in the API process, before the document is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.requests import Request

from ..documents import DocumentFormat, format_for
from ..errors import (
    BodyTooLarge,
    EmptyText,
    FileTooLarge,
    InvalidField,
    MalformedRequest,
    MissingField,
)
from .params import media_type
from .requests import language_code, read_body

# Room for the form's other fields and the multipart framing, beyond the file itself.
FORM_OVERHEAD = 65_536
# A translated file's name: 32 random hex digits, a dot, then the uploaded file's cleaned name.
DOWNLOAD_NAME = re.compile(r"[0-9a-f]{32}\.[A-Za-z0-9][A-Za-z0-9_-]{0,79}(\.[A-Za-z0-9_-]{1,16})+")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class FileRequest:
    source: str
    target: str
    filename: str  # as the client named it
    data: bytes
    format: DocumentFormat

    @property
    def pair(self) -> str:
        return f"{self.source}-{self.target}"


async def parse_translate_file(request: Request, max_bytes: int) -> FileRequest:
    """Parse ``POST /translate_file``: the document, its languages and its format (by extension).

    Raises MissingField, InvalidField, UnsupportedFileType, FileTooLarge (over ``max_bytes``) or
    EmptyText, in LibreTranslate's order: file, source, target, file name, type.
    """
    if media_type(request) != "multipart/form-data":
        raise MissingField(
            "missing 'file': send the document as the 'file' field of a multipart/form-data body, "
            "with 'source' and 'target'"
        )
    try:
        await read_body(request, max_bytes + FORM_OVERHEAD)
    except BodyTooLarge:
        raise FileTooLarge(_too_large(max_bytes)) from None
    try:
        form = await request.form()
    except Exception as exc:  # python-multipart raises several types for broken bodies
        raise MalformedRequest(f"multipart body could not be parsed: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise MissingField("missing 'file': the document to translate, as a multipart/form-data file field")
    source = language_code(form.get("source"), "source")
    target = language_code(form.get("target"), "target")
    filename = upload.filename or ""
    if not filename.strip():
        raise InvalidField("the file has no name: its extension (.docx, .txt, ...) says how to read it")
    fmt = format_for(filename)
    data = await upload.read()
    if len(data) > max_bytes:
        raise FileTooLarge(_too_large(max_bytes))
    if not data:
        raise EmptyText(f"the file {filename!r} is empty; there is nothing to translate")
    return FileRequest(source, target, filename, data, fmt)


def download_name(random_hex: str, filename: str, extension: str) -> str:
    """The name a translated file is stored and downloaded under: random, then ``filename`` made safe."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base[: len(base) - len(extension)] if base.lower().endswith(extension) else base
    stem = _UNSAFE.sub("_", stem).strip("_-")[:80].rstrip("_-") or "document"
    return f"{random_hex}.{stem}{extension}"


def check_download_name(name: str) -> str:
    """``name`` if it is one ``download_name`` gives; raises InvalidField otherwise (no path can escape)."""
    if not DOWNLOAD_NAME.fullmatch(name):
        raise InvalidField(
            f"invalid file name {name[:100]!r}: use the translatedFileUrl that /translate_file gave"
        )
    return name


def original_name(name: str) -> str:
    """The name a client saves a download as: the stored name without its random part."""
    return name.split(".", 1)[1]


def _too_large(max_bytes: int) -> str:
    return f"the file is larger than the limit of {max_bytes} bytes (serving.file_max_bytes)"
