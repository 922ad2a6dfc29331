"""SubRip subtitles (``.srt``, read and written by the ``srt`` library): cue numbers and timings kept."""

from __future__ import annotations

import srt

from ..errors import CorruptDocument
from ..text import TranslateTexts
from .base import DocumentFormat, decode_text, translate_units


class SubRip(DocumentFormat):
    extensions = (".srt",)
    media_type = "application/x-subrip; charset=utf-8"

    async def translate(self, data: bytes, translate: TranslateTexts) -> bytes:
        text = decode_text(data, "SubRip")
        try:
            cues = list(srt.parse(text))
        except (srt.SRTParseError, ValueError) as exc:
            raise CorruptDocument(f"the .srt file is not valid SubRip: {exc}") from None
        translated = await translate_units([cue.content for cue in cues], translate)
        for cue, content in zip(cues, translated, strict=True):
            cue.content = content
        # reindex=False: the cue numbers stay those of the file, whatever they are.
        return srt.compose(cues, reindex=False).encode("utf-8")
