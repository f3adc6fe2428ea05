"""What an email carries beyond its body: files from the renderer and from the outbox context.

Why here: an outbox row is written once per target, but only email targets carry files (chat targets get the
short Markdown). Files come from two places: the renderer (``RenderedMessage.attachments``: the gate packet
and the review-meeting .ics) and the row's context (``attachments: [{"name", "content_type",
"content_base64"}]``, for anything a service wants to send as is). Apprise attaches files by path, so the
dispatcher writes them into a temporary directory per send, removed when the send ends.

A malformed attachment is an ``InputError``: it will not get better on retry, so the row is dead-lettered
with the reason instead of being sent without the packet the approver needs.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from phasegate.gates.vocabulary.errors import InputError

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
INVITATION_NAME = "gate-review.ics"

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?")
mimetypes.init()
_KNOWN_TYPES = frozenset(mimetypes.types_map.values())


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str
    content: bytes


def attachments_from_context(context: dict[str, Any]) -> list[Attachment]:
    """Decode ``context["attachments"]``; InputError naming the item and field that is wrong."""
    items = context.get("attachments") or []
    if not isinstance(items, list):
        raise InputError("attachments: must be a list of {name, content_type, content_base64}")
    found: list[Attachment] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InputError(f"attachments[{number}]: must be an object with name, content_type, content_base64")
        name, content_type, data = item.get("name"), item.get("content_type"), item.get("content_base64")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"attachments[{number}].name: must be a non-empty file name")
        if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
            raise InputError(f"attachments[{number}].content_type: must be a MIME type such as text/html")
        if not isinstance(data, str):
            raise InputError(f"attachments[{number}].content_base64: must be base64 text")
        try:
            content = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"attachments[{number}].content_base64: is not valid base64") from None
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise InputError(f"attachments[{number}]: {len(content)} bytes; at most {MAX_ATTACHMENT_BYTES} allowed")
        found.append(Attachment(name=name.strip(), content_type=content_type, content=content))
    return found


def rendered_attachments(rendered: object) -> list[Attachment]:
    """The files the renderer made (the gate packet, the .ics invitation), in this module's shape."""
    found: list[Attachment] = []
    for item in getattr(rendered, "attachments", ()) or ():
        name, media_type, content = (getattr(item, key, None) for key in ("filename", "media_type", "content"))
        if isinstance(name, str) and isinstance(media_type, str) and isinstance(content, bytes):
            found.append(Attachment(name=name, content_type=media_type, content=content))
    return found


def write_attachments(attachments: list[Attachment], directory: Path) -> list[str]:
    """Write each attachment into ``directory`` and return Apprise attachment URLs that keep name and type."""
    urls: list[str] = []
    for number, attachment in enumerate(attachments, start=1):
        safe = _SAFE_NAME.sub("_", Path(attachment.name).name).strip("._") or "attachment"
        path = directory / f"{number:02d}-{safe}"
        path.write_bytes(attachment.content)
        options = {"name": attachment.name}
        mime = attachment.content_type.split(";", 1)[0].strip().lower()
        if mime in _KNOWN_TYPES:  # Apprise refuses a type it does not know; it then guesses from the name
            options["mime"] = mime
        urls.append(f"file://{quote(str(path.resolve()))}?{urlencode(options, quote_via=quote)}")
    return urls
