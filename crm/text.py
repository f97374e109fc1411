"""Text from outside, made safe once before any rule sees it.

Everything people or other systems send us (web forms and query strings, JSON bodies, Telegram
updates, tracker spreadsheets, the terminal) goes through `clean_text` at the boundary where it
arrives, so the services never meet a NUL byte (PostgreSQL refuses one in any text column), a
terminal escape, a lone surrogate (which cannot be encoded as UTF-8 at all), or the same word
spelt with two different sequences of code points.

Low in the layers on purpose (it imports nothing of ours): the web, the bot, the importer and
the CLI all use it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Line breaks in every spelling (Windows CRLF, old Mac CR, vertical tab, form feed, NEL and the
# Unicode line and paragraph separators) become one newline.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# Terminal escape sequences (ANSI CSI such as "\x1b[1m", OSC such as a window title ending in BEL or
# ST, and two-character escapes) go whole: dropping only the ESC would leave "[1m" glued to a word.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, bold, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, links
    # Other two-character escapes (ESC + "@" to "_"): uppercase only, so an ESC typed before a
    # lowercase letter ("O'Br\x1bien") costs no letter of the name.
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the one-byte CSI
)
# What is left to drop: C0 controls but tab and newline, DEL, C1 controls, lone surrogates.
_UNWANTED = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SINGLE_LINE = str.maketrans({"\n": " ", "\t": " "})


def clean_text(value: str, *, multiline: bool = True) -> str:
    """`value` without control characters or lone surrogates, line breaks as "\\n", in NFC.

    Newlines and tabs are kept where several lines make sense (`multiline`, the default, since a
    form field or a chat message may be a paragraph); otherwise each becomes a space, so two
    words never run together. Nothing else changes: spaces, case and length are the rules' job.
    """
    text = _UNWANTED.sub("", _LINE_BREAKS.sub("\n", _ESCAPES.sub("", value)))
    if not multiline:
        text = text.translate(_SINGLE_LINE)
    return unicodedata.normalize("NFC", text)


def clean_value(value: Any, *, multiline: bool = True) -> Any:
    """`clean_text` for a string; anything else (a number, an uploaded file) as it is."""
    return clean_text(value, multiline=multiline) if isinstance(value, str) else value


def clean_json(value: Any) -> Any:
    """A parsed JSON document with every string in it (keys too) cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_value(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value
