"""A per-process write-ahead journal of usage: what the recorder holds in memory survives a crash.

The recorder writes the ledger in batches, so at any moment a worker holds finished requests that
are not in the database yet.  Each of them is also appended, as it finishes, to a journal file of
its worker.  Requests of keys without a quota also get a line when they start (keys with a quota
have their reservation row instead), so a request in flight at a crash is found at the next start
and recorded as interrupted.

A line is copied into a shared memory map of the segment file (``MAP_SHARED``: the bytes are in the
kernel's page cache the moment they are copied, so the kernel keeps them when the process dies, as
it would keep an ``os.write``'s; ``fsync_interval`` bounds what a crash of the whole machine may
lose).  A copy is no system call and does not let go of the GIL, where an ``os.write`` per line did
both (and the thread waiting for the GIL, the usage writer's, then took the core from the requests).
Segments are allocated ahead (``posix_fallocate``: a full disk is an error at allocation, never a
``SIGBUS`` at the copy) and grown by doubling; a segment that cannot be allocated is written with
``os.write`` instead.  The next segment is made ahead in a thread (``prepare``: file, allocation,
mapping, its pages faulted in) and committed segments are deleted in a thread too, so the event loop
only copies lines.  The mapped part past the last line is zeros until written (a segment kept at
``close`` is cut to its lines), so a reader skips NUL bytes; files written line by line (older
versions) read the same.

Files in the journal folder, per process: ``usage-<database>-<pid>-<tag>.lock``, held with ``flock`` for
as long as the process lives, and segments ``usage-<database>-<pid>-<tag>.<n>.jnl``.  When the recorder takes its
buffer to write it, it ``seal``s the current segment and appends to a new one (which starts with the
start lines of the requests still in flight); once the batch is committed, the sealed segments are
deleted.  A segment whose records were dropped from memory (buffer full) is ``retain``ed: kept until
the next start.  ``dead_journals`` finds the folders' journals whose lock no live process holds; the
replay (``usage/replay.py``) writes what they hold and removes them.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import hashlib
import logging
import mmap
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

import msgspec
from sqlalchemy.engine import make_url

from omnirouter.config import GatewayConfig
from omnirouter.storage.database import sqlite_path
from omnirouter.storage.url import normalize_database_url
from omnirouter.usage.record import UsageRecord

__all__ = ["DeadJournal", "Finished", "Started", "UsageJournal", "dead_journals", "journal_dir"]

log = logging.getLogger(__name__)

_SUFFIX = ".jnl"


class Started(msgspec.Struct, tag="s", array_like=True):
    """A request of a key without a quota began (its finish line may never come)."""

    request_id: str
    created_at: float
    model: str
    inbound_protocol: str
    key_id: int | None
    key_name: str | None
    user_id: int | None


class Finished(msgspec.Struct, tag="f", array_like=True):
    """A finished request's usage record, and whether it settles a reservation."""

    record: UsageRecord
    reserved: bool


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Started | Finished)


def journal_dir(config: GatewayConfig) -> Path | None:
    """Where ``config``'s workers keep their journals (``None``: journaling off).

    ``usage_journal_dir`` when set; else beside a SQLite file (``<file>.usage-journal``: not
    ``<file>-journal``, which is SQLite's own rollback journal), else ``omnirouter-journal`` in the
    working directory.
    """
    if not config.usage_journal:
        return None
    if config.usage_journal_dir:
        return Path(config.usage_journal_dir)
    url = make_url(normalize_database_url(config.database_url))
    path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    if path is not None:
        return path.with_name(path.name + ".usage-journal")
    return Path("omnirouter-journal")


def _journal_prefix(database_url: str) -> str:
    """``usage-<database tag>-``: journals name their database, so a folder shared by several
    deployments (or test runs) never replays one's records into another's ledger."""
    url = make_url(normalize_database_url(database_url)).render_as_string(hide_password=True)
    return f"usage-{hashlib.sha256(url.encode()).hexdigest()[:12]}-"


_MAP_SIZE = 1 << 20
"""The first segment's allocation (bytes); a segment doubles when full."""
_SPARE_MIN, _SPARE_MAX = 1 << 16, 1 << 23
"""Bounds of a prepared segment's allocation: twice what the last sealed one held."""
_MADV_POPULATE_WRITE = 23  # Linux >= 5.14; not in the mmap module of Python 3.11


