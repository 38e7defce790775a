from __future__ import annotations

import mockauth


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in vars(mockauth) if name[0] not in "_@" and name != "annotations"}
    assert mockauth.__all__ == sorted(mockauth.__all__)
    assert public - {"pytest_plugin"} == set(mockauth.__all__)


def test_every_error_is_a_mockauth_error() -> None:
    for name in mockauth.__all__:
        value = getattr(mockauth, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, mockauth.MockAuthError), name
