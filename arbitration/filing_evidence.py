"""Evidence given with a complaint at filing (a buyer with low credit must give some, SPEC §7).

The items are checked exactly as `arbitration.evidence` checks any item (kinds, description
and text limits, the size cap while streaming, the type sniffed from the content and the
allow list) but are written differently: there is no case yet whose window `can_submit`
could consult, and the items must be part of the filing — the complaint, its items and their
timeline events are one transaction, so a refused item files nothing and a refused filing
stores no item.

Files are read into staged storage writers before the transaction (a 413/415 costs no row);
their bytes are placed in the content-addressed store as the last step inside it, so a
filing that fails before leaves no file behind either.
"""
import contextlib
import hashlib

from flask_babel import gettext as _

from arbitration import evidence
from arbitration.storage import get_storage
from desk.cases.models import Blob, Evidence
from desk.cases.timeline import record
from desk.core.errors import Invalid, Unsupported
from desk.core.tasks import enqueue

#: How many items a filing may carry (more can be added to the case afterwards).
MAX_ITEMS = 10


def parse(raw, uploads, fields):
    """The items of a filing: `raw` is the JSON list of pasted-text items {kind, text,
    description}, `uploads` (kind, description, filename, stream) files. Problems go to
    `fields` under `evidence` / `evidence.<n>.<field>`; returns the well-formed items."""
    items = []
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        fields['evidence'] = _('must be a list of evidence items')
        raw = []
    uploads = list(uploads or ())
    if len(raw) + len(uploads) > MAX_ITEMS:
        fields['evidence'] = _('at most %(n)d items at filing', n=MAX_ITEMS)
        return []
    for n, entry in enumerate(raw):
        problems = {}
        if not isinstance(entry, dict):
            fields[f'evidence.{n}'] = _('must be an object with kind and text')
            continue
        description, _s, _r = evidence._meta(entry.get('kind'), entry.get('description'), None, None, problems)
        text = entry.get('text')
        if not isinstance(text, str) or not text.strip():
            problems['text'] = _('paste the text')
        elif len(text) > evidence.TEXT_MAX:
            problems['text'] = _('at most %(n)d characters', n=evidence.TEXT_MAX)
        elif '\x00' in text:
            problems['text'] = _('must not contain control characters')
        if problems:
            fields.update({f'evidence.{n}.{k}': v for k, v in problems.items()})
            continue
        items.append({'kind': entry['kind'], 'description': description,
                      'text': text.replace('\r\n', '\n').strip('\n')})
    for n, (kind, description, filename, stream) in enumerate(uploads, start=len(raw)):
        problems = {}
        description, _s, _r = evidence._meta(kind, description, None, None, problems)
        if stream is None:
            problems['file'] = _('choose a file')
        if problems:
            fields.update({f'evidence.{n}.{k}': v for k, v in problems.items()})
            continue
        items.append({'kind': kind, 'description': description, 'filename': filename, 'stream': stream})
    return items


@contextlib.contextmanager
def staged(items):
    """Read every file item into a staged writer (capped, sniffed, type checked); yields the
    items with `writer`, `mime`, `size`, `sha256` (text items with their bytes' size and
    hash). Writers not committed by `store` are discarded on the way out."""
    with contextlib.ExitStack() as stack:
        ready = []
        for item in items:
            item = dict(item)
            if 'text' in item:
                data = item['text'].encode('utf-8')
                if len(data) > evidence.limit_bytes():
                    raise evidence.too_large_error()
                item.update(mime='text/plain', size=len(data), sha256=hashlib.sha256(data).hexdigest())
            else:
                writer = stack.enter_context(get_storage().writer())
                sniffer = evidence._read_capped(item.pop('stream'), writer, evidence.limit_bytes())
                if writer.size == 0:
                    raise Invalid(_('The file is empty.'), fields={'file': _('is empty (0 bytes)')})
                name = evidence.clean_filename(item['filename'])
                mime = sniffer.mime(name)
                if mime not in evidence.ALLOWED_TYPES:
                    raise Unsupported(
                        _('Files of type %(t)s are not accepted as evidence. Accepted: images (JPEG, PNG, '
                          'GIF, WebP), videos (MP4, WebM), PDF and text (plain, CSV, JSON).', t=mime),
                        fields={'file': _('type %(t)s is not accepted', t=mime)}, detected_type=mime)
                item.update(writer=writer, filename=name, mime=mime, size=writer.size, sha256=writer.sha256)
            ready.append(item)
        yield ready


def store(complaint, actor, items, now):
    """Write the items of a filing (inside the filing's transaction): blob and item rows,
    their timeline events, then the files' bytes into the store."""
    if not items:
        return []
    party = 'buyer' if actor.role == 'buyer' else 'staff'  # staff on the phone: the platform's record
    written = []
    for item in items:
        blob = None
        if 'writer' in item:
            blob = item['sha256']
            (Blob
             .insert(sha256=blob, size=item['size'], mime=item['mime'], created_at=now)
             .on_conflict_ignore()
             .execute())
        row = Evidence.create(complaint=complaint.id, party=party, kind=item['kind'],
                              description=item['description'], blob=blob, text=item.get('text'),
                              filename=item.get('filename'), mime=item['mime'], size=item['size'],
                              sha256=item['sha256'], created_by=actor.id, created_at=now)
        record(complaint, actor, 'evidence_added', {
            'evidence': row.id, 'kind': row.kind, 'party': party, 'size': row.size, 'sha256': row.sha256,
            'mime': row.mime, 'supersedes': None, 'request': None, 'at_filing': True,
        }, actor_role=actor.role)
        written.append(row)
    for item in items:
        if 'writer' in item:
            item['writer'].commit()  # last: a failure here rolls the filing back
            if item['mime'] in evidence.THUMBNAIL_TYPES:
                enqueue('arbitration.jobs.make_thumbnail', item['sha256'])
    return written
