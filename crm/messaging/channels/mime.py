"""Our plain emails (headers, a text part, perhaps an HTML alternative) as the bytes that go over
SMTP, written directly instead of through an EmailMessage: byte for byte what smtplib's
`send_message` writes for the same EmailMessage (email.policy.default, BytesGenerator, CRLF),
for a fraction of the time (building and flattening an EmailMessage parses every header into
the header registry and folds it again: most of the CPU a dispatched email cost).

How it stays exact:
- a header that is short, printable ASCII and of a kind the registry writes back unchanged (an
  unstructured text with no encoded words, a bare address, a plain Message-ID) is written as
  `Name: value`; any other header is folded by the email package itself (the same
  `header_factory` and `fold_binary` the generator uses), cached when it is one of the few
  values that repeat (the Content-* headers, the From address);
- a part's body is encoded by the email package's own choice of transfer encoding (7bit, 8bit,
  quoted-printable or base64: `email.contentmanager`'s heuristic), "From " at the start of a
  line becomes ">From " (smtplib's generator has no policy, so it mangles them), and its lines
  end with CRLF;
- the structure (which headers move to the first part, MIME-Version on the HTML part, the
  boundary and its delimiters) follows `EmailMessage.set_content` / `add_alternative` and
  `Generator._handle_multipart`.

tests/crm/messaging/test_mime.py compares the bytes with the email package's for every
template in the catalogue and for awkward texts (non-ASCII, long lines, long headers).
"""

from __future__ import annotations

import random
import re
import sys
from email import policy as email_policy
from email.contentmanager import _encode_text  # the email package's own choice of encoding
from email.message import EmailMessage
from email.utils import getaddresses
from functools import lru_cache

POLICY = email_policy.default
WIRE = POLICY.clone(linesep="\r\n")  # what smtplib.send_message flattens with
CRLF = b"\r\n"
_LINE_ENDS = re.compile(r"\r\n|\r|\n")
# smtplib's BytesGenerator is made with no policy, so it mangles "From " at a line's start.
_FROM = re.compile(r"^From ", re.MULTILINE)
_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*\Z")  # printable ASCII words, single spaces
_ADDRESS = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z"
)
_MESSAGE_ID = re.compile(
    r"<[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*>\Z"
)
_ADDRESS_HEADERS = frozenset({"to", "from", "cc", "bcc", "sender", "reply-to"})
# The generator's boundary: 15 '=', a random number of sys.maxsize's width, '=='.
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))
_ZERO_BOUNDARY = "=" * 15 + "0" * _BOUNDARY_DIGITS + "=="


def _simple(name: str, value: str) -> bool:
    if len(name) + 2 + len(value) > WIRE.max_line_length:
        return False
    lower = name.lower()
    if lower in _ADDRESS_HEADERS:
        return _ADDRESS.match(value) is not None
    if lower == "message-id":
        return _MESSAGE_ID.match(value) is not None
    if lower.startswith("content-") or lower == "mime-version":
        return False
    return _TEXT.match(value) is not None and "=?" not in value


def _fold(name: str, value: str) -> bytes:
    return WIRE.fold_binary(name, WIRE.header_factory(name, value))


_fold_cached = lru_cache(maxsize=256)(_fold)


def _as_read(name: str, value: str) -> str:
    """A header's value as `EmailMessage[name]` gives it (what smtplib takes addresses from)."""
    return value if _ADDRESS.match(value) else str(WIRE.header_factory(name, value))


def header(name: str, value: str) -> bytes:
    """One header line (folded when it must be), as the generator writes it."""
    if _simple(name, value):
        return f"{name}: {value}\r\n".encode("ascii")
    lower = name.lower()
    if lower.startswith("content-") or lower in ("mime-version", "from"):
        return _fold_cached(name, value)
    return _fold(name, value)


