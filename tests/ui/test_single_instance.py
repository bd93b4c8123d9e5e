"""One Postroom per data folder: a second launch wakes the first instead of opening the database again."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDir
from PySide6.QtWidgets import QApplication

from app.ui.single_instance import SingleInstance, instance_key


@pytest.fixture
def key(qapp: QApplication) -> Iterator[str]:
    name = f"postroom-test-{uuid.uuid4().hex[:12]}"
    yield name
    Path(QDir.tempPath(), name).unlink(missing_ok=True)


def test_second_instance_notifies_the_first_and_reports_it_is_secondary(qtbot: Any, key: str) -> None:
    first = SingleInstance(key)
    second = SingleInstance(key)
    try:
        assert first.start() is True
        assert first.is_primary
        with qtbot.waitSignal(first.activation_requested, timeout=3000):
            assert second.start() is False
        assert second.is_secondary
    finally:
        second.close()
        first.close()


def test_a_stale_socket_left_by_a_crash_is_cleared(key: str) -> None:
    path = Path(QDir.tempPath(), key)
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))  # bound but never listening: what a killed process leaves behind
    leftover.close()
    assert path.exists()

    guard = SingleInstance(key)
    try:
        assert guard.start() is True
        assert guard.server is not None
        assert guard.server.isListening()
    finally:
        guard.close()


def test_the_key_depends_on_the_data_folder(tmp_path: Path) -> None:
    assert instance_key(tmp_path / "a") == instance_key(tmp_path / "a" / ".." / "a")
    assert instance_key(tmp_path / "a") != instance_key(tmp_path / "b")
