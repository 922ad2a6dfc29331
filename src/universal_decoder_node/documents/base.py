"""What every document format shares: the interface, and sending a document's texts to translation."""

from __future__ import annotations

import codecs
import io
import zipfile
from abc import ABC, abstractmethod

from ..errors import CorruptDocument
from ..text import TranslateTexts

# What the parts of one zip-based document (.docx, .pptx, .odt, .epub) may unpack to, in all: a
# small file that unpacks to gigabytes (a zip bomb) is refused before any library reads it.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024


class DocumentFormat(ABC):
    """One family of files: reads a document, has its texts translated, writes it back in the same format."""

    extensions: tuple[str, ...]  # lower case, with the dot: (".docx",)
    media_type: str  # of the translated file, for its download

    @abstractmethod
    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        """The document ``data`` with its text translated and its structure kept.

        Raises CorruptDocument when ``data`` cannot be read as this format; errors of
        ``translate`` (deadline, engine) pass through.
        """


async def translate_units(texts: list[str], translate: TranslateTexts) -> list[str]:
    """Translate the pieces of text of one document in one call, each piece's edge whitespace kept.

    Blank pieces come back as they are; a piece that occurs several times is translated once.
    """
    cores: dict[str, None] = {}
    for text in texts:
        core = text.strip()
        if core:
            cores.setdefault(core, None)
    unique = list(cores)
    translated = dict(zip(unique, await translate(unique) if unique else [], strict=True))
    out = []
    for text in texts:
        core = text.strip()
        if not core:
            out.append(text)
            continue
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        out.append(lead + translated[core] + trail)
    return out


def decode_text(data: bytes, kind: str) -> str:
    """A text file's content: UTF-8 (a byte order mark allowed) or UTF-16 with its byte order mark.

    Raises CorruptDocument for anything else, or for a NUL character (a binary file).
    """
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    encoding = "utf-16" if utf16 else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CorruptDocument(
            f"the {kind} file is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise CorruptDocument(f"the {kind} file contains NUL characters: it is not a text file")
    return text


def check_archive(data: bytes, kind: str, limit: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse (CorruptDocument) a zip-based document that is not a zip or unpacks to more than ``limit``.

    The sizes checked are those the archive declares; Python's zipfile never unpacks more than that.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CorruptDocument(f"the {kind} file is not a valid zip archive ({exc})") from None
    if unpacked > limit:
        raise CorruptDocument(
            f"the {kind} file unpacks to {unpacked} bytes, more than the {limit} a document may; "
            "refused as it could be a zip bomb"
        )
