"""The doors to the app: each takes a WSGI app and nothing else.

``live`` (a threaded Werkzeug server), ``inprocess`` (``responses``, httpx, and the
WSGI call they share), ``production`` (gunicorn for ``--workers``), and ``exposure``
(the guards a server reachable from other machines needs).
"""
