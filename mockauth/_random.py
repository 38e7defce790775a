"""Random tokens (access-token ids, refresh tokens, token families, codes, sessions,
challenges) from the operating system's randomness, drawn a block at a time.

``os.urandom`` releases the GIL around its system call, and in a threaded server every
release is a wait to take the GIL back from the other request threads. A login drew
three times (the access token's ``jti``, the refresh token and its family), which cost
`mockauth serve` about 6 % of its logins/s against an app that draws once
(bench/RESULTS.md). One draw now serves about a hundred logins. Every byte is handed out
once, and a forked process (a gunicorn worker) starts with a block of its own, so no two
processes hand out the same bytes.
"""

from __future__ import annotations

import base64
import os
import threading

BLOCK = 4096

_lock = threading.Lock()
_block = b""
_used = 0


def token_bytes(nbytes: int) -> bytes:
    """`nbytes` random bytes, as ``secrets.token_bytes`` gives them."""
    global _block, _used
    with _lock:
        if _used + nbytes <= len(_block):
            chunk = _block[_used : _used + nbytes]
            _used += nbytes
            return chunk
    # Drawn outside the lock: a thread waiting for the lock while its holder waits for the
    # GIL to come back from os.urandom could wait for the whole switch interval (5 ms).
    # Two threads drawing at once each start a block; the rest of the first is dropped.
    fresh = os.urandom(max(BLOCK, nbytes))
    with _lock:
        _block, _used = fresh, nbytes
    return fresh[:nbytes]


def token_urlsafe(nbytes: int) -> str:
    """`nbytes` random bytes in unpadded base64url, as ``secrets.token_urlsafe`` gives them."""
    return base64.urlsafe_b64encode(token_bytes(nbytes)).rstrip(b"=").decode("ascii")


def _start_afresh() -> None:
    # In a forked child: the parent goes on handing out the rest of its block, so the
    # child must not (and a lock held by another thread at the fork would never be freed).
    global _lock, _block, _used
    _lock, _block, _used = threading.Lock(), b"", 0


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_start_afresh)
