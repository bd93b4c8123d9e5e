"""The Contacts page, driven as a person would: offscreen, on a real kernel and a real SQLite file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox, QPushButton, QWidget
from sqlalchemy import func, insert, select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.addresses import email_hash
from app.modules.contacts.messages import ContactsChanged
from app.modules.contacts.models import Contact, ContactTag, MailingList, Subscription, Suppression, Tag
from app.modules.contacts.module import MODULE
from app.modules.contacts.ui.contacts_page import ContactsPage
from app.ui import theme
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.qt_compat import drag_position

FIRSTS = ("Ada", "Grace", "Alan", "Linus", "Margaret")
TIMEOUT = 10_000


@pytest.fixture
def contacts_kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


@pytest.fixture
def ctx(qapp: QApplication, contacts_kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(contacts_kernel.bus)
    yield UiContext.for_kernel(contacts_kernel, bridge)
    bridge.close()
    bridge.deleteLater()


def seed(kernel: Kernel, count: int = 300) -> dict[str, int]:
    """``count`` contacts: names cycle through FIRSTS; News holds the even ones (every tenth unsubscribed),
    Customers every fifth (from the second), "vip" tags every seventh, and person 13 is suppressed."""
    base = dt.datetime(2024, 1, 1)
    with kernel.db.transaction() as session:
        news = MailingList(name="News")
        customers = MailingList(name="Customers")
        vip = Tag(name="vip")
        session.add_all([news, customers, vip])
        session.flush()
        rows = []
        for i in range(count):
            first = FIRSTS[i % len(FIRSTS)]
            email = f"{first.lower()}{i:03d}@example.com"
            rows.append({"id": i + 1, "email": email, "email_key": email, "email_hash": email_hash(email),
                         "first_name": first, "last_name": "Tester", "fields": {},
                         "created_at": base + dt.timedelta(minutes=i), "updated_at": base})
        session.execute(insert(Contact), rows)
        subscriptions = [{"contact_id": i + 1, "list_id": news.id, "status": "unsubscribed" if i % 10 == 0
                          else "subscribed"} for i in range(count) if i % 2 == 0]
        subscriptions += [{"contact_id": i + 1, "list_id": customers.id, "status": "subscribed"}
                          for i in range(count) if i % 5 == 1]
        session.execute(insert(Subscription), subscriptions)
        session.execute(insert(ContactTag), [{"contact_id": i + 1, "tag_id": vip.id}
                                             for i in range(count) if i % 7 == 0])
        if count > 13:
            session.add(Suppression(email_hash=rows[13]["email_hash"], email=rows[13]["email"], reason="hard_bounce"))
        return {"News": news.id, "Customers": customers.id, "vip": vip.id}


def open_page(qtbot: Any, ctx: UiContext) -> ContactsPage:
    page = ContactsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: not page.model.loading and page.panel.options is not None, timeout=TIMEOUT)
    return page


@pytest.fixture
def make_page(qtbot: Any, ctx: UiContext) -> Iterator[Callable[[], ContactsPage]]:
    pages: list[ContactsPage] = []

    def make() -> ContactsPage:
        pages.append(open_page(qtbot, ctx))
        return pages[-1]

    yield make
    for page in pages:  # before the kernel closes: background reads must not outlive the database
        page.close()
        page.shutdown()


def contacts_in_db(kernel: Kernel) -> int:
    with kernel.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


def wait_count(qtbot: Any, page: ContactsPage, text: str) -> None:
    qtbot.waitUntil(lambda: page.count_label.text() == text and not page.model.loading, timeout=TIMEOUT)


def visible_emails(page: ContactsPage, rows: int) -> list[str]:
    return [page.model.index(row, 0).data() for row in range(rows)]


def click_row(page: ContactsPage, row: int, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    rect = page.table.visualRect(page.model.index(row, 1))
    QTest.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def answer_next_dialog(qtbot: Any, answer: Callable[[QWidget], None]) -> list[str]:
    """Answer the next modal dialog when it appears; returns what it said (filled in when answered)."""
    said: list[str] = []

    def attempt() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, attempt)
            return
        if isinstance(dialog, QMessageBox):
            said.append(f"{dialog.text()}\n{dialog.informativeText()}")
        elif isinstance(dialog, QInputDialog):
            said.append(dialog.labelText())
        answer(dialog)

    QTimer.singleShot(0, attempt)
    return said


# -- what a person sees ----------------------------------------------------------------------------


def test_an_empty_database_shows_a_friendly_empty_state(make_page: Callable[[], ContactsPage]) -> None:
    page = make_page()
    assert page.stack.currentWidget() is page.empty_state
    assert page.empty_state.isVisible()
    assert not page.table.isVisible()
    assert page.empty_state.title.text() == "No contacts yet — import a spreadsheet or drop a CSV here"
    assert page.count_label.text() == "0 contacts"


def test_the_count_shows_and_search_narrows_it(qtbot: Any, contacts_kernel: Kernel,
                                                make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel)
    page = make_page()
    assert page.count_label.text() == "300 contacts"
    assert page.stack.currentWidget() is page.table
    # Newest first: the last added contact is on top.
    assert visible_emails(page, 2) == ["margaret299@example.com", "linus298@example.com"]

    qtbot.keyClicks(page.search, "ada")
    wait_count(qtbot, page, "60 contacts match")
    assert all(email.startswith("ada") for email in visible_emails(page, 60))

    qtbot.keyClicks(page.search, "00")  # "ada00": ada000 and ada005
    wait_count(qtbot, page, "2 contacts match")
    page.search.clear()
    wait_count(qtbot, page, "300 contacts")


def test_a_search_with_no_result_says_so(qtbot: Any, contacts_kernel: Kernel,
                                         make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 20)
    page = make_page()
    qtbot.keyClicks(page.search, "zzz")
    wait_count(qtbot, page, "0 contacts match")
    assert page.stack.currentWidget() is page.no_match
    QTest.mouseClick(page.no_match.button, Qt.MouseButton.LeftButton)
    wait_count(qtbot, page, "20 contacts")
    assert page.search.text() == ""


def test_clicking_a_list_in_the_filter_panel_shows_its_members(qtbot: Any, contacts_kernel: Kernel,
                                                              make_page: Callable[[], ContactsPage]) -> None:
    ids = seed(contacts_kernel)
    page = make_page()
    item = page.panel.item_for("list", ids["News"])
    assert item is not None
    assert item.text(1) == "150"
    tree = page.panel.tree
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     tree.visualItemRect(item).center())
    wait_count(qtbot, page, "150 contacts match")

    page.status.setCurrentIndex(page.status.findData("unsubscribed"))
    wait_count(qtbot, page, "30 contacts match")
    statuses = {page.model.index(row, 4).data() for row in range(30)}
    assert statuses == {"Unsubscribed"}

    suppressed = page.panel.item_for("suppressed")
    assert suppressed is not None
    page.status.setCurrentIndex(0)
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     tree.visualItemRect(suppressed).center())
    wait_count(qtbot, page, "1 contact matches")
    assert visible_emails(page, 1) == ["linus013@example.com"]


def test_unsubscribed_rows_are_grey_and_suppressed_rows_red(contacts_kernel: Kernel,
                                                            make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 20)
    page = make_page()
    colours = theme.colors()
    by_email = {page.model.index(row, 0).data(): row for row in range(20)}
    unsubscribed = page.model.index(by_email["ada010@example.com"], 4)
    suppressed = page.model.index(by_email["linus013@example.com"], 4)
    subscribed = page.model.index(by_email["margaret004@example.com"], 4)
    assert unsubscribed.data() == "Unsubscribed"
    assert unsubscribed.data(Qt.ItemDataRole.ForegroundRole).name() == colours.muted
    assert suppressed.data() == "Suppressed"
    assert suppressed.data(Qt.ItemDataRole.ForegroundRole).name() == colours.danger
    assert subscribed.data() == "Subscribed"
    assert subscribed.data(Qt.ItemDataRole.ForegroundRole) is None


def test_selecting_a_row_fills_the_detail_panel(qtbot: Any, contacts_kernel: Kernel,
                                               make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 30)
    page = make_page()
    click_row(page, 16)  # newest first: row 16 is contact 13, the suppressed one
    qtbot.waitUntil(lambda: page.detail.detail is not None, timeout=TIMEOUT)
    detail = page.detail.detail
    assert detail is not None
    assert detail.email == "linus013@example.com"
    shown = page.detail.findChild(QWidget, "ContactDetailEmail")
    assert shown is not None
    assert shown.text() == "linus013@example.com"
    warning = page.detail.findChild(QWidget, "ContactDetailSuppression")
    assert warning is not None
    assert "hard bounce" in warning.text()
    assert [m.list_name for m in detail.memberships] == []
    click_row(page, 0)  # margaret029: News? no (odd); Customers? no
    qtbot.waitUntil(lambda: page.detail.detail is not None and page.detail.detail.email == "margaret029@example.com",
                    timeout=TIMEOUT)
    click_row(page, 10)  # contact 19 -> i=19; then row 20 is i=9
    click_row(page, 20)
    qtbot.waitUntil(lambda: page.detail.detail is not None and page.detail.detail.email == "margaret009@example.com",
                    timeout=TIMEOUT)
    assert page.detail.findChild(QWidget, "ContactDetailSuppression") is None


def test_sorting_by_email_happens_in_sql(qtbot: Any, contacts_kernel: Kernel,
                                         make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 50)
    page = make_page()
    header = page.table.horizontalHeader()
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(header.sectionViewportPosition(0) + 20, header.height() // 2))
    qtbot.waitUntil(lambda: page.model.sort_spec.key == "email" and not page.model.loading, timeout=TIMEOUT)
    emails = visible_emails(page, 50)
    assert emails in (sorted(emails), sorted(emails, reverse=True))
    assert emails[0] in ("ada000@example.com", "margaret049@example.com")


def test_bulk_add_tag_on_a_selection(qtbot: Any, contacts_kernel: Kernel,
                                     make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 40)
    page = make_page()
    click_row(page, 0)
    click_row(page, 2, Qt.KeyboardModifier.ShiftModifier)
    assert page.selected_count() == 3
    assert page.bulk_bar.isVisible()
    chosen = visible_emails(page, 3)

    def name_it(dialog: QWidget) -> None:
        assert isinstance(dialog, QInputDialog)
        dialog.setTextValue("Spring sale")
        dialog.accept()

    said = answer_next_dialog(qtbot, name_it)
    QTest.mouseClick(page.bulk_bar.buttons["tag"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.bulk.last_outcome is not None, timeout=TIMEOUT)
    assert said == ["Tag 3 contacts with (a new name creates the tag):"]
    assert page.bulk.last_outcome.done == 3

    # The table re-reads: the three rows now show the tag, the fourth does not.
    qtbot.waitUntil(lambda: page.model.index(0, 3).data() == "Spring sale", timeout=TIMEOUT)
    assert [page.model.index(row, 3).data() for row in range(4)][:3] == ["Spring sale"] * 3
    assert "Spring sale" not in (page.model.index(3, 3).data() or "")
    with contacts_kernel.db.read() as session:
        tagged = set(session.scalars(select(Contact.email).join(ContactTag, ContactTag.contact_id == Contact.id)
                                     .join(Tag, Tag.id == ContactTag.tag_id).where(Tag.name == "Spring sale")))
    assert tagged == set(chosen)
    qtbot.waitUntil(lambda: page.panel.options is not None and
                    any(t.name == "Spring sale" and t.contacts == 3 for t in page.panel.options.tags),
                    timeout=TIMEOUT)
    assert "Tagged 3 contacts" in page.notice.text.text()


def test_add_all_matching_to_a_list_goes_by_the_filter(qtbot: Any, contacts_kernel: Kernel,
                                                       make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 100)
    page = make_page()
    qtbot.keyClicks(page.search, "grace")
    wait_count(qtbot, page, "20 contacts match")
    click_row(page, 0)
    assert page.bulk_bar.select_all.isVisible()
    QTest.mouseClick(page.bulk_bar.select_all, Qt.MouseButton.LeftButton)
    assert page.bulk.target() is not None
    assert page.bulk.target().everything

    def name_it(dialog: QWidget) -> None:
        assert isinstance(dialog, QInputDialog)
        dialog.setTextValue("Graces")
        dialog.accept()

    answer_next_dialog(qtbot, name_it)
    QTest.mouseClick(page.bulk_bar.buttons["list"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.bulk.last_outcome is not None, timeout=TIMEOUT)
    assert page.bulk.last_outcome.done == 20
    with contacts_kernel.db.read() as session:
        members = set(session.scalars(select(Contact.email).join(Subscription).join(MailingList)
                                      .where(MailingList.name == "Graces", Subscription.status == "subscribed")))
    assert len(members) == 20
    assert all(email.startswith("grace") for email in members)


def test_delete_asks_for_confirmation_naming_how_many(qtbot: Any, contacts_kernel: Kernel,
                                                      make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 40)
    page = make_page()
    click_row(page, 0)
    click_row(page, 1, Qt.KeyboardModifier.ControlModifier)
    doomed = visible_emails(page, 2)

    def cancel(dialog: QWidget) -> None:
        assert isinstance(dialog, QMessageBox)
        dialog.button(QMessageBox.StandardButton.Cancel).click()

    said = answer_next_dialog(qtbot, cancel)
    QTest.mouseClick(page.bulk_bar.buttons["delete"], Qt.MouseButton.LeftButton)
    assert len(said) == 1
    assert said[0].startswith("Delete 2 contacts?")
    assert page.bulk.running is None
    assert contacts_in_db(contacts_kernel) == 40

    def confirm(dialog: QWidget) -> None:
        button = dialog.findChild(QPushButton, "ContactsBulkConfirmButton")
        assert button is not None
        assert button.text() == "Delete"
        button.click()

    answer_next_dialog(qtbot, confirm)
    QTest.mouseClick(page.bulk_bar.buttons["delete"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.bulk.last_outcome is not None, timeout=TIMEOUT)
    wait_count(qtbot, page, "38 contacts")
    assert contacts_in_db(contacts_kernel) == 38
    assert not set(doomed) & set(visible_emails(page, 38))
    assert page.selected_count() == 0


def test_the_page_refreshes_when_contacts_change_elsewhere(qtbot: Any, contacts_kernel: Kernel,
                                                           make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 10)
    page = make_page()
    with contacts_kernel.db.transaction() as session:
        session.add(Contact(email="newcomer@example.com", email_key="newcomer@example.com",
                            email_hash=email_hash("newcomer@example.com"), fields={},
                            created_at=dt.datetime(2030, 1, 1)))
    for _ in range(5):  # a burst of events becomes one re-read
        contacts_kernel.bus.publish(ContactsChanged())
    wait_count(qtbot, page, "11 contacts")
    assert visible_emails(page, 1) == ["newcomer@example.com"]


def drop(page: ContactsPage, paths: list[Path]) -> tuple[bool, bool]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    point = QPointF(page.width() / 2, page.height() / 2)
    enter = QDragEnterEvent(drag_position(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page, enter)
    dropped = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page, dropped)
    return enter.isAccepted(), dropped.isAccepted()


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # the wizard raises itself; offscreen cannot
def test_a_dropped_csv_opens_the_import_wizard(qtbot: Any, tmp_path: Path,
                                               make_page: Callable[[], ContactsPage]) -> None:
    page = make_page()
    picture = tmp_path / "holiday.png"
    picture.write_bytes(b"\x89PNG")
    assert drop(page, [picture]) == (False, False)

    sheet = tmp_path / "leads.csv"
    sheet.write_text("email,first_name\nada@example.com,Ada\n", encoding="utf-8")
    try:
        import app.modules.contacts.ui.import_wizard  # noqa: F401
    except ImportError:
        assert drop(page, [sheet]) == (True, True)
        assert page.notice.isVisible()
        assert "Importing is not available" in page.notice.text.text()
        return
    before = set(QApplication.topLevelWidgets())
    QTimer.singleShot(3000, lambda: [w.close() for w in QApplication.topLevelWidgets()
                                     if w not in before and w.isModal()])  # never hang on a modal wizard
    assert drop(page, [sheet]) == (True, True)
    qtbot.waitUntil(lambda: any(w.isVisible() for w in QApplication.topLevelWidgets() if w not in before),
                    timeout=TIMEOUT)
    opened = [w for w in QApplication.topLevelWidgets() if w not in before and w.isVisible()]
    assert [type(w).__name__ for w in opened] == ["ImportWizard"]
    assert page.notice.isHidden()
    for widget in QApplication.topLevelWidgets():
        if widget not in before and widget.isVisible():
            widget.close()


def test_a_saved_segment_in_the_panel_filters_the_table(qtbot: Any, contacts_kernel: Kernel,
                                                        make_page: Callable[[], ContactsPage]) -> None:
    from app.modules.contacts.segments import save_segment

    seed(contacts_kernel, 100)
    page = make_page()
    rules = {"match": "all", "rules": [{"field": "first_name", "op": "equals", "value": "Grace"}]}
    saved = save_segment(contacts_kernel.db, contacts_kernel.bus, "Graces", rules)
    qtbot.waitUntil(lambda: page.panel.item_for("segment", saved.id) is not None, timeout=TIMEOUT)
    item = page.panel.item_for("segment", saved.id)
    assert item is not None
    tree = page.panel.tree
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     tree.visualItemRect(item).center())
    wait_count(qtbot, page, "20 contacts match")
    assert {page.model.index(row, 1).data() for row in range(20)} == {"Grace Tester"}


def test_new_segment_opens_the_segment_builder(qtbot: Any, make_page: Callable[[], ContactsPage]) -> None:
    page = make_page()
    QTest.mouseClick(page.segment_button, Qt.MouseButton.LeftButton)
    try:
        import app.modules.contacts.ui.segment_builder  # noqa: F401
    except ImportError:
        assert "segment builder is not available" in page.notice.text.text()
        return
    dialog = page.findChild(QWidget, "SegmentBuilderDialog")
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=TIMEOUT)
    dialog.close()


def test_export_writes_what_the_table_shows(qtbot: Any, tmp_path: Path, contacts_kernel: Kernel,
                                            make_page: Callable[[], ContactsPage]) -> None:
    seed(contacts_kernel, 50)
    page = make_page()
    qtbot.keyClicks(page.search, "alan")
    wait_count(qtbot, page, "10 contacts match")
    target = tmp_path / "alans.csv"
    page.bulk.export_to(target)
    qtbot.waitUntil(lambda: page.bulk.running is None and "Exported 10 contacts" in page.notice.text.text(),
                    timeout=TIMEOUT)
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("email,first_name,last_name")
    assert len(lines) == 11
    assert all(line.startswith("alan") for line in lines[1:])


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # the wizard raises itself; offscreen cannot
def test_a_csv_dropped_anywhere_on_the_window_opens_the_import_on_the_contacts_page(
        qtbot: Any, tmp_path: Path, ctx: UiContext) -> None:
    from app.ui.main_window import MainWindow

    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    window.show_page("home")
    sheet = tmp_path / "leads.csv"
    sheet.write_text("email,first_name\nada@example.com,Ada\n", encoding="utf-8")
    picture = tmp_path / "holiday.png"
    picture.write_bytes(b"\x89PNG")
    before = set(QApplication.topLevelWidgets())
    assert drop(window, [picture]) == (False, False)  # type: ignore[arg-type]  # nobody opens pictures
    assert window.current_page_key() == "home"
    assert drop(window, [sheet]) == (True, True)  # type: ignore[arg-type]
    assert window.current_page_key() == "contacts"
    qtbot.waitUntil(lambda: any(type(w).__name__ == "ImportWizard" and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=TIMEOUT)
    for widget in QApplication.topLevelWidgets():
        if widget not in before and widget is not window and widget.isVisible():
            widget.close()
    page = window.page_widget("contacts")
    assert isinstance(page, ContactsPage)
    page.shutdown()
    window.close()
