"""The local control plane's memory: one SQLite file shared by every process on the machine.

In AWS, the SageMaker service remembers pipelines, executions, jobs and the model
registry.  Offline, the kit keeps the same records here, so a notebook started in a
new kernel (or another terminal) sees what an earlier one created.

SQLite gives us atomic, concurrent-safe writes across processes (WAL journal, and
``BEGIN IMMEDIATE`` for read-modify-write), so two executions started at once from
two processes are both recorded and neither is corrupted.
"""

import contextlib
import errno
import json
import os
import sqlite3
import threading
import time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    arn     TEXT NOT NULL,
    parent  TEXT,
    created REAL NOT NULL,
    doc     TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX IF NOT EXISTS resources_parent ON resources (kind, parent);
CREATE INDEX IF NOT EXISTS resources_arn ON resources (arn);
CREATE TABLE IF NOT EXISTS log_events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    grp     TEXT NOT NULL,
    stream  TEXT NOT NULL,
    ts      INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_stream ON log_events (grp, stream, seq);
"""


class Store:
    """Typed JSON documents keyed by (kind, name), plus CloudWatch-style log events."""

    def __init__(self, path):
        self.path = str(path)
        self._lock = threading.RLock()
        self._identity = None
        try:
            self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 60000")
            with contextlib.suppress(sqlite3.OperationalError):
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA case_sensitive_like = ON")  # log stream prefixes are case-sensitive in AWS
        except sqlite3.Error as exc:
            raise fault(self.path, exc) from None
        self._identity = _identity(self.path)
        with self.transaction():
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                self._conn.execute(statement)

    @contextlib.contextmanager
    def _use(self):
        """The connection, under the lock: StoreFault (one line, with the fix) if the file went or SQLite fails."""
        with self._lock:
            if self._identity is not None and _identity(self.path) != self._identity:
                raise StoreFault(f"the control-plane database {self.path} was deleted or replaced while the kit was "
                                 "using it, so what this run recorded is lost. Run again (a new database is "
                                 "created); do not delete or move LAB_HOME while a run is going.")
            try:
                yield
            except sqlite3.Error as exc:
                raise fault(self.path, exc) from None

    def close(self):
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self):
        """An exclusive write transaction (other processes wait, up to a minute)."""
        with self._use():
            if self._conn.in_transaction:  # nested: join the outer one
                yield self
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- documents -------------------------------------------------------------------
    def put(self, kind, name, arn, doc, parent=None, created=None):
        """Store ``doc`` as (kind, name), keeping the creation time of a record it replaces."""
        with self._use():
            row = self._conn.execute(
                "SELECT created FROM resources WHERE kind=? AND name=?", (kind, name)
            ).fetchone()
            created = row[0] if row else (created if created is not None else time.time())
            self._conn.execute(
                "INSERT OR REPLACE INTO resources (kind, name, arn, parent, created, doc) VALUES (?,?,?,?,?,?)",
                (kind, name, arn, parent, created, json.dumps(doc, default=str)),
            )

    def get(self, kind, name):
        """The document (kind, name), or None."""
        with self._use():
            row = self._conn.execute(
                "SELECT doc FROM resources WHERE kind=? AND name=?", (kind, name)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def get_by_arn(self, kind, arn):
        """The document of ``kind`` with ``arn``, or None."""
        with self._use():
            row = self._conn.execute(
                "SELECT doc FROM resources WHERE kind=? AND arn=?", (kind, arn)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def find_arn(self, arn, kinds):
        """``(kind, name)`` of the record with ``arn`` among ``kinds``, or None."""
        for kind in kinds:
            with self._use():
                row = self._conn.execute("SELECT name FROM resources WHERE kind=? AND arn=?", (kind, arn)).fetchone()
            if row:
                return kind, row[0]
        return None

    def list(self, kind, parent=None):
        """Documents of a kind (optionally under one parent), oldest first."""
        query = "SELECT doc FROM resources WHERE kind=?"
        args = [kind]
        if parent is not None:
            query += " AND parent=?"
            args.append(parent)
        query += " ORDER BY created, rowid"
        with self._use():
            rows = self._conn.execute(query, args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete(self, kind, name):
        """Delete (kind, name); True if it existed."""
        with self._use():
            cur = self._conn.execute("DELETE FROM resources WHERE kind=? AND name=?", (kind, name))
        return cur.rowcount > 0

    def delete_children(self, kind, parent):
        """Delete every document of ``kind`` under ``parent``."""
        with self._use():
            self._conn.execute("DELETE FROM resources WHERE kind=? AND parent=?", (kind, parent))

    def update(self, kind, name, change):
        """Atomically apply ``change(doc) -> doc`` to a stored document; returns the new doc (or None)."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT arn, parent, doc FROM resources WHERE kind=? AND name=?", (kind, name)
            ).fetchone()
            if row is None:
                return None
            doc = change(json.loads(row[2]))
            self._conn.execute(
                "UPDATE resources SET doc=? WHERE kind=? AND name=?",
                (json.dumps(doc, default=str), kind, name),
            )
            return doc

    # -- logs ------------------------------------------------------------------------
    def append_log(self, group, stream, message, ts_ms=None):
        """Append one log event to (group, stream)."""
        with self._use():
            self._conn.execute(
                "INSERT INTO log_events (grp, stream, ts, message) VALUES (?,?,?,?)",
                (group, stream, int(ts_ms if ts_ms is not None else time.time() * 1000), message),
            )

    def log_streams(self, group, prefix=""):
        """The streams of ``group`` starting with ``prefix``, in creation order, with first/last times."""
        with self._use():
            rows = self._conn.execute(
                "SELECT stream, MIN(ts), MAX(ts), MIN(seq) FROM log_events WHERE grp=? AND stream LIKE ? ESCAPE '\\' "
                "GROUP BY stream ORDER BY MIN(seq)",
                (group, _like_prefix(prefix)),
            ).fetchall()
        return [{"stream": r[0], "first": r[1], "last": r[2]} for r in rows]

    def log_events(self, group, stream, after_seq=0, limit=10000):
        """Up to ``limit`` events of a stream after sequence number ``after_seq``."""
        with self._use():
            rows = self._conn.execute(
                "SELECT seq, ts, message FROM log_events WHERE grp=? AND stream=? AND seq>? ORDER BY seq LIMIT ?",
                (group, stream, after_seq, limit),
            ).fetchall()
        return [{"seq": r[0], "ts": r[1], "message": r[2]} for r in rows]


