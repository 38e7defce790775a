"""The cache of parsed YAML documents: a hit skips PyYAML, and nothing about it can serve a
stale document, fail a start or grow without bound."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockauth import FixtureError, load_fixtures
from mockauth._yaml import CACHE_DIR_VARIABLE, MAX_ENTRIES, cache_dir, load_yaml

USERS = """
users:
  - username: {name}
    password: secretpassword
"""


class Parser:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> Any:
        self.calls += 1
        return yaml.safe_load(text)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(folder))
    return folder


def test_a_document_is_parsed_once_and_read_back_equal(cache: Path) -> None:
    parse = Parser()
    text = "a: [1, 2.5, true, null, text]\nb: {c: d}\n"
    assert load_yaml(text, parse) == load_yaml(text, parse) == yaml.safe_load(text)
    assert parse.calls == 1
    assert len(list(cache.glob("*.json"))) == 1
    assert cache.stat().st_mode & 0o777 == 0o700  # fixture files hold passwords
    assert {entry.stat().st_mode & 0o777 for entry in cache.iterdir()} == {0o600}


def test_a_changed_fixture_file_is_read_fresh(cache: Path, tmp_path: Path) -> None:
    file = tmp_path / "users.yaml"
    file.write_text(USERS.format(name="first@example.com"))
    assert [u.username for u in load_fixtures(file).users] == ["first@example.com"]
    file.write_text(USERS.format(name="second@example.com"))
    assert [u.username for u in load_fixtures(file).users] == ["second@example.com"]


def test_a_cached_start_imports_no_yaml(cache: Path, tmp_path: Path) -> None:
    file = tmp_path / "users.yaml"
    file.write_text(USERS.format(name="user@example.com"))
    code = (
        "import sys; from mockauth import load_fixtures; "
        f"load_fixtures({str(file)!r}); print('yaml' in sys.modules)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
        for _ in range(2)
    ]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]


@pytest.mark.parametrize("where", ["a-file/below", "off"])
def test_an_unusable_or_disabled_cache_only_costs_the_parse(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / where) if where != "off" else "off")
    parse = Parser()
    assert load_yaml("a: 1\n", parse) == load_yaml("a: 1\n", parse) == {"a": 1}
    assert parse.calls == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_damaged_entry_is_parsed_again_and_replaced(cache: Path) -> None:
    parse = Parser()
    load_yaml("a: 1\n", parse)
    (entry,) = cache.glob("*.json")
    entry.write_text('{"a": ')
    assert load_yaml("a: 1\n", parse) == {"a": 1}
    assert parse.calls == 2
    assert entry.read_text() == '{"a": 1}'


def test_documents_json_would_change_are_never_cached(cache: Path) -> None:
    parse = Parser()
    for text in ("when: 2024-01-02\n", "1: one\n", "n: .nan\n", "s: !!set {a}\n", 'u: "\\ud800"\n'):
        first, second = load_yaml(text, parse), load_yaml(text, parse)
        assert first == second or text.startswith("n:")
    assert load_yaml("when: 2024-01-02\n", parse) == {"when": datetime.date(2024, 1, 2)}
    assert load_yaml("1: one\n", parse) == {1: "one"}
    assert parse.calls == 12
    assert not cache.exists() or not list(cache.iterdir())


def test_bad_yaml_fails_every_time(cache: Path, tmp_path: Path) -> None:
    file = tmp_path / "users.yaml"
    file.write_text("users: [\n")
    for _ in range(2):
        with pytest.raises(FixtureError, match="invalid YAML"):
            load_fixtures(file)


def test_the_cache_keeps_at_most_max_entries(cache: Path) -> None:
    parse = Parser()
    for number in range(MAX_ENTRIES + 5):
        load_yaml(f"n: {number}\n", parse)
    assert len(list(cache.glob("*.json"))) == MAX_ENTRIES
    assert not list(cache.glob("*.tmp"))


def test_the_default_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "mockauth"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "mockauth"


def test_a_full_cache_drops_the_least_recently_used(cache: Path) -> None:
    parse = Parser()
    load_yaml("first: 1\n", parse)
    for number in range(MAX_ENTRIES - 1):
        load_yaml(f"n: {number}\n", parse)
    load_yaml("first: 1\n", parse)  # read back: now the most recently used
    load_yaml("one: more\n", parse)
    load_yaml("first: 1\n", parse)
    assert parse.calls == MAX_ENTRIES + 1  # "first" was parsed once: never dropped
    load_yaml("n: 0\n", parse)
    assert parse.calls == MAX_ENTRIES + 2  # the oldest entry was


def test_a_full_cache_drops_only_its_own_files(cache: Path) -> None:
    # MOCKAUTH_CACHE_DIR may name a folder that holds other JSON files of the user's.
    cache.mkdir(parents=True)
    (cache / "notes.json").write_text("{}")
    parse = Parser()
    for number in range(MAX_ENTRIES + 3):
        load_yaml(f"n: {number}\n", parse)
    assert (cache / "notes.json").read_text() == "{}"
    assert len(list(cache.glob("*.json"))) == MAX_ENTRIES + 1
