"""The Campaigns page: every campaign with its state and key results on the left; the selected campaign's
content, audience, sender, schedule, A/B test and resend on the right, with Save, Send and Schedule."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.kernel.database import utcnow
from app.modules.campaigns import api, scheduling
from app.modules.campaigns.messages import (
    CampaignAudience,
    CampaignDeleted,
    CampaignError,
    CampaignSaved,
    CancelCampaign,
    ConfirmMissedSend,
    DeleteCampaign,
    DuplicateCampaign,
    PauseCampaign,
    PickWinner,
    ResumeCampaign,
    SaveCampaign,
    ScheduleCampaign,
    SendCampaign,
    SetAbTest,
    SetResend,
    Variant,
)
from app.ui.background import BackgroundWork, Coalesced
from app.ui.widgets import Notice, card, label

_ID = Qt.ItemDataRole.UserRole
COLUMNS = ("Campaign", "State", "Sent", "Opens", "Clicks")
VARIANT_COLUMNS = ("Variant", "Subject", "From name", "Template", "Later by (h)")
RULES = (("Every Monday at 9:00", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"),
         ("Every weekday at 9:00", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0"),
         ("Every day at 9:00", "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"),
         ("First day of each month at 9:00", "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0"))
STATE_TEXT = {"draft": "Draft", "scheduled": "Scheduled", "sending": "Sending", "paused": "Paused",
              "sent": "Sent", "cancelled": "Cancelled"}


@dataclass
class Choices:
    """What the form's pickers offer (read off the GUI thread)."""

    templates: list[tuple[int, str]] = field(default_factory=list)
    lists: list[tuple[int, str]] = field(default_factory=list)
    segments: list[tuple[int, str]] = field(default_factory=list)
    identities: list[tuple[int, str]] = field(default_factory=list)
    accounts: list[tuple[int, str]] = field(default_factory=list)
    merge_names: list[str] = field(default_factory=list)


def _load_choices(db: Any) -> Choices:
    from app.modules.contacts import api as contacts_api
    from app.modules.delivery import api as delivery_api
    from app.modules.editor import api as editor_api

    custom = [f.key for f in contacts_api.custom_fields(db)]
    return Choices(
        templates=[(t.id, t.name) for t in editor_api.list_templates(db)],
        lists=[(item.id, item.name) for item in contacts_api.lists(db)],
        segments=[(item.id, item.name) for item in contacts_api.segments(db)],
        identities=[(i.id, f"{i.from_name} <{i.from_email}>" if i.from_name else i.from_email)
                    for i in delivery_api.identities(db)],
        accounts=[(a.id, a.name) for a in delivery_api.accounts(db) if a.enabled],
        merge_names=editor_api.merge_names(custom))


def _load_rows(db: Any) -> list[tuple[api.CampaignInfo, api.Results]]:
    return [(info, api.results(db, info)) for info in api.list_campaigns(db)]


def _sentence(text: str) -> str:
    """A command's reason ("a campaign needs a name", as the command line prints it) as a sentence on the page."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def _qdt(value: dt.datetime) -> QDateTime:
    return QDateTime(QDate(value.year, value.month, value.day), QTime(value.hour, value.minute))


def _text(item: QTableWidgetItem | None) -> str:
    return item.text().strip() if item is not None else ""


class CheckList(QListWidget):
    """Checkable lists or segments, keeping ids on the items."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setMaximumHeight(96)

    def fill(self, items: list[tuple[int, str]], checked: tuple[int, ...]) -> None:
        self.clear()
        for item_id, name in items:
            item = QListWidgetItem(name)
            item.setData(_ID, item_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if item_id in checked else Qt.CheckState.Unchecked)
            self.addItem(item)

    def checked(self) -> tuple[int, ...]:
        return tuple(int(self.item(i).data(_ID)) for i in range(self.count())
                     if self.item(i).checkState() == Qt.CheckState.Checked)

    def set_checked(self, names: list[str]) -> None:
        for i in range(self.count()):
            if self.item(i).text() in names:
                self.item(i).setCheckState(Qt.CheckState.Checked)


