"""Files and folders private to their user: the state dir, databases, spools, credentials.

A folder is created 0700 and a file 0600 at creation, whatever the umask: a file is
created empty with its mode before anything is written to it (`os.open` with the mode),
never written first and narrowed after. A folder or file already there that others may
read or write (made by an earlier release, or by hand) is tightened when the platform
opens it, logged (INFO, so a command's one-line answers stay as they are) with its
path and both modes. A folder that others may only search
(0711) is left as it is: they can list nothing in it, and the stack's PostgreSQL server,
run as the `postgres` user when we are root, must reach its data dir through the state
dir (`infra.postgres`). SQLite gives a database's `-wal` and `-shm` files the mode of
the database file, so a database created here keeps them private too.
"""

import logging
import os
import stat
import tempfile
from pathlib import Path

from sangsaeng.errors import ConfigError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # every permission of the group and of others
_OTHERS_READ_WRITE = 0o066  # what makes a folder more than searchable by others
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")

log = logging.getLogger(__name__)


def _tighten(path: Path, *, folder: bool, missing_ok: bool = False) -> None:
    """Take the group's and others' permissions off `path` when they may read or write it.

    `missing_ok`: `path` may vanish while we look (SQLite deletes a `-wal` or `-journal`
    when the last connection closes, in another process): then there is nothing to do."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    if not mode & (_OTHERS_READ_WRITE if folder else _OTHERS):
        return
    wanted = mode & ~_OTHERS
    try:
        path.chmod(wanted)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    except PermissionError:
        log.warning(
            "%s is mode %o, open to other users, and not ours to change: make it %o",
            path,
            mode,
            wanted,
        )
        return
    log.info("%s was mode %o, open to other users: now %o", path, mode, wanted)


def private_dir(path: Path) -> Path:
    """`path` as a folder only its user may enter: the missing folders up to it are
    created 0700, an existing `path` others may list or write is tightened. Returns it."""
    create_missing(path)
    _tighten(path, folder=True)
    return path


def create_missing(path: Path) -> Path:
    """The missing folders up to `path` (itself included) created 0700; those there are
    left as they are (the folder a user keeps a database in, or a state dir they chose,
    is theirs to open to others). Returns `path`."""
    missing: list[Path] = []
    here = path
    while not os.path.lexists(here) and here != here.parent:
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            continue  # made by another process meanwhile: tightened below if it is `path`
        if stat.S_IMODE(folder.stat().st_mode) != PRIVATE_DIR:  # a umask taking the owner's
            folder.chmod(PRIVATE_DIR)  # empty yet: nothing was ever readable
    return path


def private_file(path: Path) -> Path:
    """`path` as a file only its user may read: created empty with mode 0600 when
    missing (a missing folder 0700; one there is left as it is), tightened when others
    may read or write it. Its content is never touched. Returns it.

    A symbolic link to a file is followed (a database kept on another disk); one to
    nothing is refused with `ConfigError`: what opens the file next (SQLite) would create
    the target with the umask's mode, somewhere nobody may have meant."""
    create_missing(path.parent)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:  # O_EXCL: a link, even to nothing, is "there"
        if path.is_symlink() and not path.exists():
            raise ConfigError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist: "
                f"create that file, or remove the link, or point the setting elsewhere"
            ) from None
        _tighten(path, folder=False)
        return path
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE:  # a umask taking the owner's
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return path


def private_sqlite(path: Path) -> Path:
    """A SQLite database file made private before SQLite opens it (`private_file`), so
    the `-wal` and `-shm` files SQLite creates beside it get its mode; those already
    there are tightened too. Returns `path`."""
    private_file(path)
    for suffix in SQLITE_SIBLINGS:
        # No "exists, then tighten": another process's SQLite may delete it in between.
        _tighten(path.with_name(path.name + suffix), folder=False, missing_ok=True)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path` as a file only its user may read (0600 from its creation):
    written to a new temporary file beside it, then renamed over it, so a reader never
    sees half of it and no moment leaves it readable by others. Returns `path`.

    The temporary file is `mkstemp`'s: a name of its own for each writer (threads and
    processes writing the same file at once each rename a whole one; the last wins),
    created 0600 with O_EXCL and O_NOFOLLOW, so never a file or link put there before."""
    create_missing(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), PRIVATE_FILE)  # mkstemp's 0600, less a strange umask
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
