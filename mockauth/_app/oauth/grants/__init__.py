"""The grants of the token endpoint (RFC 6749 4.1.3, 6, 4.3, 4.4), one module each.

A grant is a function ``(app, call, client) -> token response body``; the client has
authenticated and may use the grant by then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...wsgi import App, Call

Grant = Callable[[App, Call, Any], "dict[str, Any]"]
