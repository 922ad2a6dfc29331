"""The formats ``/translate_file`` reads, by file extension."""

from __future__ import annotations

from pathlib import PurePosixPath

from ..errors import UnsupportedFileType
from .base import DocumentFormat
from .ebook import Ebook
from .markdown import Markdown
from .opendocument import OpenDocumentText
from .plain import PlainText
from .slides import Presentation
from .subtitles import SubRip
from .web import WebPage
from .word import WordDocument

_FORMATS: tuple[DocumentFormat, ...] = (
    PlainText(),
    SubRip(),
    Markdown(),
    WebPage(),
    WordDocument(),
    Presentation(),
    OpenDocumentText(),
    Ebook(),
)
_BY_EXTENSION = {extension: fmt for fmt in _FORMATS for extension in fmt.extensions}


def supported_extensions() -> list[str]:
    """Every extension ``format_for`` knows, with its dot (LibreTranslate's ``supportedFilesFormat``)."""
    return list(_BY_EXTENSION)


def extension_of(filename: str) -> str:
    """``filename``'s extension, lower case, with its dot ("" when it has none)."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def format_for(filename: str) -> DocumentFormat:
    """The format that reads ``filename``, by its extension; raises UnsupportedFileType."""
    extension = extension_of(filename)
    fmt = _BY_EXTENSION.get(extension)
    if fmt is None:
        shown = f"'{extension}' files" if extension else "files without an extension"
        raise UnsupportedFileType(
            f"{shown} cannot be translated; supported file types: {', '.join(supported_extensions())}"
        )
    return fmt
