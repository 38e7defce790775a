"""The real mockauth app as a WSGI module, to run it on servers mockauth does not offer
(granian) and compare it with the trivial app there:

    granian --interface wsgi mockauth_app:app
"""

from __future__ import annotations

from mockauth import MockAuth

app = MockAuth.from_fixtures().app
