"""OAuth 2.0 and OpenID Connect, one module per protocol piece, as Authlib lays them out.

``authorize`` (the login page, with ``login`` and ``page``), ``token`` (with one module
per grant under ``grants/``, ``pkce``, ``client_auth``, ``issue``), ``oidc`` (ID tokens,
claims, userinfo), ``introspection``, ``revocation``, ``end_session`` and ``discovery``.
Each owns its rows of the route table (and how its errors look, ``SHAPES``), merged here.
"""

from __future__ import annotations

from ..wsgi import Handler, Shape, Subject
from . import authorize, discovery, end_session, introspection, oidc, revocation, token

ROUTES: dict[str, Handler] = {
    **authorize.ROUTES, **token.ROUTES, **oidc.ROUTES, **introspection.ROUTES,
    **revocation.ROUTES, **end_session.ROUTES, **discovery.ROUTES,
}
SUBJECTS: dict[str, Subject] = {**authorize.SUBJECTS, **token.SUBJECTS, **oidc.SUBJECTS}
SHAPES: dict[str, Shape] = {**authorize.SHAPES, **token.SHAPES, **oidc.SHAPES, **end_session.SHAPES}