def _multipart_header(subtype: str, boundary: str) -> bytes:
    if len(boundary) != len(_ZERO_BOUNDARY):
        return _fold("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')
    # Folding depends on the length only: fold once with zeros, then put the digits in.
    template = _fold_cached("Content-Type", f'multipart/{subtype}; boundary="{_ZERO_BOUNDARY}"')
    return template.replace(_ZERO_BOUNDARY.encode(), boundary.encode())


def text_part(subtype: str, text: str, *, mime_version: bool) -> bytes:
    """A text part (its headers, a blank line, its body) as `set_content` makes it."""
    cte, payload = _encode_text(text, "utf-8", None, POLICY)
    head = header("Content-Type", f'text/{subtype}; charset="utf-8"')
    head += header("Content-Transfer-Encoding", cte)
    if mime_version:
        head += header("MIME-Version", "1.0")
    body = _LINE_ENDS.sub("\r\n", _FROM.sub(">From ", payload))
    return head + CRLF + body.encode("ascii", "surrogateescape")


def make_boundary(*texts: bytes) -> str:
    """A boundary as the generator makes one, appearing in none of `texts`."""
    while True:
        token = random.randrange(sys.maxsize)  # noqa: S311 - a boundary, not a secret
        boundary = f"{'=' * 15}{token:0{_BOUNDARY_DIGITS}d}=="
        if not any(boundary.encode() in text for text in texts):
            return boundary


class WireEmail:
    """An email of headers, a plain-text body and perhaps an HTML alternative, kept as its
    parts: `wire()` gives the envelope and the bytes to send without building an EmailMessage.

    Anything else asked of it (a test reading the text, GOV.UK Notify's sender, a change to a
    header) goes to the equivalent EmailMessage, built the first time it is needed; once built
    (and perhaps changed) it is that message that is sent."""

    def __init__(self, headers: list[tuple[str, str]], text: str, html: str | None) -> None:
        self.headers = headers
        self.text = text
        self.html = html
        self._message: EmailMessage | None = None

    def __contains__(self, name: str) -> bool:
        if self._message is not None:
            return name in self._message
        return any(key.lower() == name.lower() for key, _ in self.headers)

    def value(self, name: str) -> str | None:
        """A header's value as given (without building the EmailMessage)."""
        if self._message is not None:
            found = self._message[name]
            return None if found is None else str(found)
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def plain_text(self) -> str:
        """The plain-text body as EmailMessage.get_body(...).get_content() reads it back (one
        newline per line, ending in one), without building the EmailMessage."""
        if self._message is not None:
            body = self._message.get_body(preferencelist=("plain",))
            return body.get_content() if body is not None else ""
        return "\n".join(self.text.splitlines()) + "\n"

    @property
    def message(self) -> EmailMessage:
        if self._message is None:
            email = EmailMessage()
            for name, value in self.headers:
                email[name] = value
            email.set_content(self.text)
            if self.html is not None:
                email.add_alternative(self.html, subtype="html")
            self._message = email
        return self._message

    def __getitem__(self, name: str):  # noqa: ANN204 - whatever EmailMessage gives
        return self.message[name]

    def __setitem__(self, name: str, value: str) -> None:
        self.message[name] = value

    def __delitem__(self, name: str) -> None:
        del self.message[name]

    def __getattr__(self, name: str):  # noqa: ANN204 - EmailMessage's methods
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.message, name)

    def wire(self, boundary: str | None = None) -> tuple[str, list[str], bytes] | None:
        """(envelope sender, recipients, the message's bytes), as smtplib.send_message would
        send them; None when the EmailMessage has been built (send that) or an address needs
        SMTPUTF8 (let smtplib deal with it). `boundary` is for tests (else a random one)."""
        if self._message is not None:
            return None
        found = {k.lower(): v for k, v in reversed(self.headers)}
        if "bcc" in found or "resent-date" in found or "from" not in found:
            return None
        sender = getaddresses([_as_read("Sender", found.get("sender") or found["from"])])[0][1]
        fields = [_as_read(k, found[k]) for k in ("to", "bcc", "cc") if k in found]
        recipients = [address for _, address in getaddresses(fields)]
        if not "".join([sender, *recipients]).isascii():
            return None
        head = b"".join(header(name, value) for name, value in self.headers)
        text = text_part("plain", self.text, mime_version=self.html is None)
        if self.html is None:
            return sender, recipients, head + text
        html = text_part("html", self.html, mime_version=True)
        boundary = boundary or make_boundary(text, html)
        delimiter = b"--" + boundary.encode()
        data = b"".join(
            (
                head,
                header("MIME-Version", "1.0"),
                _multipart_header("alternative", boundary),
                CRLF,
                delimiter + CRLF,
                text,
                CRLF + delimiter + CRLF,
                html,
                CRLF + delimiter + b"--" + CRLF,
            )
        )
        return sender, recipients, data
