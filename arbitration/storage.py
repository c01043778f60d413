"""Where evidence bytes live: a small content-addressed storage interface.

Callers only ever name content by its SHA-256: `put(data) -> sha256`, `open(sha256)`,
`exists(sha256)`, and for uploads a staged `writer()` that streams chunks, hashes them on
the way and is either committed (stored under its hash) or discarded (nothing left). The
same bytes are stored once, however often they are uploaded. For the orphan sweep
(`arbitration.storage_sweep`) a backend also lists what it holds with each object's age,
`objects()`, and deletes one listed object unless it turned out to be in use, `remove()`.

`LocalStorage` keeps files under `DESK_DATA_DIR` as `ab/cd/<sha256>`, written to a temporary
file in the same file system, fsynced, then renamed into place, so a reader never sees half a
file and a crash leaves at most a stray temporary file. Another backend (an S3-compatible
bucket) implements the same methods and is chosen by `DESK_EVIDENCE_STORAGE`; no caller
changes.
"""
import datetime as dt
import hashlib
import os
import re
import secrets
import tempfile
from typing import NamedTuple

from flask import current_app

CHUNK = 1024 * 1024
_SHA256 = re.compile(r'^[0-9a-f]{64}$')
_HEX2 = re.compile(r'^[0-9a-f]{2}$')
UPLOAD_PREFIX = 'up-'            # tmp/up-…: an upload being written
WITHDRAWN_PREFIX = 'withdrawn-'  # tmp/withdrawn-<sha256>.<random>: a file `remove` is deciding on


def is_sha256(value):
    return isinstance(value, str) and bool(_SHA256.match(value))


class Stored(NamedTuple):
    """One entry of `objects()`: stored content (`name` is its SHA-256), or a leftover
    temporary upload (`temporary`; `name` is the temporary file's name)."""
    name: str
    size: int
    modified: dt.datetime  # naive UTC: when the bytes were last written, or uploaded again
    temporary: bool = False