def _libc_madvise() -> Callable[[int, int, int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return cast(Callable[[int, int, int], int], function)


_MADVISE = _libc_madvise()
"""libc's madvise through ctypes, which lets go of the GIL (``mmap.madvise`` holds it: a populate of a few
MiB would stop the event loop for milliseconds)."""


def _populate(mapped: mmap.mmap, size: int) -> None:
    """Fault in the pages of ``mapped`` for writing (best effort: they fault one by one later otherwise)."""
    if _MADVISE is None:
        return
    try:
        anchor = ctypes.c_char.from_buffer(mapped)
    except (TypeError, ValueError):
        return
    address = ctypes.addressof(anchor)
    del anchor  # a live export would keep the map from closing
    _MADVISE(address, size, _MADV_POPULATE_WRITE)


_unmapped = [0]  # segments that could not be mapped (written with os.write), for the log


class _Segment:
    """One segment file: lines are copied into its shared memory map (``os.write`` if it cannot be allocated)."""

    __slots__ = ("fd", "map", "path", "size", "used")

    def __init__(self, path: Path, size: int = _MAP_SIZE, populate: bool = False) -> None:
        self.path = path
        self.fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_APPEND, 0o600)
        self.used = 0
        self.size = 0
        self.map: mmap.mmap | None = None
        try:
            os.posix_fallocate(self.fd, 0, size)
            mapped = mmap.mmap(self.fd, size)
        except (OSError, AttributeError) as exc:  # AttributeError: no posix_fallocate (macOS)
            _unmapped[0] += 1
            if _unmapped[0] == 1 or _unmapped[0] % 1000 == 0:
                log.warning("usage journal %s: cannot map it (%d so far), writing lines: %s", path, _unmapped[0], exc)
            os.ftruncate(self.fd, 0)
            return
        self.map, self.size = mapped, size
        if populate:  # fault its pages in now (off the event loop), not one by one as lines arrive
            _populate(mapped, size)

    def append(self, line: bytes) -> None:
        """Add ``line`` (raises ``OSError`` when it cannot: disk full, ...)."""
        mapped = self.map
        if mapped is None:
            while line:
                line = line[os.write(self.fd, line) :]
            return
        end = self.used + len(line)
        if end > self.size:
            size = max(2 * self.size, end)
            os.posix_fallocate(self.fd, self.size, size - self.size)
            mapped.resize(size)
            self.size = size
        mapped[self.used : end] = line
        self.used = end

    def sync(self) -> None:
        """Its lines to the disk."""
        os.fdatasync(self.fd)

    def cut(self) -> None:
        """No more lines: unmap it and cut the file to its lines (unless something else wrote past them)."""
        if self.map is not None:
            self.map.close()
            self.map = None
            if os.fstat(self.fd).st_size == self.size:
                os.ftruncate(self.fd, self.used)

    def close(self) -> None:
        """Unmap and close it (the file stays)."""
        if self.map is not None:
            self.map.close()
            self.map = None
        os.close(self.fd)


class UsageJournal:
    """This process's journal (see the module docs); every method but ``sync`` runs on the event loop."""

    def __init__(self, directory: Path, database_url: str, fsync_interval: float = 1.0) -> None:
        self.directory = directory
        self.fsync_interval = fsync_interval
        self._prefix = f"{_journal_prefix(database_url)}{os.getpid()}-{secrets.token_hex(4)}"
        self._lock_fd: int | None = None
        self._current: _Segment | None = None
        self._sealed: list[_Segment] = []
        self._retained: list[_Segment] = []
        self._retain_current = False
        self._sequence = 0
        self._spare: _Segment | None = None  # the next segment, made ahead by ``prepare``
        self._last_used = _MAP_SIZE // 2
        self._in_flight: dict[str, bytes] = {}  # request id -> its start line, carried into each new segment
        self._dirty = False
        self._fds = threading.Lock()  # ``sync`` (another thread) against closing descriptors
        self.failures = 0
        """Lines that could not be written (disk full, ...): those requests live in memory only."""

    @property
    def is_open(self) -> bool:
        """Between ``open`` and ``close``."""
        return self._lock_fd is not None

    def open(self) -> None:
        """Create the folder, take this process's lock and open the first segment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / f"{self._prefix}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock_fd = fd
        self._current = self._new_segment()

    def _next_path(self) -> Path:
        self._sequence += 1
        return self.directory / f"{self._prefix}.{self._sequence:08d}{_SUFFIX}"

    def _new_segment(self) -> _Segment:
        return _Segment(self._next_path())

    async def prepare(self) -> None:
        """Make the next segment ahead, in a thread (file, allocation, mapping and its pages), so that
        ``seal`` only swaps it in; sized to twice what the last sealed segment held."""
        if self._spare is not None or not self.is_open:
            return
        size = min(max(2 * self._last_used, _SPARE_MIN), _SPARE_MAX)
        size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
        spare = await asyncio.to_thread(_Segment, self._next_path(), size, True)
        if self.is_open:
            self._spare = spare
        else:
            spare.close()
            spare.path.unlink(missing_ok=True)

    def _write(self, line: bytes) -> None:
        segment = self._current
        if segment is None:
            return
        try:
            segment.append(line)
        except OSError as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 1000 == 0:
                log.warning(
                    "usage journal %s: cannot write (%d lines lost so far): %s", segment.path, self.failures, exc
                )
            return
        self._dirty = True

    def started(self, entry: Started) -> None:
        """Note a request of a key without a quota starting."""
        line = _ENCODER.encode(entry) + b"\n"
        self._in_flight[entry.request_id] = line
        self._write(line)

    def finished(self, record: UsageRecord, reserved: bool) -> None:
        """Note a finished request's record (the recorder holds it until its batch commits)."""
        self._in_flight.pop(record.request_id, None)
        try:
            line = _ENCODER.encode(Finished(record, reserved)) + b"\n"
        except (UnicodeEncodeError, OverflowError, TypeError) as exc:  # text no UTF-8 encoder takes
            self.failures += 1
            log.warning("usage journal: cannot encode record %s: %s", record.request_id, exc)
            return
        self._write(line)

    def retain(self) -> None:
        """Keep the current segment until the next start: it holds records the recorder dropped."""
        self._retain_current = True

    def seal(self) -> None:
        """Start a new segment (the recorder took its buffer); the old one waits for ``release_sealed``."""
        old = self._current
        if old is None:
            return
        spare, self._spare = self._spare, None
        with self._fds:
            self._current = spare if spare is not None else self._new_segment()
        self._last_used = old.used
        (self._retained if self._retain_current else self._sealed).append(old)
        self._retain_current = False
        for line in self._in_flight.values():
            self._write(line)

    def release_sealed(self) -> None:
        """Everything in the sealed segments is committed: delete them."""
        self.remove(self.take_sealed())

    def take_sealed(self) -> list[_Segment]:
        """The sealed segments (all committed), no longer this journal's: ``remove`` them, in any thread."""
        sealed, self._sealed = self._sealed, []
        return sealed

    def remove(self, segments: list[_Segment]) -> None:
        """Unmap, close and delete ``segments`` (from ``take_sealed``; safe in a worker thread)."""
        for segment in segments:
            self._remove(segment)

    def _remove(self, segment: _Segment) -> None:
        with self._fds:
            segment.close()
        segment.path.unlink(missing_ok=True)

    def sync(self) -> None:
        """``fdatasync`` the segments written since the last call (from a worker thread)."""
        if not self._dirty:
            return
        self._dirty = False
        with self._fds:
            for segment in (*self._sealed, *self._retained, *((self._current,) if self._current else ())):
                segment.sync()

    def close(self, *, committed: bool) -> None:
        """Stop journaling.  ``committed``: every record was written, so nothing needs replaying.

        Kept for the next start otherwise, and also when segments were retained or requests are still
        in flight (they will be recorded as interrupted).
        """
        current, self._current = self._current, None
        spare, self._spare = self._spare, None
        if spare is not None:
            self._remove(spare)
        if current is not None:
            (self._retained if self._retain_current or self._in_flight else self._sealed).append(current)
        if committed:
            self.release_sealed()
        keep = [*self._sealed, *self._retained]
        with self._fds:
            for segment in keep:
                segment.cut()
                os.fsync(segment.fd)
                segment.close()
        self._sealed, self._retained = [], []
        if self._lock_fd is not None:
            if not keep:
                (self.directory / f"{self._prefix}.lock").unlink(missing_ok=True)
            os.close(self._lock_fd)  # releases the lock: the files left are a dead journal now
            self._lock_fd = None
        if keep:
            log.warning("usage journal: %d segment(s) kept in %s for the next start", len(keep), self.directory)


class DeadJournal:
    """The journal of a process that is gone, locked by us until ``remove`` or ``release``."""

    def __init__(self, lock_path: Path, lock_fd: int) -> None:
        self.lock_path = lock_path
        self._lock_fd: int | None = lock_fd
        prefix = lock_path.name[: -len(".lock")]
        self.segments = sorted(lock_path.parent.glob(f"{prefix}.*{_SUFFIX}"))

    def read(self) -> tuple[list[Finished], list[Started]]:
        """Its finished records (in order, each request once) and the starts that never finished.

        A line cut short by the crash, or otherwise unreadable, is skipped, and so are NUL bytes (a mapped
        segment's unwritten tail).
        """
        finished: dict[str, Finished] = {}
        started: dict[str, Started] = {}
        for path in self.segments:
            for line in path.read_bytes().splitlines():
                if not line or line[0] == 0:  # the unwritten (zero) tail of a mapped segment
                    line = line.strip(b"\0")
                    if not line:
                        continue
                try:
                    entry = _DECODER.decode(line)
                except msgspec.DecodeError:
                    continue
                if isinstance(entry, Finished):
                    finished.setdefault(entry.record.request_id, entry)
                else:
                    started.setdefault(entry.request_id, entry)
        return list(finished.values()), [s for rid, s in started.items() if rid not in finished]

    def remove(self) -> None:
        """Everything is written: delete the segments and the lock file, then let go of the lock."""
        for path in self.segments:
            path.unlink(missing_ok=True)
        self.lock_path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Let go of the lock, leaving the files (to be tried again at a later start)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def dead_journals(directory: Path, database_url: str) -> list[DeadJournal]:
    """The journals of ``database_url`` in ``directory`` whose process is gone, each locked for the caller."""
    found: list[DeadJournal] = []
    if not directory.is_dir():
        return found
    for lock_path in sorted(directory.glob(f"{_journal_prefix(database_url)}*.lock")):
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(lock_path).st_ino:  # replayed and removed meanwhile
                raise FileNotFoundError(lock_path)
        except OSError:  # alive (locked), or gone
            os.close(fd)
            continue
        found.append(DeadJournal(lock_path, fd))
    return found
