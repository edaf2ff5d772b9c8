"""Credentials of a tracking URI kept out of every message: the URI redacted, the
secrets (its password or token, MLflow's credential variables) scrubbed from text,
and no exception chained that could print them.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

#: A URI's scheme (any, in any case, or none) and its authority (RFC 3986).
_AUTHORITY = re.compile(r"^(?P<scheme>[^:/?#]*:)?//(?P<authority>[^/?#]*)")


def _user_info(uri: str) -> tuple[int, int, str, str | None] | None:
    """Where the user-info of ``uri`` is (start, end), its user and its password (None
    without a colon); None when the URI has no user-info. Whatever the scheme, and
    however it is spelt: MLflow (and requests) read ``HTTP://user@host`` as http."""
    found = _AUTHORITY.match(uri)
    if found is None or "@" not in found["authority"]:
        return None
    user_info = found["authority"].rpartition("@")[0]
    if not user_info:
        return None
    start = found.start("authority")
    user, colon, password = user_info.partition(":")
    return start, start + len(user_info), user, password if colon else None


def redact(uri: str | None) -> str | None:
    """``uri`` without the secret of its user-info part, whatever its scheme: a
    password becomes *** (``https://user:***@host``), a user name without a password
    (a token) is replaced whole (``https://***@host``). The rest stays as written."""
    if not uri:
        return uri
    found = _user_info(uri)
    if found is None:
        return uri
    start, end, user, password = found
    shown = f"{user}:***" if password else "***"
    return f"{uri[:start]}{shown}{uri[end:]}"


def _uri_secrets(uri: str) -> list[str]:
    """The secret of the URI's user-info (its password, else its user name: a token),
    as written and percent-decoded."""
    found = _user_info(uri)
    if found is None:
        return []
    _, _, user, password = found
    secret = password or user
    return [secret, unquote(secret)] if secret else []


def _secrets(uri: str) -> list[str]:
    """The URI's password and MLflow's credential variables, where set."""
    found = _uri_secrets(uri)
    found += [os.environ.get(n) for n in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")]
    # the longest first: a secret that holds another is replaced whole
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


def scrub(message: str, uri: str) -> str:
    """``message`` with every secret of ``_secrets`` replaced by ***."""
    for secret in _secrets(uri):
        message = message.replace(secret, "***")
    return message


def cause(uri: str, exc: Exception) -> Exception | None:
    """The exception to chain: none when the original could show credentials in a
    printed traceback."""
    return None if _secrets(uri) else exc


def has_user_info(uri: str) -> bool:
    """Does ``uri`` carry a user name (and maybe a password) before its host?"""
    return _user_info(uri) is not None
