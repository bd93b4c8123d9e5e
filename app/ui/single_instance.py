"""One window per data folder: a second launch asks the first to come forward, then exits."""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

ACTIVATE = b"activate\n"
CONNECT_TIMEOUT_MS = 500


def instance_key(data_dir: Path) -> str:
    """A short socket name for this user and data folder (the same folder in two accounts must not clash)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    digest = hashlib.sha256(f"{user}\0{data_dir.expanduser().resolve()}".encode()).hexdigest()
    return f"postroom-{digest[:20]}"


class SingleInstance(QObject):
    """Call :meth:`start`: True means this process is the first and now listens; False means another runs.

    ``activation_requested`` fires in the first process each time a later launch knocks.
    """

    activation_requested = Signal()

    def __init__(self, key: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.server: QLocalServer | None = None
        self.is_primary = False
        self._clients: list[QLocalSocket] = []

    @property
    def is_secondary(self) -> bool:
        return not self.is_primary

    def start(self) -> bool:
        if self._notify_running_instance():
            self.is_primary = False
            return False
        self.is_primary = self._listen()
        return self.is_primary

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server.deleteLater()
            self.server = None
        for client in self._clients:
            client.abort()
            client.deleteLater()
        self._clients.clear()

    # -- second process -----------------------------------------------------------------------------

    def _notify_running_instance(self) -> bool:
        socket = QLocalSocket()
        try:
            socket.connectToServer(self.key)
            if socket.state() != QLocalSocket.LocalSocketState.ConnectedState \
                    and not socket.waitForConnected(CONNECT_TIMEOUT_MS):
                return False
            socket.write(ACTIVATE)
            socket.flush()
            socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
            socket.disconnectFromServer()
            if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
                socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
            return True
        finally:
            socket.abort()

    # -- first process ------------------------------------------------------------------------------

    def _listen(self) -> bool:
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            if server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
                # Nobody answered above, so the socket file is left over from a crash: clear it and retry.
                QLocalServer.removeServer(self.key)
                ok = server.listen(self.key)
            else:
                ok = False
            if not ok:
                # Without the guard the app still works; two windows on one folder is the lesser harm.
                log.warning("single-instance guard unavailable: %s", server.errorString())
                server.deleteLater()
                return True
        server.newConnection.connect(self._accept)
        self.server = server
        return True

    def _accept(self) -> None:
        server = self.server
        while server is not None and server.hasPendingConnections():
            client = server.nextPendingConnection()
            self._clients.append(client)
            client.readyRead.connect(lambda c=client: self._read(c))
            client.disconnected.connect(lambda c=client: self._drop(c))
            if client.bytesAvailable():
                self._read(client)

    def _read(self, client: QLocalSocket) -> None:
        data = bytes(client.readAll().data())
        if b"activate" in data:
            self.activation_requested.emit()

    def _drop(self, client: QLocalSocket) -> None:
        if client.bytesAvailable():
            self._read(client)  # a quick client may hang up before readyRead was handled
        if client in self._clients:
            self._clients.remove(client)
            client.deleteLater()
