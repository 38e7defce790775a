"""The OpenAPI document: where it lives, and the route table its operationIds give."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ._errors import SpecError
from ._yaml import load_yaml, parse_yaml

if TYPE_CHECKING:
    from werkzeug.routing import Map

CONTROL_TAG = "mockauth-control"
# On an operation or a tag: only the mock serves it, so no contract run holds a deployment to it.
MOCK_ONLY = "x-mockauth-mock-only"
_PACKAGE = Path(__file__).resolve().parent
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def bundled(name: str) -> Path:
    """A file shipped in the wheel (``openapi.yaml``, ``fixtures``); in a source checkout
    the same file at the repository top."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.exists():
            return candidate
    raise SpecError(f"{name}: not found in the mockauth package; reinstall mockauth")


def default_spec_path() -> Path:
    return bundled("openapi.yaml")


def default_fixtures_path() -> Path:
    return bundled("fixtures")


class Operation(NamedTuple):
    operation_id: str
    method: str
    path: str
    tags: tuple[str, ...]
    mock_only: bool = False

    @property
    def control(self) -> bool:
        return CONTROL_TAG in self.tags


class Spec(NamedTuple):
    path: Path
    text: str
    document: Mapping[str, Any]
    operations: tuple[Operation, ...]

    def url_map(self) -> Map:
        """A Werkzeug URL map with one rule per operation; the endpoint is the operationId.

        A string parameter that ends the path takes the rest of it, '/' included (a
        username may hold one: ``/_mockauth/users/team%2Fann`` names ``team/ann``),
        unless another route goes on after it; every other parameter is one path segment."""
        from werkzeug.routing import BaseConverter, Map, Rule  # not at import: see App.__init__

        class Rest(BaseConverter):
            regex = ".+"
            part_isolating = False

        rules = []
        for op in self.operations:
            last = re.search(r"\{(\w+)\}$", op.path)
            path = re.sub(r"\{(\w+)\}", r"<\1>", op.path)
            # Not where another route goes on after it (/clients/{id} beside
            # /clients/{id}/token): there the parameter is one segment, or the two collide.
            continued = any(other.path.startswith(op.path + "/") for other in self.operations)
            if last and not continued and self.parameter_type(op, last.group(1)) == "string":
                path = path[: path.rindex("<")] + f"<rest:{last.group(1)}>"
            rules.append(Rule(path, endpoint=op.operation_id, methods=[op.method]))
        return Map(rules, strict_slashes=False, merge_slashes=False, converters={"rest": Rest})

    def parameter_type(self, operation: Operation, name: str) -> str | None:
        """The schema type of a path parameter of `operation`, as the spec declares it."""
        item = self.document["paths"].get(operation.path) or {}
        declared = [*item.get("parameters", ()), *item.get(operation.method.lower(), {}).get("parameters", ())]
        for parameter in declared:
            if isinstance(parameter, Mapping) and parameter.get("name") == name and parameter.get("in") == "path":
                schema = parameter.get("schema")
                return schema.get("type") if isinstance(schema, Mapping) else None
        return None


@lru_cache(maxsize=8)
def load_spec(path: str | Path | None = None) -> Spec:
    """Read and index an OpenAPI document (the bundled one by default); cached per path."""
    file = Path(path) if path is not None else default_spec_path()
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{file}: cannot read the OpenAPI document: not UTF-8 text") from None
    except OSError as error:
        raise SpecError(f"{file}: cannot read the OpenAPI document: {error.strerror}") from None
    document = load_yaml(text, functools.partial(parse_yaml, file=file, error=SpecError))
    if not isinstance(document, Mapping) or not isinstance(document.get("paths"), Mapping):
        raise SpecError(f"{file}: not an OpenAPI document (no 'paths' mapping)")
    mock_only_tags = {
        tag.get("name")
        for tag in document.get("tags") or ()
        if isinstance(tag, Mapping) and tag.get(MOCK_ONLY) is True
    }
    operations = []
    for route, item in document["paths"].items():
        for method in _METHODS:
            if not isinstance(item, Mapping) or method not in item:
                continue
            definition = item[method]
            operation_id = definition.get("operationId")
            if not operation_id:
                raise SpecError(f"{file}: paths.{route}.{method}: operationId is required")
            tags = tuple(definition.get("tags", ()))
            mock_only = definition.get(MOCK_ONLY) is True or not mock_only_tags.isdisjoint(tags)
            operations.append(Operation(operation_id, method.upper(), route, tags, mock_only))
    return Spec(file, text, document, tuple(operations))
