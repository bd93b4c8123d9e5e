"""Preferences: the General page stores and applies the theme; module pages get apply() on OK and Apply."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel

from app.ui import theme
from app.ui.preferences import GeneralPage, PreferencesDialog


def open_dialog(qtbot: Any, ui: Any) -> PreferencesDialog:
    dialog = PreferencesDialog(ui)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_theme_is_stored_and_applied_and_module_pages_are_applied(qtbot: Any, qapp: QApplication, ui: Any,
                                                                  recorder: Any) -> None:
    dialog = open_dialog(qtbot, ui)
    assert [dialog.page_list.item(r).text() for r in range(dialog.page_list.count())] == ["General", "Contacts"]
    general = dialog.pages["general"]
    assert isinstance(general, GeneralPage)
    general.theme_box.setCurrentIndex(general.theme_box.findData("dark"))

    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Apply), Qt.MouseButton.LeftButton)

    assert ui.settings.get("ui.theme", "") == "dark"
    assert qapp.palette().color(QPalette.ColorRole.Window).name() == theme.DARK.window
    assert recorder.applied == ["contacts"]
    assert dialog.isVisible()

    general.theme_box.setCurrentIndex(general.theme_box.findData("light"))
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert ui.settings.get("ui.theme", "") == "light"
    assert qapp.palette().color(QPalette.ColorRole.Window).name() == theme.LIGHT.window
    assert recorder.applied == ["contacts", "contacts"]


def test_cancel_changes_nothing(qtbot: Any, ui: Any, recorder: Any) -> None:
    dialog = open_dialog(qtbot, ui)
    general = dialog.pages["general"]
    assert isinstance(general, GeneralPage)
    general.theme_box.setCurrentIndex(general.theme_box.findData("dark"))
    general.database_edit.setText("postgresql://team-db/postroom")

    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)

    assert ui.settings.get_optional("ui.theme") is None
    assert ui.settings.get_optional("database.url") is None
    assert recorder.applied == []


def test_database_url_is_saved_for_the_next_start(qtbot: Any, ui: Any) -> None:
    dialog = open_dialog(qtbot, ui)
    general = dialog.pages["general"]
    assert isinstance(general, GeneralPage)
    notes = " ".join(label.text() for label in general.findChildren(QLabel))
    assert "next time Postroom starts" in notes
    assert str(ui.paths.data_dir) in notes

    general.database_edit.setText("postgresql://team-db/postroom")
    assert dialog.apply()
    assert ui.settings.get("database.url", "") == "postgresql://team-db/postroom"
    general.database_edit.clear()
    assert dialog.apply()
    assert ui.settings.get_optional("database.url") is None
    dialog.close()
