"""A private Dovecot IMAP server on 127.0.0.1 for the bounce tests (Debian's dovecot-imapd), run from its own
config file in a temp folder: maildir in that folder, one test user, plain text on one port and implicit TLS
(a self-signed certificate made here) on another. Works as root (CI) and as a normal user."""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER = "bounces@example.org"
PASSWORD = "imap-test-password"
# Dovecot 2.3's capabilities after login, less MOVE (and UIDPLUS): to test the COPY fallback.
_BASE_CAPABILITIES = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
                      "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
                      "NAMESPACE LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN "
                      "CONTEXT=SEARCH LIST-STATUS BINARY SPECIAL-USE")


@dataclass(frozen=True)
class ImapServer:
    port: int  # plain text (and STARTTLS)
    tls_port: int  # implicit TLS
    cert_file: Path
    folder: Path
    user: str = USER
    password: str = PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def _users() -> tuple[str, str, str]:
    """(login user, internal user, group): Dovecot refuses to run its unprivileged parts as root."""
    if os.getuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        return me, me, grp.getgrgid(os.getgid()).gr_name

    def exists(name: str) -> bool:
        try:
            pwd.getpwnam(name)
        except KeyError:
            return False
        return True

    login = "dovenull" if exists("dovenull") else "nobody"
    internal = "dovecot" if exists("dovecot") else "nobody"
    try:
        group = grp.getgrnam(internal).gr_name
    except KeyError:
        group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
    return login, internal, group


def _mail_owner() -> tuple[int, int]:
    """Dovecot never stores mail as root: as root the mail belongs to ``nobody``."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _config(folder: Path, mail: Path, port: int, tls_port: int, cert: Path, key: Path, *, move: bool,
            uidplus: bool) -> str:
    login, internal, group = _users()
    uid, gid = _mail_owner()
    capabilities = ""
    if not move:
        capabilities = f'imap_capability = "{_BASE_CAPABILITIES}{" UIDPLUS" if uidplus else ""}"\n'
    chroot = "" if os.getuid() == 0 else "  chroot =\n"
    return f"""# A private test instance (tests/integration/delivery/imap_server.py).
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {group}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = 0
mail_location = maildir:{mail}/%u
mail_uid = {uid}
mail_gid = {gid}
{capabilities}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {mail}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = .
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
{chroot}}}
service anvil {{
{chroot}}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@contextlib.contextmanager
def private_dovecot(folder: Path, *, move: bool = True, uidplus: bool = True) -> Iterator[ImapServer]:
    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(dovecot).exists():
        raise RuntimeError("Dovecot is not installed: apt-get install dovecot-imapd (it is in .ci/run)")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state"):
        (folder / sub).mkdir(exist_ok=True)
    # The mail folder must be reachable by its owner and by Dovecot's auth process: as root (nobody owns the
    # mail) a temp folder is made outside pytest's private (0700) one.
    uid, gid = _mail_owner()
    mail = Path(tempfile.mkdtemp(prefix="postroom-imap-")) if os.getuid() == 0 else folder / "mail"
    mail.mkdir(exist_ok=True)
    if os.getuid() == 0:
        mail.chmod(0o755)
        os.chown(mail, uid, gid)
    cert, key = _self_signed(folder)
    # Dovecot's auth process (an unprivileged user) reads the users file: it sits beside the mail.
    (mail / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="ascii")
    (mail / "passwd").chmod(0o644)
    port, tls_port = _free_port(), _free_port()
    conf = folder / "dovecot.conf"
    conf.write_text(_config(folder, mail, port, tls_port, cert, key, move=move, uidplus=uidplus),
                    encoding="ascii")
    process = subprocess.Popen([dovecot, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    break
            if process.poll() is not None or time.monotonic() > end:
                log = (folder / "dovecot.log").read_text() if (folder / "dovecot.log").exists() else ""
                output = process.stdout.read().decode() if process.stdout and process.poll() is not None else ""
                raise RuntimeError(f"Dovecot did not start: {output}\n{log}")
            time.sleep(0.05)
        yield ImapServer(port=port, tls_port=tls_port, cert_file=cert, folder=mail)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if mail != folder / "mail":
            shutil.rmtree(mail, ignore_errors=True)
