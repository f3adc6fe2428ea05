"""The server's access log without approval tokens: ``/approve/<token>`` is logged as ``/approve/[redacted]``.

Why: an approval link is a credential for one approver's page until it expires, and access logs are kept,
shipped and read far more widely than the database. The path still shows that an approval page was
opened and how it answered; the token does not.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

_TOKEN_IN_PATH = re.compile(r"(/approve/)[^/?#\s\"]+")
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    """``text`` with every ``/approve/<token>`` path segment replaced by ``/approve/[redacted]``."""
    return _TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactApprovalTokens(logging.Filter):
    """Rewrites the path in uvicorn's access records (and any message naming one) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_tokens(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging config with ``RedactApprovalTokens`` on its access logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["approval_tokens"] = {"()": f"{__name__}.RedactApprovalTokens"}
    config["loggers"]["uvicorn.access"]["filters"] = ["approval_tokens"]
    return config
