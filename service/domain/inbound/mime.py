"""Reading untrusted messages: a safe parse, bounded walks, every charset decoded, HTML as text.
Nothing here trusts the message: limits on parts and depth, lenient decoding of unknown charsets."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage, Message
from html import unescape
from typing import Iterator

from ..errors import DomainError

# policy.default gives decoded headers and get_content(); raise_on_defect=False keeps a
# broken message readable instead of failing on the first defect.
SAFE_POLICY = policy.default.clone(raise_on_defect=False)
MAX_PARTS = 1000
MAX_DEPTH = 40
MAX_TEXT = 200_000  # characters of one part's text that the classifier reads
MAX_HEADER = 16_384  # characters of one header's value that are parsed or read

# An address is a run of local-part characters, an @ and a domain. The run is found by
# one possessive match on the reversed text, left of each @, so no character is read
# twice however long a run without an @ is; the domain's labels end at a dot or a
# non-domain character, so each is tried in a bounded number of ways.
_LOCAL_RUN = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]++")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_BLANK_LINES = re.compile(r"\r?\n(?:[^\S\n]*+\n)++")  # a newline and the lines after it that hold only spaces
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class UnreadableMessage(DomainError):
    """The message cannot be read at all (e.g. its MIME tree is nested beyond reason)."""

    code = "unreadable_message"


class _HeaderMemo:
    """SAFE_POLICY's header factory, building each header of one message once.

    policy.default parses a header again on every read (the parser itself reads each
    part's Content-Type four or five times) and makes a new class for every header it
    builds. One memo serves one message and its parts, so nothing is shared between
    messages; a header is a pure function of its name and value, so what is read is what
    SAFE_POLICY gives.
    """

    __slots__ = ("registry", "kinds", "built")

    def __init__(self, registry) -> None:
        self.registry = registry
        self.kinds: dict[str, type] = {}
        self.built: dict[tuple[str, str], object] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        kind = self.kinds.get(key)
        if kind is None:
            kind = self.kinds[key] = self.registry[name]
        return kind

    def __call__(self, name: str, value: str):
        value = value[:MAX_HEADER]
        key = (name, value)
        header = self.built.get(key)
        if header is None:
            header = self.built[key] = self[name](name, value)
        return header


def parse(raw: bytes) -> EmailMessage:
    """The message as SAFE_POLICY reads it, each header parsed once."""
    reading = SAFE_POLICY.clone(header_factory=_HeaderMemo(SAFE_POLICY.header_factory))
    try:
        return email.message_from_bytes(raw, policy=reading)
    except RecursionError:
        raise UnreadableMessage("the MIME structure is nested too deeply to read") from None


def header_block(raw: bytes, limit: int = 256 * 1024) -> bytes:
    """The header section of a raw message, without parsing the body (bounded)."""
    head = raw[:limit]
    end = _HEADER_END.search(head)
    return head[: end.start()] if end else head


# Where a message posted without its envelope (POST /v1/inbound) was delivered, in this order:
# the first of these fields that the header block holds names its recipients.
DELIVERY_FIELDS = ("delivered-to", "x-original-to", "envelope-to", "to")
# One of them at the start of a line, and its value with the lines that fold it: `.` stops at
# a newline and a fold starts with one, so each byte is read a bounded number of times.
_DELIVERY_FIELD = re.compile(rb"^(delivered-to|x-original-to|envelope-to|to):(.*(?:\n[ \t].*)*)",
                             re.IGNORECASE | re.MULTILINE)
MAX_POSTED_RECIPIENTS = 100


def delivered_to(raw: bytes) -> list[str]:
    """The recipients of a message that arrived without its envelope: the addresses of the
    first of DELIVERY_FIELDS present (of Delivered-To, the topmost: each delivery adds one on
    top, so it names the mailbox the message was fetched from). Read from the raw header
    block as the email package's header parser reads it (a lone CR ends a line, an empty
    line ends the block, a field is folded by lines that start with a space or a tab), with
    one linear pass instead of a parse of every field: this runs for each POST. Bounded,
    never raises."""
    lines = header_block(raw).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if lines.startswith(b"\n"):
        return []
    first: dict[str, bytes] = {}
    for match in _DELIVERY_FIELD.finditer(lines.split(b"\n\n", 1)[0]):
        first.setdefault(match.group(1).lower().decode("ascii"), match.group(2))
    for name in DELIVERY_FIELDS:
        if name in first:
            value = first[name].decode("ascii", "surrogateescape")[:MAX_HEADER]
            return addresses_in(value)[:MAX_POSTED_RECIPIENTS]
    return []


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID as written, read from the raw header block: cheap enough for the receiver."""
    match = _MESSAGE_ID.search(header_block(raw))
    if match is None:
        return None
    value = re.sub(rb"\s+", b"", match.group(1)).decode("utf-8", "replace")
    return value[:998] or None


