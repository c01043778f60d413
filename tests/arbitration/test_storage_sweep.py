"""The orphan sweep (arbitration/storage_sweep.py): files no `Blob` row refers to and stray
temporary uploads are deleted once older than the grace period; referenced files, their
thumbnails and young files stay. Ages are set with os.utime against an explicit `now`."""
import datetime as dt
import hashlib
import io
import logging
import os

import pytest

from arbitration import evidence, storage_sweep
from arbitration.jobs import purge_orphan_files
from arbitration.storage import WITHDRAWN_PREFIX, LocalStorage
from arbitration.storage_sweep import Purged, purge_orphans
from config import load_config
from desk.cases.models import Blob, Evidence
from tests import builders as b
from tests.support import isolated_cli

NOW = dt.datetime(2026, 11, 25, 3, 0, 0)
DAY = dt.timedelta(hours=24)


@pytest.fixture
def store(app, tmp_path, monkeypatch):
    """The app's evidence storage, in a directory of this test's own (the suite's DATA_DIR is
    shared by every test)."""
    storage = LocalStorage(str(tmp_path / 'evidence'))
    monkeypatch.setitem(app.extensions, 'desk_evidence_storage', storage)
    return storage


def set_age(path, age, now=NOW):
    stamp = (now - age).replace(tzinfo=dt.timezone.utc).timestamp()
    os.utime(path, (stamp, stamp))


def stored(store, data, age, now=NOW):
    digest = store.put(data)
    set_age(store.path(digest), age, now)
    return digest


def temporary(store, age, data=b'half an upload', now=NOW):
    writer = store.writer()
    writer.write(data)
    writer._file.close()
    set_age(writer._tmp, age, now)
    return writer._tmp


def test_an_orphan_older_than_the_grace_is_deleted(store, caplog):
    digest = stored(store, b'orphan', DAY + dt.timedelta(seconds=1))
    with caplog.at_level(logging.INFO, logger='arbitration.storage_sweep'):
        assert purge_orphans(NOW, DAY) == Purged(files=1, bytes=6, temporary=0)
    assert not store.exists(digest)
    assert any(digest in r.getMessage() and 'deleted' in r.getMessage() for r in caplog.records)
    assert purge_orphans(NOW, DAY) == Purged(0, 0, 0)


def test_a_young_orphan_is_kept(store):
    digest = stored(store, b'young', DAY - dt.timedelta(seconds=1))
    assert purge_orphans(NOW, DAY) == Purged(0, 0, 0)
    assert store.exists(digest)


def test_a_referenced_file_and_its_thumbnail_are_kept(store, frozen):
    case = b.forced_dispute('O-1')
    item = evidence.submit_file(case, b.buyer_login('b-1'), 'other', '', 'a.png',
                                io.BytesIO(b.png_bytes((600, 400))))
    thumb = Blob.get_by_id(item.sha256).thumbnail_sha256
    assert thumb and store.exists(thumb), 'the thumbnail job ran inline after commit'
    orphan = stored(store, b'nobody refers to me', 2 * DAY)
    for digest in (item.sha256, thumb):
        set_age(store.path(digest), 30 * DAY)
    assert purge_orphans(NOW, DAY).files == 1
    assert store.exists(item.sha256) and store.exists(thumb)
    assert not store.exists(orphan)


def test_a_dry_run_deletes_nothing_but_reports(store, caplog):
    old = stored(store, b'old orphan', 2 * DAY)
    tmp = temporary(store, 2 * DAY, b'12345')
    with caplog.at_level(logging.INFO, logger='arbitration.storage_sweep'):
        assert purge_orphans(NOW, DAY, dry_run=True) == Purged(files=2, bytes=10 + 5, temporary=1)
    assert store.exists(old) and os.path.exists(tmp)
    assert any('would delete' in r.getMessage() and old in r.getMessage() for r in caplog.records)


def test_a_stale_temporary_file_is_removed_and_a_fresh_one_kept(store):
    stale = temporary(store, DAY + dt.timedelta(minutes=1), b'abc')
    fresh = temporary(store, dt.timedelta(minutes=5))
    assert purge_orphans(NOW, DAY) == Purged(files=1, bytes=3, temporary=1)
    assert not os.path.exists(stale)
    assert os.path.exists(fresh)


def test_references_are_looked_up_a_batch_at_a_time(store, monkeypatch):
    kept = [stored(store, b'kept %d' % n, 2 * DAY) for n in range(3)]
    for digest in kept:
        Blob.create(sha256=digest, size=6, mime='text/plain')
    orphans = [stored(store, b'orphan %d' % n, 2 * DAY) for n in range(4)]
    stored(store, b'young', dt.timedelta(hours=1))
    lookups = []
    real = storage_sweep._referenced

    def spy(digests):
        lookups.append(len(digests))
        return real(digests)
    monkeypatch.setattr(storage_sweep, '_referenced', spy)
    assert purge_orphans(NOW, DAY, batch=2).files == 4
    # 7 old files in chunks of 2, 2, 2, 1 (the young one is never looked up), and one
    # re-check of each orphan right before its delete
    assert sorted(lookups) == sorted([2, 2, 2, 1] + [1] * 4)
    assert all(store.exists(d) for d in kept) and not any(store.exists(d) for d in orphans)