class LocalWriter:
    """A staged upload: `write` chunks, then `commit()` -> sha256, or `discard()`."""

    def __init__(self, storage):
        self._storage = storage
        os.makedirs(storage.tmp_dir, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=storage.tmp_dir, prefix=UPLOAD_PREFIX)
        self._file = os.fdopen(fd, 'wb')
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk):
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self):
        return self._hash.hexdigest()

    def commit(self):
        """Make the bytes durable under their hash (a no-op copy when already stored)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self.sha256
        self._storage._place(self._tmp, digest)
        self._tmp = None
        return digest

    def discard(self):
        if self._tmp is None:
            return
        if not self._file.closed:
            self._file.close()
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass
        self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()  # after commit() this does nothing


class LocalStorage:
    """Files under `root`, content-addressed as ab/cd/<sha256>."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.tmp_dir = os.path.join(self.root, 'tmp')

    def path(self, sha256):
        if not is_sha256(sha256):
            raise ValueError('not a SHA-256 hex digest')
        return os.path.join(self.root, sha256[:2], sha256[2:4], sha256)

    def exists(self, sha256):
        return is_sha256(sha256) and os.path.exists(self.path(sha256))

    def open(self, sha256):
        """The stored bytes as a binary file object (FileNotFoundError when missing)."""
        return open(self.path(sha256), 'rb')

    def size(self, sha256):
        return os.path.getsize(self.path(sha256))

    def writer(self):
        return LocalWriter(self)

    def put(self, data):
        """Store `data` (bytes); its SHA-256."""
        with self.writer() as writer:
            writer.write(data)
            return writer.commit()

    def _place(self, tmp, digest):
        """Rename the written file into place. When the same bytes are stored already the new
        copy replaces them all the same (atomic in one file system; one copy remains): its
        fresh mtime is what keeps the orphan sweep from deleting a file an upload is about to
        reference (see `remove`)."""
        final = self.path(digest)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(os.path.dirname(final))

    def objects(self):
        """Every stored object, then every temporary upload file, as `Stored` entries.

        Streamed one `ab/cd` directory at a time, so a million files are never listed in
        memory at once. A file a `remove` left set aside when its process died is put back
        first, to be judged again like any other.
        """
        for entry in _files(self.tmp_dir):
            if entry.name.startswith(WITHDRAWN_PREFIX):
                digest = entry.name[len(WITHDRAWN_PREFIX):][:64]
                if is_sha256(digest):
                    self._put_back(entry.path, self.path(digest))
        for first in _dirs(self.root):
            for second in _dirs(first.path):
                for entry in _files(second.path):
                    if is_sha256(entry.name) and entry.name.startswith(first.name + second.name):
                        stored = _stored(entry, entry.name, False)
                        if stored:
                            yield stored
        for entry in _files(self.tmp_dir):
            if entry.name.startswith(UPLOAD_PREFIX):
                stored = _stored(entry, entry.name, True)
                if stored:
                    yield stored

    def remove(self, stored, older_than, in_use=None):
        """Delete `stored` (an entry of `objects()`) unless it was written, or uploaded again,
        at or after `older_than`, or `in_use()` says a row refers to it now; True when deleted.

        Content is first set aside (one atomic rename to tmp/withdrawn-…), then its age and
        `in_use` are read again; if either says keep, it goes back to its place. An upload of
        the same bytes renames its own fresh copy onto the name (`_place`): before the set-aside
        rename, that young copy is what is set aside, and goes back; after it, the upload's
        copy is at the name and only the old one is deleted.
        """
        if stored.temporary:
            if not stored.name.startswith(UPLOAD_PREFIX) or os.sep in stored.name:
                raise ValueError('not a temporary upload')
            path = os.path.join(self.tmp_dir, stored.name)
            try:
                if _modified(os.stat(path)) >= older_than:
                    return False  # the upload is still being written
                os.unlink(path)
            except FileNotFoundError:
                return False
            return True
        final = self.path(stored.name)
        aside = os.path.join(self.tmp_dir, f'{WITHDRAWN_PREFIX}{stored.name}.{secrets.token_hex(4)}')
        os.makedirs(self.tmp_dir, exist_ok=True)
        try:
            os.replace(final, aside)
        except FileNotFoundError:
            return False  # gone already (another sweep)
        try:
            keep = _modified(os.stat(aside)) >= older_than or (in_use is not None and in_use())
        except FileNotFoundError:
            return False  # put back meanwhile by a concurrent listing
        except BaseException:
            self._put_back(aside, final)
            raise
        if keep:
            self._put_back(aside, final)
            return False
        try:
            os.unlink(aside)
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _put_back(aside, final):
        """Return a set-aside file to its place; when an upload has stored the same bytes
        there meanwhile, that copy stays (a hard link never overwrites)."""
        try:
            os.link(aside, final)
        except FileExistsError:
            pass
        except FileNotFoundError:
            return  # put back already (by a concurrent listing)
        try:
            os.unlink(aside)
        except FileNotFoundError:
            pass


def _modified(stat):
    return dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc).replace(tzinfo=None)


def _stored(entry, name, temporary):
    try:
        stat = entry.stat()
    except FileNotFoundError:
        return None  # removed while we were listing
    return Stored(name, stat.st_size, _modified(stat), temporary)


def _scan(path):
    try:
        with os.scandir(path) as entries:
            return sorted(entries, key=lambda e: e.name)
    except FileNotFoundError:
        return []


def _dirs(path):
    return [e for e in _scan(path) if _HEX2.match(e.name) and e.is_dir(follow_symlinks=False)]


def _files(path):
    return (e for e in _scan(path) if e.is_file(follow_symlinks=False))


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


#: DESK_EVIDENCE_STORAGE -> factory(app) building the backend.
BACKENDS = {'local': lambda app: LocalStorage(app.config['DATA_DIR'])}


def get_storage(app=None):
    """The configured backend, built once per app."""
    app = app or current_app._get_current_object()
    storage = app.extensions.get('desk_evidence_storage')
    if storage is None:
        storage = app.extensions['desk_evidence_storage'] = BACKENDS[app.config['EVIDENCE_STORAGE']](app)
    return storage