def header(msg: Message, name: str) -> str:
    """A header as text, or "" when absent or unreadable; never raises."""
    try:
        value = msg.get(name)
    except Exception:  # a defective header must not stop the reading of the rest
        value = None
        try:
            raw = msg._headers  # type: ignore[attr-defined]
            value = next((v for k, v in raw if k.lower() == name.lower()), None)
        except Exception:
            return ""
    if value is None:
        return ""
    try:
        return str(value)[:MAX_HEADER]
    except Exception:
        return ""


def header_values(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
    except Exception:
        return []
    out = []
    for value in values:
        try:
            out.append(str(value)[:MAX_HEADER])
        except Exception:
            continue
    return out


def raw_header(msg: Message, name: str) -> str | None:
    """A header's value as it was written (folded, encoded words left alone), without parsing it,
    and at most MAX_HEADER characters of it.

    The structured parse of policy.default is the costliest part of reading a message, and
    it is repeated on every access; the classifier reads addresses and media types from
    the raw value instead.
    """
    wanted = name.lower()
    try:
        for key, value in msg._headers:  # type: ignore[attr-defined]
            if key.lower() == wanted:
                return (value if isinstance(value, str) else str(value))[:MAX_HEADER]
    except Exception:
        return None
    return None


def content_type(part: Message) -> str:
    """The media type, read once per part (RFC 2045: text/plain when absent or malformed)."""
    cached = part.__dict__.get("_optout_type")
    if cached is not None:
        return cached
    value = raw_header(part, "content-type")
    if value is None:
        try:
            kind = part.get_default_type()
        except Exception:
            kind = "text/plain"
    else:
        kind = value.split(";", 1)[0].strip().lower()
        if kind.count("/") != 1 or " " in kind:
            kind = "text/plain"
    part.__dict__["_optout_type"] = kind
    return kind


def content_param(part: Message, name: str) -> str:
    """One parameter of Content-Type (e.g. report-type), read from the raw value."""
    value = raw_header(part, "content-type") or ""
    match = re.search(r";\s*" + re.escape(name) + r'\s*=\s*"?([^";\s]+)', value, re.I)
    return match.group(1).lower() if match else ""


def walk(msg: Message, into_messages: bool = True) -> Iterator[Message]:
    """Every part, depth first, without recursion and within MAX_PARTS and MAX_DEPTH.

    With into_messages=False an attached message (message/rfc822) is yielded but not
    entered: what a person wrote is never read from a message they forward or quote.
    """
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        yield part
        if depth >= MAX_DEPTH:
            continue
        if not part.is_multipart():
            continue
        if not into_messages and content_type(part) == "message/rfc822" and part is not msg:
            continue
        try:
            children = part.get_payload()
        except Exception:
            continue
        if isinstance(children, list):
            stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))


def is_attachment(part: Message) -> bool:
    value = raw_header(part, "content-disposition") or ""
    return value.split(";", 1)[0].strip().lower() == "attachment"