def test_the_grace_defaults_to_the_setting(app, store, monkeypatch):
    assert load_config(environ={})['ORPHAN_GRACE_SECONDS'] == 86400
    assert load_config(environ={'DESK_ORPHAN_GRACE_SECONDS': '3600'})['ORPHAN_GRACE_SECONDS'] == 3600
    monkeypatch.setitem(app.config, 'ORPHAN_GRACE_SECONDS', 3600)
    digest = stored(store, b'two hours old', dt.timedelta(hours=2))
    assert purge_orphans(NOW).files == 1
    assert not store.exists(digest)


def test_a_failed_upload_leaves_an_orphan_the_sweep_removes_later(store, frozen, monkeypatch):
    case = b.forced_dispute('O-9')
    data = b.png_bytes((9, 9))
    digest = hashlib.sha256(data).hexdigest()

    def boom(*args, **kwargs):
        raise RuntimeError('database went away')
    monkeypatch.setattr(evidence, 'record', boom)
    with pytest.raises(RuntimeError):
        evidence.submit_file(case, b.buyer_login('b-1'), 'other', '', 'a.png', io.BytesIO(data))
    assert Blob.select().count() == 0 and Evidence.select().count() == 0
    assert store.exists(digest), 'the request leaves the stored file alone'
    now = frozen.now()
    set_age(store.path(digest), dt.timedelta(hours=1), now)
    assert purge_orphans(now, DAY).files == 0, 'within the grace it stays'
    assert store.exists(digest)
    frozen.advance(hours=24)
    assert purge_orphans(frozen.now(), DAY) == Purged(files=1, bytes=len(data), temporary=0)
    assert not store.exists(digest)


# --- the race guard (LocalStorage.remove) ----------------------------------------------------

def wall_clock():
    """The real time: an upload during a test writes files with a real mtime."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def old_entry(store, data, now):
    digest = stored(store, data, 2 * DAY, now)
    return digest, next(o for o in store.objects() if o.name == digest)


def test_an_upload_of_the_same_bytes_before_the_delete_keeps_the_file(store):
    now = wall_clock()
    digest, entry = old_entry(store, b'shared', now)
    assert store.put(b'shared') == digest  # renamed onto the name: a fresh mtime
    assert store.remove(entry, now - DAY) is False
    assert store.exists(digest)
    assert os.listdir(store.tmp_dir) == []


def test_an_upload_during_the_delete_keeps_its_copy(store):
    now = wall_clock()
    digest, entry = old_entry(store, b'shared', now)

    def upload_meanwhile():
        assert not store.exists(digest), 'the file is set aside while being decided'
        store.put(b'shared')
        return False  # its row has not committed yet
    assert store.remove(entry, now - DAY, in_use=upload_meanwhile) is True
    with store.open(digest) as f:
        assert f.read() == b'shared'
    assert purge_orphans(now, DAY).files == 0, "the upload's copy is young"


def test_a_row_committed_meanwhile_sends_the_file_back(store):
    now = wall_clock()
    digest, entry = old_entry(store, b'referenced late', now)
    assert store.remove(entry, now - DAY, in_use=lambda: True) is False
    assert store.exists(digest)
    assert os.listdir(store.tmp_dir) == []


def test_a_file_left_aside_by_a_dead_sweep_is_put_back(store):
    digest = stored(store, b'interrupted', 2 * DAY)
    os.makedirs(store.tmp_dir, exist_ok=True)
    os.replace(store.path(digest), os.path.join(store.tmp_dir, f'{WITHDRAWN_PREFIX}{digest}.abcd1234'))
    assert [o.name for o in store.objects()] == [digest]
    assert store.exists(digest) and os.listdir(store.tmp_dir) == []


# --- wiring ----------------------------------------------------------------------------------

def test_it_runs_daily(app, store):
    from app import PERIODIC_JOBS
    assert (purge_orphan_files, 86400) in PERIODIC_JOBS
    stored(store, b'ancient', dt.timedelta(days=400), wall_clock())
    assert purge_orphan_files() == (1, 7, 0)


def test_the_command_prints_the_counts(make_app, tmp_path, frozen):
    other = make_app(DATA_DIR=str(tmp_path / 'cli'), DEFAULT_LOCALE='en')
    store = LocalStorage(other.config['DATA_DIR'])
    now = frozen.now()
    orphan = stored(store, b'0123456789', dt.timedelta(hours=30), now)
    tmp = temporary(store, dt.timedelta(hours=30), b'abc', now)
    cli = isolated_cli(other)

    result = cli('purge-orphan-files', '--dry-run')
    assert result.exit_code == 0, result.output
    assert 'would delete 2 file(s), 13 byte(s) (1 temporary)' in result.output
    assert store.exists(orphan) and os.path.exists(tmp)

    result = cli('purge-orphan-files', '--grace-hours', '48')
    assert result.exit_code == 0, result.output
    assert 'deleted 0 file(s), 0 byte(s) (0 temporary)' in result.output

    result = cli('purge-orphan-files')
    assert result.exit_code == 0, result.output
    assert 'deleted 2 file(s), 13 byte(s) (1 temporary)' in result.output
    assert not store.exists(orphan) and not os.path.exists(tmp)