class CampaignsPage(QWidget):
    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CampaignsPage")
        self._ctx = ctx
        self._reads = BackgroundWork(self, name="campaigns-read")
        self._choices = Choices()
        self._current: api.CampaignInfo | None = None
        self._filled_choices = 0
        self._build()
        self._size_soon = QTimer(self, singleShot=True, interval=400)
        self._size_soon.timeout.connect(self._count_audience)
        Coalesced(self, self.reload, 250).on_events(ctx.bridge, (CampaignSaved, CampaignDeleted), self)
        self._refresh_timer = QTimer(self, interval=5000)  # results move while a campaign sends
        self._refresh_timer.timeout.connect(self._refresh_if_active)
        self._refresh_timer.start()
        self._reads.submit(lambda: _load_choices(ctx.db), self._got_choices)
        self.reload()

    # -- layout

    def _build(self) -> None:
        self.notice = Notice(self, boxed=True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("CampaignList")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)
        self.new_button = QPushButton("New campaign")
        self.new_button.setObjectName("CampaignNew")
        self.new_button.clicked.connect(self._new)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.clicked.connect(self._duplicate)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete)
        self.empty = label("No campaigns yet. Create one, choose a template and a list, and send it — to the "
                           "built-in outbox until you add your own SMTP account.", "muted", wrap=True)

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.duplicate_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        column.addWidget(self.empty)
        column.addWidget(self.table, 1)

        self.form = self._build_form()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(scroll)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([330, 730])
        left.setMinimumWidth(300)

        page = QVBoxLayout(self)
        page.setContentsMargins(28, 20, 28, 20)
        page.setSpacing(10)
        page.addWidget(label("Campaigns", object_name="PageTitle"))
        page.addWidget(label("Who gets which email, from whom, and when. Suppressed and unsubscribed contacts are "
                             "always left out.", "muted", wrap=True))
        page.addWidget(self.notice)
        page.addWidget(split, 1)

    def _build_form(self) -> QWidget:  # noqa: PLR0915 - one form, top to bottom
        form = QWidget()
        outer = QVBoxLayout(form)
        outer.setContentsMargins(4, 0, 4, 0)
        outer.setSpacing(12)
        self.heading = label("", wrap=True)
        self.heading.setObjectName("CampaignHeading")
        self.heading.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.state_line = label("", "muted", wrap=True, selectable=True)
        outer.addWidget(self.heading)
        outer.addWidget(self.state_line)

        self.missed_box, missed = card("missed")
        self.missed_text = label("", wrap=True)
        missed.addWidget(self.missed_text)
        row = QHBoxLayout()
        self.missed_send = QPushButton("Send it now")
        self.missed_skip = QPushButton("Skip it")
        self.missed_send.clicked.connect(lambda: self._confirm_missed(True))
        self.missed_skip.clicked.connect(lambda: self._confirm_missed(False))
        row.addWidget(self.missed_send)
        row.addWidget(self.missed_skip)
        row.addStretch(1)
        missed.addLayout(row)
        outer.addWidget(self.missed_box)
        self.missed_box.hide()

        self.results_box, results = card("results")
        self.results_text = label("", wrap=True, selectable=True)
        self.results_text.setObjectName("CampaignResults")
        results.addWidget(label("Results", "section"))
        results.addWidget(self.results_text)
        outer.addWidget(self.results_box)
        self.results_box.hide()

        box, content = card("content")
        content.addWidget(label("Content", "section"))
        grid = QFormLayout()
        self.name = QLineEdit()
        self.name.setObjectName("CampaignName")
        self.template = QComboBox()
        self.template.setObjectName("CampaignTemplate")
        self.subject = QLineEdit()
        self.subject.setObjectName("CampaignSubject")
        self.subject.setPlaceholderText("Spring sale for {{ contact.first_name | default('you') }}")
        self.preheader = QLineEdit()
        self.preheader.setPlaceholderText("The line inboxes show after the subject")
        self.merge = QToolButton()
        self.merge.setText("Insert field")
        self.merge.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        subject_row = QHBoxLayout()
        subject_row.addWidget(self.subject, 1)
        subject_row.addWidget(self.merge)
        grid.addRow("Name", self.name)
        grid.addRow("Template", self.template)
        grid.addRow("Subject", subject_row)
        grid.addRow("Preheader", self.preheader)
        content.addLayout(grid)
        outer.addWidget(box)

        box, audience = card("audience")
        audience.addWidget(label("Audience", "section"))
        self.lists = CheckList("CampaignLists")
        self.segments = CheckList("CampaignSegments")
        self.exclude_lists = CheckList("CampaignExcludeLists")
        self.exclude_segments = CheckList("CampaignExcludeSegments")
        pick = QGridLayout()
        for index, (title, widget) in enumerate((
                ("Send to these lists", self.lists), ("…and these segments", self.segments),
                ("Leave out these lists", self.exclude_lists), ("…and these segments", self.exclude_segments))):
            col = QVBoxLayout()
            col.addWidget(label(title, "muted"))
            col.addWidget(widget)
            pick.addLayout(col, index // 2, index % 2)
        audience.addLayout(pick)
        self.audience_size = label("", "muted")
        self.audience_size.setObjectName("CampaignAudienceSize")
        audience.addWidget(self.audience_size)
        for widget in (self.lists, self.segments, self.exclude_lists, self.exclude_segments):
            widget.itemChanged.connect(lambda _item: self._size_soon.start())
        outer.addWidget(box)

        box, sender = card("sender")
        sender.addWidget(label("Sender and tracking", "section"))
        grid = QFormLayout()
        self.identity = QComboBox()
        self.track_opens = QCheckBox("Count opens (a tracking pixel)")
        self.track_clicks = QCheckBox("Count clicks (links go through the tracker)")
        self.utm = QCheckBox("Add UTM parameters to links")
        self.utm_source = QLineEdit("newsletter")
        self.utm_medium = QLineEdit("email")
        utm_row = QHBoxLayout()
        utm_row.addWidget(label("source", "muted"))
        utm_row.addWidget(self.utm_source, 1)
        utm_row.addWidget(label("medium", "muted"))
        utm_row.addWidget(self.utm_medium, 1)
        self.accounts = CheckList("CampaignAccounts")
        self.accounts.setMaximumHeight(72)
        self.accounts.setToolTip("Send through these SMTP accounts, shared by their weights; when one fails or "
                                 "reaches its limit the others take over. None ticked: the default account.")
        grid.addRow("From", self.identity)
        grid.addRow("Through", self.accounts)
        grid.addRow("", self.track_opens)
        grid.addRow("", self.track_clicks)
        grid.addRow("", self.utm)
        grid.addRow("", utm_row)
        sender.addLayout(grid)
        outer.addWidget(box)

        outer.addWidget(self._build_schedule())
        outer.addWidget(self._build_ab())

        box, resend = card("resend")
        resend.addWidget(label("Resend to non-openers", "section"))
        row = QHBoxLayout()
        self.resend = QCheckBox("Resend after")
        self.resend_hours = QDoubleSpinBox()
        self.resend_hours.setRange(1, 24 * 14)
        self.resend_hours.setValue(48)
        self.resend_hours.setSuffix(" h")
        self.resend_subject = QLineEdit()
        self.resend_subject.setPlaceholderText("A new subject for those who did not open")
        row.addWidget(self.resend)
        row.addWidget(self.resend_hours)
        row.addWidget(self.resend_subject, 1)
        resend.addLayout(row)
        outer.addWidget(box)

        actions = QHBoxLayout()
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("CampaignSave")
        self.send_button = QPushButton("Send now…")
        self.send_button.setObjectName("CampaignSend")
        self.schedule_button = QPushButton("Schedule")
        self.schedule_button.setObjectName("CampaignSchedule")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel sending")
        self.save_button.clicked.connect(self._save)
        self.send_button.clicked.connect(self._send)
        self.schedule_button.clicked.connect(self._schedule)
        self.pause_button.clicked.connect(lambda: self._act(PauseCampaign))
        self.resume_button.clicked.connect(lambda: self._act(ResumeCampaign))
        self.cancel_button.clicked.connect(self._cancel)
        for button in (self.save_button, self.schedule_button, self.send_button, self.pause_button,
                       self.resume_button, self.cancel_button):
            actions.addWidget(button)
        actions.addStretch(1)
        outer.addLayout(actions)
        outer.addStretch(1)
        for combo in form.findChildren(QComboBox):  # long names (time zones, templates) must not widen the form
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        return form

    def _build_schedule(self) -> QWidget:
        box, schedule = card("schedule")
        schedule.addWidget(label("Schedule", "section"))
        self.kind_group = QButtonGroup(self)
        self.kinds: dict[str, QRadioButton] = {}
        row = QHBoxLayout()
        for key, text in (("at", "Once, at"), ("recurring", "Repeating"), ("local", "At each recipient's local time")):
            button = QRadioButton(text)
            button.setObjectName(f"ScheduleKind_{key}")
            self.kind_group.addButton(button)
            self.kinds[key] = button
            row.addWidget(button)
            button.toggled.connect(self._kind_changed)
        row.addStretch(1)
        schedule.addLayout(row)
        grid = QFormLayout()
        self.when = QDateTimeEdit()
        self.when.setObjectName("ScheduleWhen")
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("ddd d MMM yyyy  HH:mm")
        self.zone = QComboBox()
        self.zone.setObjectName("ScheduleZone")
        self.zone.setEditable(True)
        zones = sorted(zoneinfo.available_timezones())
        self.zone.addItems(zones)
        self.zone.setCurrentText(str(self._ctx.settings.get("campaigns.time_zone", "UTC")))
        self.rule = QComboBox()
        self.rule.setObjectName("ScheduleRule")
        self.rule.setEditable(True)
        for text, rule in RULES:
            self.rule.addItem(text, rule)
        self.default_zone = QComboBox()
        self.default_zone.setEditable(True)
        self.default_zone.addItems(zones)
        self.default_zone.setCurrentText(self.zone.currentText())
        self.next_runs = label("", "muted", wrap=True)
        self.next_runs.setObjectName("ScheduleNextRuns")
        grid.addRow("Date and time", self.when)
        grid.addRow("Time zone", self.zone)
        grid.addRow("Repeat", self.rule)
        grid.addRow("Without a time zone", self.default_zone)
        grid.addRow("Next", self.next_runs)
        schedule.addLayout(grid)
        self._schedule_grid = grid
        self.kinds["at"].setChecked(True)
        self._set_when(utcnow() + dt.timedelta(days=1))
        return box

    def _build_ab(self) -> QWidget:
        box, ab = card("ab")
        ab.addWidget(label("A/B test", "section"))
        self.ab = QCheckBox("Test variants on part of the audience, then send the winner to the rest")
        self.ab.setObjectName("AbEnabled")
        ab.addWidget(self.ab)
        self.variants = QTableWidget(2, len(VARIANT_COLUMNS))
        self.variants.setObjectName("AbVariants")
        self.variants.setHorizontalHeaderLabels(list(VARIANT_COLUMNS))
        self.variants.setToolTip("Leave a cell empty to keep the campaign's own subject, sender name or template. "
                                 "“Later by” tests the send time: that group goes so many hours after the first.")
        self.variants.verticalHeader().setVisible(False)
        self.variants.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.variants.setMaximumHeight(150)
        self.variants.setMinimumWidth(240)
        for row, key in enumerate("AB"):
            self.variants.setItem(row, 0, QTableWidgetItem(key))
        ab.addWidget(self.variants)
        add = QPushButton("Add variant")
        add.setObjectName("AbAddVariant")
        add.clicked.connect(self._add_variant)
        ab.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)
        self.share = QDoubleSpinBox()
        self.share.setRange(2, 100)
        self.share.setValue(20)
        self.share.setSuffix(" %")
        self.ab_metric = QComboBox()
        self.ab_metric.addItem("Unique opens", "opens")
        self.ab_metric.addItem("Unique clicks", "clicks")
        self.ab_metric.addItem("I choose", "manual")
        self.wait = QDoubleSpinBox()
        self.wait.setRange(0, 24 * 7)
        self.wait.setValue(4)
        self.wait.setSuffix(" h")
        grid = QFormLayout()
        grid.addRow("Test share of the audience", self.share)
        grid.addRow("Winner by", self.ab_metric)
        grid.addRow("Choose the winner after", self.wait)
        ab.addLayout(grid)
        self.ab_result = label("", wrap=True, selectable=True)
        self.ab_result.setObjectName("AbResult")
        ab.addWidget(self.ab_result)
        self.pick = QPushButton("Send the winner now")
        self.pick.clicked.connect(self._pick_winner)
        ab.addWidget(self.pick, 0, Qt.AlignmentFlag.AlignLeft)
        return box

    # -- reading

    def reload(self) -> None:
        db = self._ctx.db
        self._reads.submit_latest("rows", lambda: _load_rows(db), self._fill)

    def _refresh_if_active(self) -> None:
        if self.isVisible() and self._current is not None and self._current.state in ("sending", "scheduled"):
            self.reload()

    def _got_choices(self, choices: Choices) -> None:
        self._choices = choices
        self.template.clear()
        self.template.addItem("Choose a template…", None)
        for template_id, name in choices.templates:
            self.template.addItem(name, template_id)
        self.identity.clear()
        self.identity.addItem("The default sender", None)
        for identity_id, name in choices.identities:
            self.identity.addItem(name, identity_id)
        menu = QMenu(self.merge)
        for name in choices.merge_names:
            menu.addAction(name, self._inserter(name))
        self.merge.setMenu(menu)
        self._show(self._current)

    def _inserter(self, name: str) -> Any:
        def insert() -> None:
            self.subject.insert("{{ " + name + " }}")

        return insert

    def _fill(self, rows: list[tuple[api.CampaignInfo, api.Results]]) -> None:
        selected = self._current.id if self._current else None
        self.empty.setVisible(not rows)
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        current = None
        for index, (info, figures) in enumerate(rows):
            values = (info.name, STATE_TEXT.get(info.state, info.state), f"{figures.sent:,}" if info.run_ids else "",
                      f"{figures.open_rate:.1%}" if figures.sent else "",
                      f"{figures.click_rate:.1%}" if figures.sent else "")
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(_ID, info.id)
                self.table.setItem(index, column, item)
            if info.id == selected:
                self.table.selectRow(index)
                current = (info, figures)
        self.table.blockSignals(False)
        if current is None and rows:
            self.table.selectRow(0)
            current = rows[0]
        if current is None:
            self._show(None)
        else:
            self._show(*current)

    def _selected(self) -> None:
        items = self.table.selectedItems()
        if not items:
            return
        campaign_id = int(items[0].data(_ID))
        db = self._ctx.db
        def show(got: tuple[api.CampaignInfo, api.Results] | None) -> None:
            if got is not None:
                self._show(*got)

        self._reads.submit_latest("one", lambda: self._one(db, campaign_id), show)

    @staticmethod
    def _one(db: Any, campaign_id: int) -> tuple[api.CampaignInfo, api.Results] | None:
        info = api.get_campaign(db, campaign_id)
        return (info, api.results(db, info)) if info else None

    # -- showing a campaign

    def _show(self, info: api.CampaignInfo | None,
              figures: api.Results | None = None) -> None:
        # A refresh of the campaign being edited (results moving, a reload after an event) must not undo what
        # the user typed: the fields are only filled when another campaign, or a changed one, is shown.
        previous = self._current
        same = (info is not None and previous is not None and previous.id == info.id
                and previous.updated_at == info.updated_at and self._filled_choices == id(self._choices))
        self._current = info
        self.form.setEnabled(info is not None)
        if info is None:
            self.heading.setText("No campaign selected")
            self.state_line.setText("")
            self.missed_box.hide()
            self.results_box.hide()
            return
        self.heading.setText(info.name)
        state = STATE_TEXT.get(info.state, info.state)
        schedule = info.schedule_text()
        upcoming = api.upcoming(info, utcnow())
        line = f"{state} · {schedule}"
        if info.state_reason:
            line += f" — {info.state_reason}"
        self.state_line.setText(line)
        self.missed_box.setVisible(info.missed_at is not None)
        if info.missed_at is not None:
            local = scheduling.to_local(info.missed_at, info.time_zone)
            self.missed_text.setText(f"This campaign was due on {local:%a %d %b %H:%M} ({info.time_zone}) while "
                                     "Postroom was closed. Send it now, or skip this time?")
        if not same:
            self._fill_form(info)
        self._filled_choices = id(self._choices)
        self.results_box.setVisible(bool(info.run_ids))
        if figures is not None and info.run_ids:
            text = (f"Sent {figures.sent:,} · failed {figures.failed:,} · not settled yet {figures.open:,}\n"
                    f"Opened by {figures.unique_opens:,} ({figures.open_rate:.1%}) · clicked by "
                    f"{figures.unique_clicks:,} ({figures.click_rate:.1%}) — rates on messages sent, machine "
                    "opens left out (Reports takes bounces out)")
            if info.resend.get("done"):
                text += f"\nResent to {info.resend.get('count', 0):,} who had not opened"
            self.results_text.setText(text)
        editable = info.editable
        for widget in (self.name, self.template, self.subject, self.preheader, self.lists, self.segments,
                       self.exclude_lists, self.exclude_segments, self.identity, self.accounts, self.track_opens,
                       self.track_clicks, self.utm, self.ab, self.variants, self.save_button):
            widget.setEnabled(editable)
        self.send_button.setEnabled(editable)
        self.schedule_button.setEnabled(editable)
        self.pause_button.setVisible(info.state == "sending")
        self.resume_button.setVisible(info.state == "paused")
        self.cancel_button.setVisible(info.state in ("sending", "paused", "scheduled"))
        self.next_runs.setText(", ".join(f"{scheduling.to_local(t, info.time_zone):%a %d %b %H:%M}"
                                         for t in upcoming) or "—")
        self._show_ab_result(info)

    def _fill_form(self, info: api.CampaignInfo) -> None:
        self.name.setText(info.name)
        self._select(self.template, info.template_id)
        self._select(self.identity, info.identity_id)
        self.accounts.fill(self._choices.accounts, info.account_ids)
        self.subject.setText(info.subject)
        self.preheader.setText(info.preheader)
        self.lists.fill(self._choices.lists, info.lists)
        self.segments.fill(self._choices.segments, info.segments)
        self.exclude_lists.fill(self._choices.lists, info.exclude_lists)
        self.exclude_segments.fill(self._choices.segments, info.exclude_segments)
        self.track_opens.setChecked(info.track_opens)
        self.track_clicks.setChecked(info.track_clicks)
        self.utm.setChecked(bool(info.utm))
        if info.utm:
            self.utm_source.setText(info.utm.get("utm_source", ""))
            self.utm_medium.setText(info.utm.get("utm_medium", ""))
        if info.schedule_kind in self.kinds:
            self.kinds[info.schedule_kind].setChecked(True)
            self.zone.setCurrentText(info.time_zone)
            self.default_zone.setCurrentText(info.default_time_zone)
            if info.schedule_kind == "at" and info.send_at:
                self._set_when(info.send_at, info.time_zone)
            elif info.schedule_kind == "recurring" and info.dtstart:
                self.when.setDateTime(_qdt(info.dtstart))
                index = self.rule.findData(info.rrule)
                if index >= 0:
                    self.rule.setCurrentIndex(index)
                else:
                    self.rule.setEditText(info.rrule)
            elif info.schedule_kind == "local" and info.local_date:
                self.when.setDateTime(_qdt(dt.datetime.combine(
                    info.local_date, scheduling.parse_hhmm(info.local_time))))
        self._show_ab(info)
        self._size_soon.start()
        self.resend.setChecked(bool(info.resend.get("subject")))
        self.resend_hours.setValue(float(info.resend.get("after_hours", 48)))
        self.resend_subject.setText(info.resend.get("subject", ""))
        self._kind_changed()

    def _show_ab(self, info: api.CampaignInfo) -> None:
        ab = info.ab
        self.ab.setChecked(bool(ab.get("variants")))
        variants = ab.get("variants") or [{"key": "A"}, {"key": "B"}]
        self.variants.setRowCount(0)
        for variant in variants:
            self._add_variant_row(variant)
        self.share.setValue(float(ab.get("test_share", 20)))
        index = self.ab_metric.findData(ab.get("metric", "opens"))
        self.ab_metric.setCurrentIndex(max(0, index))
        self.wait.setValue(float(ab.get("wait_hours", 4)))

    def _show_ab_result(self, info: api.CampaignInfo) -> None:
        ab = info.ab
        text = ""
        if ab.get("verdict"):
            rates = ", ".join(f"{k}: {v:.1%}" for k, v in (ab.get("rates") or {}).items())
            best = ", ".join(f"{k}: {v:.0%}" for k, v in (ab.get("probability_best") or {}).items())
            text = f"{ab['verdict']}\nRates {rates}" + (f"\nChance to be best {best}" if best else "")
        elif ab.get("variants") and info.run_ids:
            text = "Test groups sent: the winner goes to the rest when the wait is over."
        self.ab_result.setText(text)
        self.ab_result.setVisible(bool(text))
        self.pick.setVisible(bool(ab.get("variants")) and bool(info.run_ids) and not ab.get("winner"))

    def _count_audience(self) -> None:
        """How many contacts the ticked lists and segments reach now (suppressed and unsubscribed left out)."""
        from app.modules.contacts import api as contacts_api

        audience = contacts_api.Audience(lists=self.lists.checked(), segments=self.segments.checked(),
                                         exclude_lists=self.exclude_lists.checked(),
                                         exclude_segments=self.exclude_segments.checked())
        if not (audience.lists or audience.segments):
            self.audience_size.setText("Tick at least one list or segment.")
            return
        db = self._ctx.db
        self.audience_size.setText("Counting…")
        self._reads.submit_latest("size", lambda: contacts_api.count_audience(db, audience),
                                  lambda n: self.audience_size.setText(f"{n:,} contacts today"),
                                  lambda exc: self.audience_size.setText(f"Cannot count: {exc}"))

    def _kind_changed(self) -> None:
        kind = self._kind()
        self._schedule_grid.setRowVisible(self.rule, kind == "recurring")
        self._schedule_grid.setRowVisible(self.default_zone, kind == "local")
        self._schedule_grid.setRowVisible(self.zone, kind != "local")

    # -- helpers

    @staticmethod
    def _select(combo: QComboBox, value: Any) -> None:
        index = combo.findData(value)
        combo.setCurrentIndex(max(0, index))

    def _set_when(self, instant: dt.datetime, zone_name: str | None = None) -> None:
        local = scheduling.to_local(instant, zone_name or self.zone.currentText() or "UTC")
        self.when.setDateTime(_qdt(local.replace(second=0, microsecond=0)))

    def _kind(self) -> str:
        return next((k for k, b in self.kinds.items() if b.isChecked()), "at")

    def _execute(self, command: Any) -> Any:
        try:
            return self._ctx.bus.execute(command)
        except (CampaignError, ValueError) as exc:
            self.notice.show_text(_sentence(str(exc)), "error")
            return None

    def _execute_in_background(self, command: Any, done: Callable[[Any], None]) -> None:
        """A command that may read the whole audience (a schedule, a send): on a worker, the buttons off meanwhile;
        a refusal is shown on the page."""
        bus = self._ctx.bus
        buttons = (self.send_button, self.schedule_button)
        for button in buttons:
            button.setEnabled(False)

        def finished(result: Any) -> None:
            for button in buttons:
                button.setEnabled(True)
            done(result)

        def failed(error: BaseException) -> None:
            for button in buttons:
                button.setEnabled(True)
            self.notice.show_text(_sentence(str(error)) if isinstance(error, CampaignError | ValueError)
                                  else f"{type(error).__name__}: {error}", "error")
            self.reload()

        self._reads.submit(lambda: bus.execute(command), finished, failed)

    def _add_variant(self) -> None:
        row = self.variants.rowCount()
        if row >= 6:
            self.notice.show_text("Six variants at most: each needs enough recipients to mean something.", "error")
            return
        self._add_variant_row({"key": chr(ord("A") + row)})

    def _add_variant_row(self, variant: dict[str, Any]) -> None:
        row = self.variants.rowCount()
        self.variants.setRowCount(row + 1)
        delay = float(variant.get("delay_hours") or 0)
        for column, value in enumerate((variant.get("key"), variant.get("subject"), variant.get("from_name"))):
            self.variants.setItem(row, column, QTableWidgetItem(str(value or "")))
        self.variants.setItem(row, 4, QTableWidgetItem(f"{delay:g}" if delay else ""))
        combo = QComboBox()
        combo.addItem("Same as the campaign", None)
        for template_id, name in self._choices.templates:
            combo.addItem(name, template_id)
        combo.setCurrentIndex(max(0, combo.findData(variant.get("template_id"))))
        self.variants.setCellWidget(row, 3, combo)

    def _variants(self) -> tuple[Variant, ...]:
        found = []
        for row in range(self.variants.rowCount()):
            key, subject, from_name = (_text(self.variants.item(row, c)) for c in range(3))
            combo = self.variants.cellWidget(row, 3)
            template_id = combo.currentData() if isinstance(combo, QComboBox) else None
            try:
                delay = float(_text(self.variants.item(row, 4)) or 0)
            except ValueError:
                raise CampaignError(f"variant {key}: “later by” is a number of hours") from None
            if key:
                found.append(Variant(key=key, subject=subject, from_name=from_name, template_id=template_id,
                                     delay_hours=delay))
        return tuple(found)

    # -- actions

    def _new(self) -> None:
        names = {_text(self.table.item(r, 0)).casefold() for r in range(self.table.rowCount())}
        name, n = "New campaign", 2
        while name.casefold() in names:
            name, n = f"New campaign {n}", n + 1
        campaign_id = self._execute(SaveCampaign(name=name))
        if campaign_id is not None:
            self._current = api.get_campaign(self._ctx.db, campaign_id)
            self.reload()
            self.name.setFocus()

    def _duplicate(self) -> None:
        if self._current is not None:
            new_id = self._execute(DuplicateCampaign(campaign_id=self._current.id))
            if new_id is not None:
                self._current = api.get_campaign(self._ctx.db, new_id)
                self.reload()

    def _delete(self) -> None:
        info = self._current
        if info is None:
            return
        answer = QMessageBox.question(self, "Delete campaign", f"Delete “{info.name}”? Its sends stay in Delivery "
                                      "and its results in reports.")
        if answer == QMessageBox.StandardButton.Yes and self._execute(DeleteCampaign(campaign_id=info.id)):
            self._current = None
            self.reload()

    def save(self) -> bool:
        """Save the form; False (with the reason shown) when something is wrong."""
        info = self._current
        if info is None:
            return False
        utm: tuple[tuple[str, str], ...] = ()
        if self.utm.isChecked():
            utm = (("utm_source", self.utm_source.text().strip()), ("utm_medium", self.utm_medium.text().strip()),
                   ("utm_campaign", ""))
        saved = self._execute(SaveCampaign(
            campaign_id=info.id, name=self.name.text(), template_id=self.template.currentData(),
            subject=self.subject.text(), preheader=self.preheader.text(), identity_id=self.identity.currentData(),
            account_ids=self.accounts.checked(),
            audience=CampaignAudience(lists=self.lists.checked(), segments=self.segments.checked(),
                                      exclude_lists=self.exclude_lists.checked(),
                                      exclude_segments=self.exclude_segments.checked()),
            track_opens=self.track_opens.isChecked(), track_clicks=self.track_clicks.isChecked(), utm=utm))
        if saved is None:
            return False
        try:
            variants = self._variants() if self.ab.isChecked() else ()
        except CampaignError as exc:
            self.notice.show_text(_sentence(str(exc)), "error")
            return False
        ab = SetAbTest(campaign_id=info.id, variants=variants,
                       test_share=self.share.value(), metric=str(self.ab_metric.currentData()),
                       wait_hours=self.wait.value())
        if self._execute(ab) is None:
            return False
        resend = SetResend(campaign_id=info.id, enabled=self.resend.isChecked(), after_hours=self.resend_hours.value(),
                           subject=self.resend_subject.text())
        if not info.resend.get("done") and self._execute(resend) is None:
            return False
        self._current = api.get_campaign(self._ctx.db, info.id)
        return True

    def _save(self) -> None:
        if self.save():
            self.notice.show_text("Saved.")
            self.reload()

    def _send(self) -> None:
        if not self.save() or self._current is None:
            return
        info = self._current
        if not self.confirm_send(info):
            return

        def started(_runs: object) -> None:
            self.notice.show_text(f"“{info.name}” is sending: follow it here or on the Delivery page.")
            self.reload()

        self._execute_in_background(SendCampaign(campaign_id=info.id), started)

    @staticmethod
    def preflight_command(info: api.CampaignInfo) -> Any:
        return api.preflight_command(info)

    def confirm_send(self, info: api.CampaignInfo) -> bool:
        """Delivery's preflight checks, shown before anything is sent or scheduled: errors block, warnings are
        accepted by the user (tests replace this)."""
        from app.modules.delivery.ui.preflight_dialog import PreflightDialog

        return PreflightDialog.confirm(self._ctx, self.preflight_command(info), parent=self)

    def _schedule(self) -> None:
        if not self.save() or self._current is None or not self.confirm_send(self._current):
            return
        kind = self._kind()
        picked = self.when.dateTime()
        when = dt.datetime(picked.date().year(), picked.date().month(), picked.date().day(),
                           picked.time().hour(), picked.time().minute())
        rule = self.rule.currentData() if self.rule.currentText() == self.rule.itemText(
            self.rule.currentIndex()) else self.rule.currentText()
        zone_name = self.zone.currentText() if kind != "local" else "UTC"

        def scheduled(due: object) -> None:
            first = scheduling.to_local(due, zone_name) if isinstance(due, dt.datetime) else None
            when_text = f"{first:%a %d %b %H:%M} ({zone_name})" if first else "at each recipient's local time"
            self.notice.show_text(f"Scheduled: first send {when_text}. Postroom sends it while it is open.")
            self.reload()

        # Off the GUI thread: a local-hour schedule reads the time zones of the whole audience.
        self._execute_in_background(ScheduleCampaign(
            campaign_id=self._current.id, kind=kind, at=when, time_zone=self.zone.currentText(),
            rrule=str(rule or ""), default_time_zone=self.default_zone.currentText()), scheduled)

    def _act(self, command: Any) -> None:
        if self._current is not None:
            self._execute(command(campaign_id=self._current.id))
            self.reload()

    def _cancel(self) -> None:
        info = self._current
        if info is None:
            return
        answer = QMessageBox.question(self, "Cancel", f"Stop “{info.name}” for good? Nobody else will be sent it.")
        if answer == QMessageBox.StandardButton.Yes:
            self._execute(CancelCampaign(campaign_id=info.id))
            self.reload()

    def _confirm_missed(self, send: bool) -> None:
        if self._current is not None:
            self._execute(ConfirmMissedSend(campaign_id=self._current.id, send=send))
            self.reload()

    def _pick_winner(self) -> None:
        if self._current is None:
            return
        manual = self._current.ab.get("metric") == "manual"
        variant = ""
        if manual:
            keys = [str(v["key"]) for v in self._current.ab.get("variants", [])]
            from PySide6.QtWidgets import QInputDialog

            variant, ok = QInputDialog.getItem(self, "Winner", "Send which variant to the rest?", keys, 0, False)
            if not ok:
                return
        winner = self._execute(PickWinner(campaign_id=self._current.id, variant=variant))
        if winner:
            self.notice.show_text(f"Variant {winner} is going to the rest of the audience.")
            self.reload()

    def shutdown(self) -> None:
        self._refresh_timer.stop()
        self._reads.close()