def part_text(part: Message) -> str:
    """The decoded text of a leaf part, whatever its charset claims; "" when it has none."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        try:
            raw = part.get_payload()
        except Exception:
            return ""
        return raw[:MAX_TEXT] if isinstance(raw, str) else ""
    payload = payload[: MAX_TEXT * 4]
    charset = content_param(part, "charset") or "utf-8"
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return payload.decode(candidate)[:MAX_TEXT]
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")[:MAX_TEXT]


_BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr", "blockquote"})
_HIDDEN = frozenset({"style", "script", "head"})  # their content is not text
_RAW = frozenset({"style", "script"})  # their content is not markup either: read up to the end tag
_TAG_NAME = re.compile(r"(/?)([A-Za-z][A-Za-z0-9]{0,31})")  # matched at one position only
# The rest of a tag up to its '>', quoted attribute values read whole (a '>' in them does not
# end the tag). Each step is decided by one character, so a failed match costs one pass.
_TAG_REST = re.compile(r"""(?:[^>"']|"[^"]*"|'[^']*')*>""")
_RAW_END = {tag: re.compile("</" + tag, re.IGNORECASE) for tag in ("style", "script")}
_SPACES = re.compile(r"[ \t\u00a0]+")


def html_text(html: str) -> str:
    """The readable text of an HTML body; a blockquote comes out as '>' quoted lines.

    One pass with str.find from left to right, so that every character is read a bounded
    number of times: html.parser reads ahead to the end of the text from every '<' that a
    tag does not close, which took minutes on 120 KB of '<a <!--'. A tag left open, or a
    comment, hides the rest of the text, as a browser hides it.
    """
    html = html[:MAX_TEXT]
    chunks: list[str] = []
    hidden = quoted = 0
    i, n = 0, len(html)

    def text(data: str) -> None:
        if hidden or not data:
            return
        data = unescape(data)
        if quoted:
            data = "\n".join("> " + line for line in data.splitlines())
        chunks.append(data)

    while i < n:
        lt = html.find("<", i)
        if lt < 0:
            text(html[i:])
            break
        text(html[i:lt])
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        if html.startswith("<![CDATA[", lt):
            end = html.find("]]>", lt + 9)
            i = n if end < 0 else end + 3
            continue
        name = _TAG_NAME.match(html, lt + 1)
        if name is None and not html.startswith(("<!", "<?"), lt):
            text("<")  # a '<' that opens no tag is text
            i = lt + 1
            continue
        rest = _TAG_REST.match(html, name.end() if name else lt + 1)
        if rest is None:
            break
        i = rest.end()
        if name is None:
            continue  # a declaration or processing instruction
        closing, tag = name.group(1) == "/", name.group(2).lower()
        if tag in _HIDDEN and not (not closing and html.startswith("/>", i - 2)):  # <script src=x /> holds nothing
            hidden = max(0, hidden - 1) if closing else hidden + 1
            if not closing and tag in _RAW:
                end = _RAW_END[tag].search(html, i)
                i = n if end is None else end.start()
        elif tag == "blockquote":
            quoted = max(0, quoted - 1) if closing else quoted + 1
        if tag == "hr" and not closing:
            chunks.append("\n-----\n")
        elif tag in _BLOCKS:
            chunks.append("\n")
    return _SPACES.sub(" ", "".join(chunks))[:MAX_TEXT]


def body_text(msg: Message) -> str:
    """What the sender wrote: the first text/plain part, else the first HTML part as text.

    Parts of attached messages and attachments are not the sender's words and are skipped.
    """
    html = None
    for part in walk(msg, into_messages=False):
        if part.is_multipart() or is_attachment(part):
            continue
        kind = content_type(part)
        if kind == "text/plain":
            return part_text(part)
        if kind == "text/html" and html is None:
            html = part_text(part)
    return html_text(html) if html is not None else ""


def all_text(msg: Message, limit: int = MAX_TEXT) -> str:
    """All text of all parts, attached messages included (HTML as text), up to `limit`."""
    chunks, size = [], 0
    for part in walk(msg):
        if part.is_multipart():
            continue
        kind = content_type(part)
        if not (kind.startswith("text/") or kind.startswith("message/")):
            continue
        text = part_text(part)
        if kind == "text/html":
            text = html_text(text)
        chunks.append(text)
        size += len(text)
        if size >= limit:
            break
    return "\n".join(chunks)[:limit]


def address_spans(text: str) -> Iterator[tuple[int, str]]:
    """Where each email address is written in a text, and the address (outer dots removed).

    What a leftmost-first scan for local@domain finds, in time linear in the text: the
    local part is the run of local-part characters left of an @ that starts after the
    previous address, the domain is what _DOMAIN matches right of it.
    """
    at = text.find("@")
    if at < 0:
        return
    backwards = text[::-1]
    size = len(text)
    after = 0  # where the previous address ended
    while at >= 0:
        local = _LOCAL_RUN.match(backwards, size - at)
        start = max(at - (local.end() - local.start()), after) if local is not None else at
        domain = _DOMAIN.match(text, at + 1) if start < at else None
        if domain is None:
            at = text.find("@", at + 1)
            continue
        written = text[start:domain.end()]
        address = written.strip(".")
        yield start + len(written) - len(written.lstrip(".")), address
        after = domain.end()
        at = text.find("@", after)


def addresses_in(text: str) -> list[str]:
    """Email addresses written in a text, lower-cased, in order of appearance, once each."""
    seen: dict[str, None] = {}
    for _start, address in address_spans(text):
        seen.setdefault(address.lower(), None)
    return list(seen)


def first_address(value: str) -> str | None:
    found = addresses_in(value)
    return found[0] if found else None


def report_field_groups(part: Message) -> list[list[tuple[str, str]]]:
    """The field groups of a machine-readable report part (RFC 3464 delivery-status,
    RFC 5965 feedback-report): (lower-case name, value) pairs, repeated names kept.

    Parsed by the email package when it gave a list of header blocks; else read from the
    part's text, groups split by blank lines, continuation lines joined.
    """
    payload = part.get_payload()
    groups: list[list[tuple[str, str]]] = []
    if isinstance(payload, list):
        for block in payload:
            try:
                groups.append([(k.lower(), str(v)) for k, v in block.items()])
            except Exception:  # a defective block must not hide the others
                continue
        return groups
    for chunk in _BLANK_LINES.split(part_text(part)):
        fields: list[tuple[str, str]] = []
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and fields:
                name, value = fields[-1]
                fields[-1] = (name, value + " " + line.strip())
            elif ":" in line:
                name, _, value = line.partition(":")
                fields.append((name.strip().lower(), value.strip()))
        if fields:
            groups.append(fields)
    return groups
