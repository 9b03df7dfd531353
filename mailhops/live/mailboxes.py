"""The Maildirs of a live topology: where each user's mailbox lives, and storing into it safely.

Every mailbox server delivers into ``<directory>/mail/<mailbox server>/<address>`` (a :class:`mailbox.Maildir`
whose Junk folder is the ``.Junk`` sub-folder, as Dovecot lays it out); an archive server keeps its copies
in ``<directory>/archive/<server>``.

>>> from pathlib import Path
>>> from mailhops.scenarios import get
>>> maildir_path(get("three-hops").build(), Path("/srv/live"), "bob@example.net").as_posix()
'/srv/live/mail/imap.example.net/bob@example.net'
"""

from __future__ import annotations

import mailbox
import threading
from pathlib import Path

from ..errors import LiveError
from ..topology import Topology, check_address


def maildir_path(topology: Topology, directory: Path | None, address: str) -> Path:
    """Where the mailbox of ``address`` lives under ``directory``; :class:`LiveError` if it has none."""
    address = check_address(address)
    user = topology.users.get(address)
    if user is None or user.mailbox is None or directory is None:
        raise LiveError(f"{address} has no mailbox in this live topology.")
    return directory / "mail" / user.mailbox / address


def open_maildir(path: Path, folder: str | None = None) -> mailbox.Maildir:
    """The Maildir at ``path`` (made if missing), or its ``folder`` (``"Junk"``); ``None`` or ``"INBOX"`` is the Maildir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(path, create=True)
    if folder is None or folder == "INBOX":
        return box
    return box.add_folder(folder) if folder not in box.list_folders() else box.get_folder(folder)


class Mailboxes:
    """The Maildirs under ``directory``, written by many server threads at once (one lock per Maildir).

    ``temporary`` says the directory is removed when the servers stop (so outcomes do not name paths in it).
    """

    def __init__(self, topology: Topology, directory: Path, *, temporary: bool) -> None:
        self.topology = topology
        self.directory = directory
        self.temporary = temporary
        self._locks: dict[str, threading.Lock] = {}

    def path(self, address: str) -> Path:
        return maildir_path(self.topology, self.directory, address)

    def store(self, path: Path | None, message: bytes, folder: str | None) -> None:
        """Add ``message`` (CRLF line ends, as it travelled) to the Maildir at ``path``, in ``folder`` if given."""
        if path is None:
            return
        lock = self._locks.setdefault(str(path), threading.Lock())
        with lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(path, create=True)
            if folder is not None:
                box = box.add_folder(folder) if folder not in box.list_folders() else box.get_folder(folder)
            box.add(message.replace(b"\r\n", b"\n"))

    def archive(self, server_name: str, message: bytes) -> None:
        """Keep the copy an archive server makes."""
        self.store(self.directory / "archive" / server_name if self.directory else None, message, None)
