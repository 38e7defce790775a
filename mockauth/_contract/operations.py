"""Which operations a run holds the deployment to, where each lives on it, and the spec
rewritten to match: ``operations``, ``paths`` and ``content_type`` checked against the spec.

Operations are named by their operationId, so a spec of one's own finds its paths the same
way. Mock-only operations (``x-mockauth-mock-only``: the spec document, the control API)
are never part of a run. By default a run holds the deployment to the operations tagged
``auth``; the others (health, discovery documents) only when selected.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import SpecError
from .._spec import Spec, load_spec
from .results import BODIES, CONTENT_TYPES, ContractError

DEFAULT_TAG = "auth"
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint:
    """An operation of the spec and where it lives on the deployment."""

    operation: str
    method: str
    path: str  # on the deployment, below the base URL
    spec_path: str
    bearer: bool  # the spec says it needs a bearer token
    redirects: bool = False  # the spec lists a 3xx answer (a login page's), so one proves nothing missing

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Operations:
    """What a run holds the deployment to: ``offered`` (spec order), and the spec's other
    operations, ``not_offered``, each reported once instead of failing."""

    spec: Spec
    offered: Mapping[str, Endpoint]
    not_offered: tuple[Endpoint, ...]
    content_type: str = "both"
    default: frozenset[str] = frozenset()  # what a run holds the deployment to unless told

    def __contains__(self, operation: object) -> bool:
        return operation in self.offered

    def left_out(self, needs: Iterable[str]) -> list[str]:
        """Those of `needs` that the run neither offers nor holds by default: a check that
        needs one is no part of the run (one that needs a default operation not offered
        is skipped instead, saying so)."""
        return [name for name in needs if name not in self.offered and name not in self.default]

    def path(self, operation: str) -> str:
        return self.offered[operation].path

    def document(self, leave_out: Iterable[str] = ()) -> dict[str, Any]:
        """The spec as this deployment should answer it: only the offered operations (less
        `leave_out`), each at its own path, request bodies only in the content types it
        takes, and links only to operations that remain."""
        kept = {name: e for name, e in self.offered.items() if name not in set(leave_out)}
        source = self.spec.document
        document = copy.deepcopy(dict(source))
        paths: dict[str, dict[str, Any]] = {}
        for endpoint in kept.values():
            item = source["paths"][endpoint.spec_path]
            shared = {k: copy.deepcopy(v) for k, v in item.items() if k not in _METHODS}  # path-level parameters
            target = paths.setdefault(endpoint.path, shared)
            definition = copy.deepcopy(item[endpoint.method.lower()])
            _keep_bodies(definition, self.content_type)
            target[endpoint.method.lower()] = definition
        document["paths"] = paths
        _prune_links(document, set(kept))
        return document


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _keep_bodies(definition: dict[str, Any], content_type: str) -> None:
    content = (definition.get("requestBody") or {}).get("content")
    if content_type == "both" or not isinstance(content, dict):
        return
    unwanted = CONTENT_TYPES["form" if content_type == "json" else "json"]
    if unwanted in content and len(content) > 1:
        del content[unwanted]


def _prune_links(node: Any, kept: set[str]) -> None:
    if isinstance(node, dict):
        links = node.get("links")
        if isinstance(links, dict):
            for name in [n for n, link in links.items() if isinstance(link, dict) and not _link_kept(link, kept)]:
                del links[name]
        for value in node.values():
            _prune_links(value, kept)
    elif isinstance(node, list):
        for value in node:
            _prune_links(value, kept)


def _link_kept(link: Mapping[str, Any], kept: set[str]) -> bool:
    if "operationId" in link:
        return link["operationId"] in kept
    return False  # an operationRef names a path of the spec, which may have moved or gone


def resolve(
    spec_path: Path | None,
    operations: Iterable[str] | None = None,
    paths: Mapping[str, str] | None = None,
    content_type: str = "both",
) -> Operations:
    """Check the selection against the spec; raise ContractError naming the keyword at fault."""
    try:
        spec = load_spec(spec_path)
    except SpecError as error:
        raise ContractError(str(error), "spec") from None
    if content_type not in BODIES:
        raise ContractError(f"{content_type!r}: must be one of {', '.join(BODIES)}", "content_type")
    candidates = {op.operation_id: op for op in spec.operations if not op.mock_only}
    mock_only = {op.operation_id for op in spec.operations if op.mock_only}
    default = [name for name, op in candidates.items() if DEFAULT_TAG in op.tags] or list(candidates)
    if operations is None:
        chosen = default
    else:
        chosen = list(dict.fromkeys(operations))
        if not chosen:
            raise ContractError("name at least one operation", "operations")
        for name in chosen:
            if name in mock_only:
                raise ContractError(f"{name!r} is mock-only (x-mockauth-mock-only): never part of a run", "operations")
            if name not in candidates:
                known = ", ".join(candidates)
                raise ContractError(f"{name!r}: no such operationId (the spec's: {known})", "operations")
    paths = dict(paths or {})
    for name, path in paths.items():
        if name not in candidates:
            raise ContractError(f"{name}={path}: no such operationId (the spec's: {', '.join(candidates)})", "paths")
        if name not in chosen:
            raise ContractError(f"{name}={path}: {name} is not among the operations offered", "paths")
        _check_path(name, path, candidates[name].path)
    document = spec.document
    default_security = document.get("security")
    schemes = document.get("components", {}).get("securitySchemes", {})
    bearer_schemes = {n for n, s in schemes.items() if isinstance(s, dict) and str(s.get("scheme")).lower() == "bearer"}
    endpoints = {}
    for name, op in candidates.items():
        definition = document["paths"][op.path][op.method.lower()]
        # Every way the spec allows to call it takes a bearer token (none is optional, {}).
        security = definition.get("security", default_security) or []
        bearer = bool(security) and all(set(choice) & bearer_schemes for choice in security)
        redirects = any(str(code).startswith("3") for code in definition.get("responses", {}))
        endpoints[name] = Endpoint(name, op.method, paths.get(name, op.path), op.path, bearer, redirects)
    seen: dict[tuple[str, str], str] = {}
    for name in chosen:
        key = (endpoints[name].method, endpoints[name].path)
        if key in seen:
            raise ContractError(f"{name} and {seen[key]} would both be {key[0]} {key[1]}", "paths")
        seen[key] = name
    offered = {name: endpoints[name] for name in candidates if name in chosen}
    not_offered = tuple(endpoints[name] for name in candidates if name not in chosen)
    return Operations(spec, offered, not_offered, content_type, frozenset(default))


def _check_path(name: str, path: str, spec_path: str) -> None:
    if not path.startswith("/") or any(c in path for c in "?# \t\r\n"):
        raise ContractError(f"{name}={path}: a path starts with / and has no query, fragment or spaces", "paths")
    if set(_PARAMETER.findall(path)) != set(_PARAMETER.findall(spec_path)):
        raise ContractError(f"{name}={path}: must keep the parameters of {spec_path}", "paths")
