"""The orphan sweep: delete evidence files that no row refers to.

An upload stores its bytes before the transaction that writes its `Blob` row commits (the
row must never point at bytes that are not there). When that transaction fails, the file
stays behind with nothing referring to it; the request cannot delete it, because a
concurrent upload of the same bytes may be about to reference the very same file. This
sweep removes such files, and temporary upload files a crashed process left, once they are
older than a grace period (`DESK_ORPHAN_GRACE_SECONDS`, a day by default).

What counts as referenced is a `Blob` row: every stored object has one once its upload
committed — evidence items, files of filings and of penalty appeals, and thumbnails, which
are separate objects whose row `make_thumbnail` inserts before pointing
`Blob.thumbnail_sha256` at it. So one primary-key lookup decides for every kind of file.

It lives beside `storage.py` rather than in it because it joins the storage with the
database, which the bytes layer knows nothing about.
"""
import datetime as dt
import functools
import itertools
import logging
from typing import NamedTuple

from flask import current_app

from arbitration.storage import get_storage
from desk.cases.models import Blob
from desk.core import clock
from desk.core.db import among

log = logging.getLogger(__name__)

#: Objects whose references are looked up with one query.
BATCH = 1000


class Purged(NamedTuple):
    files: int       # deleted (or, in a dry run, to be deleted), temporary files included
    bytes: int
    temporary: int   # of `files`, leftover temporary upload files


def default_grace():
    return dt.timedelta(seconds=current_app.config['ORPHAN_GRACE_SECONDS'])


def purge_orphans(now=None, grace=None, dry_run=False, storage=None, batch=BATCH):
    """Delete stored files no `Blob` row refers to and temporary upload files, both only when
    last written before `now - grace`; the counts of what was deleted (what would be, with
    `dry_run`, which deletes nothing). Each deletion is logged.

    Memory stays flat: the storage is walked as a stream, and only files already older than
    the grace period are looked up, `batch` at a time (`WHERE sha256 IN (…)`).

    The race guard: a file found unreferenced may be referenced a moment later, by an upload
    of the same bytes. Such an upload always renames its own freshly written copy onto the
    file's name (`LocalStorage._place`) before its transaction can commit, so a file about to
    be referenced is young, and the grace period (a day) is far longer than any upload's
    transaction. Right before the delete the file is set aside with one atomic rename and its
    age and its `Blob` row are checked again (`LocalStorage.remove`): if an upload's copy
    arrived before the rename, the set-aside file is that young copy and goes back; if after
    it, the upload's copy sits at the name and only the old one is deleted. A row committed
    since the batch query also sends the file back. So no upload can slip between the last
    check and the delete. A row lock would not do: there is no row to lock until the upload
    commits, and locking `Blob` would serialise every upload behind the sweep.
    """
    now = now or clock.now()
    if grace is None:
        grace = default_grace()
    elif not isinstance(grace, dt.timedelta):
        grace = dt.timedelta(seconds=grace)
    cutoff = now - grace
    storage = storage or get_storage()
    files = size = temporary = 0
    old = (o for o in storage.objects() if o.modified < cutoff)
    while chunk := list(itertools.islice(old, batch)):
        referenced = _referenced([o.name for o in chunk if not o.temporary])
        for stored in chunk:
            if not stored.temporary and stored.name in referenced:
                continue
            if not dry_run and not storage.remove(stored, cutoff, functools.partial(_in_use, stored.name)):
                continue
            files += 1
            size += stored.size
            temporary += stored.temporary
            log.info('%s %s %s (%d bytes, last written %s)', 'would delete' if dry_run else 'deleted',
                     'temporary file' if stored.temporary else 'orphaned evidence file',
                     stored.name, stored.size, stored.modified.isoformat(sep=' '))
    log.info('orphan sweep%s: %d file(s), %d byte(s), %d of them temporary; grace %s',
             ' (dry run)' if dry_run else '', files, size, temporary, grace)
    return Purged(files, size, temporary)


def _in_use(digest):
    """The re-check right before a delete: has a `Blob` row for `digest` committed since?"""
    return bool(_referenced([digest]))


def _referenced(digests):
    """The subset of `digests` that have a `Blob` row."""
    if not digests:
        return set()
    return {row[0] for row in Blob.select(Blob.sha256).where(among(Blob.sha256, digests)).tuples()}
