"""Documents translated whole (``POST /translate_file``): one module per family of formats.

``format_for(filename)`` picks the format by extension (UnsupportedFileType otherwise); its
``translate(data, translate)`` reads the document, sends its texts through ``translate`` and
writes the document back with its structure kept (CorruptDocument when it cannot be read).
"""

from __future__ import annotations

from ..errors import CorruptDocument, UnsupportedFileType
from .base import DocumentFormat
from .registry import extension_of, format_for, supported_extensions

__all__ = [
    "CorruptDocument",
    "DocumentFormat",
    "UnsupportedFileType",
    "extension_of",
    "format_for",
    "supported_extensions",
]
