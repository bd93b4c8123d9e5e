"""The main window: pages, navigation, lazy module pages, failures shown in place, remembered layout."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel

from app.ui.home_page import HomePage
from app.ui.main_window import MainWindow
from app.ui.widgets import ErrorPanel


def click_page(qtbot: Any, window: MainWindow, title: str) -> None:
    sidebar = window.sidebar
    item = sidebar.findItems(title, Qt.MatchFlag.MatchExactly)[0]
    qtbot.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualItemRect(item).center())


def test_window_opens_on_home_with_module_pages_between_home_and_activity(window: MainWindow) -> None:
    assert window.windowTitle() == "Postroom"
    assert window.isVisible()
    assert window.current_page_key() == "home"
    assert isinstance(window.page_widget("home"), HomePage)
    assert window.stack.currentWidget().isVisible()
    titles = [window.sidebar.item(row).text() for row in range(window.sidebar.count())]
    # The disabled Delivery module contributes nothing; Activity is always last.
    assert titles == ["Home", "Contacts", "Reports", "Activity"]


def test_clicking_the_sidebar_builds_the_module_page_only_when_first_shown(qtbot: Any, window: MainWindow,
                                                                           recorder: Any) -> None:
    assert recorder.built_pages == []
    assert window.page_widget("contacts") is None

    click_page(qtbot, window, "Contacts")

    assert window.current_page_key() == "contacts"
    page = window.page_widget("contacts")
    assert page is not None
    assert page.objectName() == "ContactsPage"
    assert page.isVisible()
    click_page(qtbot, window, "Home")
    click_page(qtbot, window, "Contacts")
    assert recorder.built_pages == ["contacts"]


def test_ctrl_number_switches_pages(qtbot: Any, window: MainWindow) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)

    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_key() == "contacts"
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_key() == "activity"
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_key() == "home"


def test_a_page_whose_factory_raises_shows_the_reason_instead_of_crashing(qtbot: Any, window: MainWindow) -> None:
    click_page(qtbot, window, "Reports")

    panels = window.stack.currentWidget().findChildren(ErrorPanel)
    assert len(panels) == 1
    assert panels[0].isVisible()
    assert "the reports database view is missing" in panels[0].message
    texts = " ".join(label.text() for label in panels[0].findChildren(QLabel))
    assert "The Reports page could not be opened" in texts
    # The rest of the window still works.
    click_page(qtbot, window, "Contacts")
    assert window.page_widget("contacts") is not None


def test_disabled_module_is_explained_on_home_and_in_the_status_bar(qtbot: Any, window: MainWindow) -> None:
    home = window.page_widget("home")
    assert isinstance(home, HomePage)
    reason = home.findChild(QLabel, "module-reason-delivery")
    assert reason is not None
    assert reason.isVisible()
    assert "SMTP support is not installed" in reason.text()

    button = window.disabled_button
    assert button.isVisible()
    assert button.text() == "1 module disabled"
    window.show_page("activity")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.current_page_key() == "home"


def test_home_cards_open_loaded_modules_and_explain_missing_ones(qtbot: Any, window: MainWindow) -> None:
    home = window.page_widget("home")
    assert isinstance(home, HomePage)
    contacts = home.cards["contacts"]
    assert contacts.button.isEnabled()
    assert contacts.button.isVisible()
    qtbot.mouseClick(contacts.button, Qt.MouseButton.LeftButton)
    assert window.current_page_key() == "contacts"

    editor = home.cards["editor"]
    assert not editor.button.isEnabled()
    assert editor.hint.text() == "Arrives with the Editor module."


def test_geometry_and_last_page_are_restored_in_a_new_window(qtbot: Any, window: MainWindow, ui: Any) -> None:
    window.resize(700, 480)
    window.show_page("activity")
    window.close()
    assert ui.settings.get("ui.last_page", "") == "activity"
    assert ui.settings.get("ui.geometry", "")

    second = MainWindow(ui)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert second.size() == QSize(700, 480)
    assert second.current_page_key() == "activity"
    second.close()


def test_first_start_uses_the_default_size(window: MainWindow) -> None:
    available = window.screen().availableGeometry().size()
    expected = QSize(1180, 760).boundedTo(available - QSize(40, 60))
    assert window.size() == expected
