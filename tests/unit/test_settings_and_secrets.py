"""Settings survive restarts and damage; secrets go only to a keyring that keeps them safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keyrings.alt.file import PlaintextKeyring

from app.kernel.bus import MessageBus
from app.kernel.events import SettingChanged
from app.kernel.secrets import SecretStore, SecretStoreUnavailable
from app.kernel.settings import Settings
from tests.conftest import MemoryKeyring


def test_settings_persist_and_announce_changes(tmp_path: Path) -> None:
    bus = MessageBus()
    changed: list[str] = []
    bus.subscribe(SettingChanged, lambda e: changed.append(e.key))
    settings = Settings(tmp_path / "settings.json", publish=bus.publish)
    settings.set("ui.theme", "dark")
    settings.set("ui.theme", "dark")  # unchanged: no event
    settings.set("delivery.rate", 12)
    assert changed == ["ui.theme", "delivery.rate"]
    again = Settings(tmp_path / "settings.json")
    assert again.get("ui.theme", "system") == "dark"
    assert again.get("delivery.rate", 0) == 12
    assert again.get("missing", "fallback") == "fallback"


def test_a_value_of_the_wrong_type_falls_back_to_the_default(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"delivery.rate": "fast"}))
    assert Settings(tmp_path / "settings.json").get("delivery.rate", 10) == 10


def test_a_damaged_settings_file_is_kept_aside_and_the_app_starts(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ this is not json")
    settings = Settings(path)
    assert settings.get("ui.theme", "system") == "system"
    assert (tmp_path / "settings.damaged.json").read_text() == "{ this is not json"
    settings.set("ui.theme", "light")
    assert json.loads(path.read_text()) == {"ui.theme": "light"}


def test_unstorable_values_are_refused_before_anything_changes(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "settings.json")
    settings.set("a", 1)
    with pytest.raises(TypeError):
        settings.set("b", object())
    assert Settings(tmp_path / "settings.json").as_dict() == {"a": 1}


def test_secrets_round_trip_through_the_keyring() -> None:
    backend = MemoryKeyring()
    store = SecretStore(backend)
    assert store.problem() is None
    store.set("smtp:acme", "hunter2")
    assert store.get("smtp:acme") == "hunter2"
    assert backend.store == {("postroom", "smtp:acme"): "hunter2"}
    store.delete("smtp:acme")
    store.delete("smtp:acme")  # deleting twice is fine
    assert store.get("smtp:acme") is None


def test_a_plain_text_keyring_is_refused(tmp_path: Path) -> None:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")  # never the user's real file
    store = SecretStore(backend)
    assert store.problem() is not None
    assert "plain-text" in (store.problem() or "")
    with pytest.raises(SecretStoreUnavailable, match="system keyring"):
        store.set("smtp:acme", "hunter2")
    assert not (tmp_path / "keyring.cfg").exists()


def test_no_keyring_at_all_gives_a_clear_message() -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    store = SecretStore(FailKeyring())
    with pytest.raises(SecretStoreUnavailable) as info:
        store.get("smtp:acme")
    message = str(info.value)
    assert "GNOME Keyring" in message
    assert "no keyring service" in message


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        SecretStore(MemoryKeyring()).set("smtp:acme", "")
