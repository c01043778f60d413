"""Where evidence bytes live: a small content-addressed storage interface.

Callers only ever name content by its SHA-256: `put(data) -> sha256`, `open(sha256)`,
`exists(sha256)`, and for uploads a staged `writer()` that streams chunks, hashes them on
the way and is either committed (stored under its hash) or discarded (nothing left). The
same bytes are stored once, however often they are uploaded.

`LocalStorage` keeps files under `DESK_DATA_DIR` as `ab/cd/<sha256>`, written to a temporary
file in the same file system, fsynced, then renamed into place, so a reader never sees half a
file and a crash leaves at most a stray temporary file. Another backend (an S3-compatible
bucket) implements the same four methods and is chosen by `DESK_EVIDENCE_STORAGE`; no caller
changes.
"""
import hashlib
import os
import re
import tempfile

from flask import current_app

CHUNK = 1024 * 1024
_SHA256 = re.compile(r'^[0-9a-f]{64}$')


def is_sha256(value):
    return isinstance(value, str) and bool(_SHA256.match(value))


class LocalWriter:
    """A staged upload: `write` chunks, then `commit()` -> sha256, or `discard()`."""

    def __init__(self, storage):
        self._storage = storage
        os.makedirs(storage.tmp_dir, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=storage.tmp_dir, prefix='up-')
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
        final = self.path(digest)
        if os.path.exists(final):
            os.unlink(tmp)  # same bytes already stored: keep one copy
            return
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(tmp, final)  # atomic in one file system; a concurrent twin just overwrites
        _fsync_dir(os.path.dirname(final))


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