class StoreFault(Exception):
    """The control plane's database cannot be used; the message is one line that says why and what to do."""


def _identity(path):
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def fault(path, exc):
    """The StoreFault for an SQLite error on the database at ``path``: corrupt, read-only, full disk, or other."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in lowered or "malformed" in lowered):
        return StoreFault(f"the control-plane database {path} is corrupt ({text}). Move it aside "
                          f"(mv '{path}' '{path}.corrupt') and run again: local mode starts with an empty control "
                          "plane (pipelines, executions and jobs are forgotten; LAB_HOME/s3 is kept).")
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered or "access permission" in lowered:
        return StoreFault(f"the control-plane database {path} cannot be written ({text}): LAB_HOME is read-only or "
                          "not yours. Make it writable, or set LAB_HOME to a folder you can write "
                          "(export LAB_HOME=$HOME/.sagemaker-lab).")
    if "full" in lowered or "disk i/o" in lowered:
        return StoreFault(f"the control-plane database {path} could not be written ({text}): the disk is full or "
                          "failing. Free some space and run again; nothing half-written was kept (SQLite rolls "
                          "back an interrupted write).")
    return StoreFault(f"the control-plane database {path} failed: {type(exc).__name__}: {text}.")


def disk_problem(exc):
    """One line for an OSError a full disk or a read-only/unwritable LAB_HOME causes, or None for another."""
    if not isinstance(exc, OSError):
        return None
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"the disk is full{where}: free some space and run again."
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write{where}: {exc.strerror}. Make LAB_HOME writable, or set LAB_HOME to a folder you can "
                "write (export LAB_HOME=$HOME/.sagemaker-lab).")
    return None


def _like_prefix(prefix):
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
