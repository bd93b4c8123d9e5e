"""The app-wide stylesheet: only the sidebar, cards, headings and badges; Fusion draws everything else."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.ui.theme import Colors


def stylesheet_for(c: Colors) -> str:
    from PySide6.QtGui import QColor

    hover = QColor(c.accent).lighter(110).name()
    pressed = QColor(c.accent).darker(112).name()
    return f"""
QWidget#SidebarPane {{ background: {c.sidebar}; border-right: 1px solid {c.border}; }}
QLabel#Brand {{ font-size: 15pt; font-weight: 600; color: {c.text}; }}
QLabel#BrandVersion {{ color: {c.muted}; font-size: 8.5pt; }}
QListWidget#Sidebar {{ background: transparent; border: none; outline: 0; font-size: 10.5pt; }}
QListWidget#Sidebar::item {{ padding: 7px 10px; margin: 1px 8px; border-radius: 7px; color: {c.text}; }}
QListWidget#Sidebar::item:hover:!selected {{ background: {c.border}; }}
QListWidget#Sidebar::item:selected {{ background: {c.accent_soft}; color: {c.accent}; font-weight: 600; }}
QLabel#PageTitle {{ font-size: 20pt; font-weight: 600; color: {c.text}; }}
QLabel#SectionTitle {{ font-size: 12pt; font-weight: 600; color: {c.text}; margin-top: 6px; }}
QLabel[role="muted"] {{ color: {c.muted}; }}
QLabel[role="danger"] {{ color: {c.danger}; }}
QFrame#Card {{ background: {c.base}; border: 1px solid {c.border}; border-radius: 10px; }}
QFrame#Card QLabel {{ background: transparent; }}
QLabel#CardTitle {{ font-size: 11pt; font-weight: 600; }}
QLabel[badge="started"] {{ color: {c.success}; font-weight: 600; }}
QLabel[badge="disabled"] {{ color: {c.danger}; font-weight: 600; }}
QFrame#PageErrorPanel {{ background: {c.danger_soft}; border: 1px solid {c.danger}; border-radius: 10px; }}
QFrame#PageErrorPanel QLabel {{ background: transparent; }}
QPushButton#DisabledModulesButton {{ color: {c.warning}; border: none; padding: 2px 8px; font-weight: 600; }}
QPushButton#DisabledModulesButton:hover {{ text-decoration: underline; }}
QLabel#JobNotice {{ color: {c.danger}; font-weight: 600; padding: 0 6px; }}
QLabel#ModuleName {{ font-weight: 600; }}
QPushButton[primary="true"] {{ background: {c.accent}; color: {c.on_accent}; border: 1px solid {c.accent};
    border-radius: 6px; padding: 5px 14px; font-weight: 600; }}
QPushButton[primary="true"]:hover {{ background: {hover}; border-color: {hover}; }}
QPushButton[primary="true"]:pressed {{ background: {pressed}; border-color: {pressed}; }}
QListWidget#PreferencesPages {{ background: {c.base}; border: 1px solid {c.border}; border-radius: 8px;
    padding: 6px; outline: 0; }}
QListWidget#PreferencesPages::item {{ padding: 6px 10px; border-radius: 6px; color: {c.text}; }}
QListWidget#PreferencesPages::item:selected {{ background: {c.accent_soft}; color: {c.accent}; }}
QDialogButtonBox {{ dialogbuttonbox-buttons-have-icons: 0; }}
QStatusBar {{ border-top: 1px solid {c.border}; }}
QStatusBar::item {{ border: none; }}
"""
