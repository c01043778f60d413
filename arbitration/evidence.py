"""The evidence store (SPEC §5): who may add evidence to a case and when, what a file may
be, and the items both parties and the staff see.

An item is a file (its bytes stored once, content-addressed, in `arbitration.storage`) or
pasted text (a chat log). Items are immutable: a correction is a new item that `supersedes`
an earlier one of the same party, and the earlier one stays listed, marked as superseded.

The type of a file is taken from its content, never from its name: magic bytes (`filetype`)
for images, video and PDF, and for text a check that the whole file is UTF-8 without NUL
bytes and not markup (HTML and SVG are refused whatever they are called). An upload is read
in chunks with a cap (413 beyond `DESK_EVIDENCE_MAX_BYTES`) straight into a staged storage
write, so a large file never sits in memory; the staged bytes are only kept when every check
passed, and the rows (blob, item, timeline event, outbox row) are written in one transaction.
"""
import codecs
import hashlib
import re
import unicodedata

import filetype
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import JOIN

from arbitration.intervention import on_evidence_submitted
from arbitration.storage import get_storage
from desk.cases import lifecycle
from desk.cases.access import buyer_users, can_see, is_staff_view, merchant_users, relations
from desk.cases.models import EVIDENCE_KINDS, Blob, Complaint, Evidence, EvidenceRequest
from desk.cases.timeline import record
from desk.core import clock
from desk.core.db import atomic, is_sqlite
from desk.core.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unsupported
from desk.core.labels import state_label
from desk.core.masking import mask_text
from desk.core.tasks import enqueue
from desk.core.text_input import clean_text
from desk.core.times import format_local, to_iso
from desk.messaging import notifications
from desk.messaging.notifications import notify

#: What a file may be, by the type sniffed from its content.
ALLOWED_TYPES = ('image/jpeg', 'image/png', 'image/gif', 'image/webp', 'video/mp4', 'video/webm',
                 'application/pdf', 'text/plain', 'text/csv', 'application/json')
#: Types a browser may show in the page (?inline=1); everything else is only downloaded.
INLINE_PREFIXES = ('image/', 'video/')
INLINE_TYPES = ('application/pdf', 'text/plain')
THUMBNAIL_TYPES = ('image/jpeg', 'image/png', 'image/gif', 'image/webp')
#: States a party may add evidence in without an evidence period (the case is open and
#: nobody has ruled yet).
OPEN_STATES = (lifecycle.NEGOTIATING, lifecycle.AWAITING_BUYER, lifecycle.PENDING_AGENT, lifecycle.IN_PROGRESS)
DESCRIPTION_MAX = 1000
TEXT_MAX = 100000            # characters of pasted text
FILENAME_MAX = 255
READ_CHUNK = 1024 * 1024
SNIFF_BYTES = 8192           # what filetype looks at
#: Markup a browser could run: refused even when it is valid UTF-8 text.
_MARKUP = re.compile(rb'<\s*(?:svg|!doctype\s+html|html|head|body|script|iframe|object|embed|'
                     rb'\?xml|xml|meta|link|style|form|img|a\s)', re.I)
_SVG = re.compile(rb'<\s*svg', re.I)

NOTICES = {
    'evidence_added_buyer': (_l('New evidence on %(ticket)s'),
                             _l('The buyer added evidence to the complaint.')),
    'evidence_added_merchant': (_l('New evidence on %(ticket)s'),
                                _l('The merchant added evidence to the complaint.')),
    'evidence_added_staff': (_l('New evidence on %(ticket)s'),
                             _l('The platform added evidence to the complaint.')),
}

# --- who and when -------------------------------------------------------------------------

def party_of(complaint, user):
    """'buyer', 'merchant' or 'staff' for a user who may add evidence to the case, else None."""
    mine = relations(complaint, user)
    if 'buyer' in mine:
        return 'buyer'
    if 'merchant' in mine:
        return 'merchant'
    if mine:  # owner, agent, senior, supervisor, admin
        return 'staff'
    return None


def _party_or_refuse(complaint, actor):
    if not can_see(complaint, actor):
        raise NotFound(_('No complaint %(no)s.', no=complaint.ticket_no))
    party = party_of(complaint, actor)
    if party is None:  # the integration without X-On-Behalf-Of
        raise Forbidden(_('Evidence is added by a party or by staff; an integration key acts '
                          'on behalf of a buyer (X-On-Behalf-Of).'))
    return party


def open_request(complaint, party, now):
    """The party's open evidence request whose deadline has not passed (earliest due), or None."""
    return (EvidenceRequest
            .select()
            .where((EvidenceRequest.complaint == complaint.id) & (EvidenceRequest.party == party) &
                   EvidenceRequest.closed_at.is_null() & (EvidenceRequest.due_at > now))
            .order_by(EvidenceRequest.due_at, EvidenceRequest.id)
            .first())


def can_submit(complaint, party, now, request=None):
    """(True, None) when `party` may add evidence to `complaint` now, else (False, reason).

    The one rule for every door (portal, merchant console, backoffice, API). Parties may add
    evidence while the case is open and nobody has ruled; in arbitration while the evidence
    period runs (`evidence_due_at` ahead; `arbitration.intervention` clears it when the
    period ends or is closed early) and after it only while a request addressed to them is
    open; during an appeal; once resolved, until `appeal_due_at` (the new evidence an appeal
    needs). Staff may add evidence whenever the case is open. `request`: the
    EvidenceRequest the item answers, if any.
    """
    state = complaint.state
    if lifecycle.is_terminal(state):
        return False, _('The complaint is %(s)s; no more evidence can be added.', s=state_label(state, 'message'))
    if request is not None:
        if request.complaint_id != complaint.id or request.party != party:
            return False, _('That evidence request is not addressed to you.')
        if request.closed_at is not None:
            return False, _('That evidence request was closed at %(t)s.', t=format_local(request.closed_at))
        if now >= request.due_at:
            return False, _('The deadline of that evidence request was %(t)s.', t=format_local(request.due_at))
    if party == 'staff' or state in OPEN_STATES or state == lifecycle.APPEALED:
        return True, None
    if state == lifecycle.IN_ARBITRATION:
        due = complaint.evidence_due_at
        if (due is not None and now < due) or request is not None or open_request(complaint, party, now):
            return True, None
        if due is not None:  # passed, and not yet cleared by the evidence_due deadline
            return False, _('The evidence period ended at %(t)s; evidence can only be added when the '
                            'agent requests it.', t=format_local(due))
        return False, _('The evidence period is over; evidence can only be added when the agent requests it.')
    if state == lifecycle.RESOLVED:
        due = complaint.appeal_due_at
        if due is not None and now < due:
            return True, None
        if due is None:
            return False, _('The complaint is resolved; evidence can no longer be added.')
        return False, _('The appeal window ended at %(t)s; evidence can no longer be added.',
                        t=format_local(due))
    return False, _('Evidence can be added once the merchant or the platform handles the complaint.')


# --- input --------------------------------------------------------------------------------

def clean_filename(raw):
    """The uploader's file name, safe to show and to put in a header: no path parts, no
    control or invisible (bidi) characters, no leading dots, at most 255 characters with the
    extension kept. Chinese and other letters stay as they are."""
    name = unicodedata.normalize('NFC', str(raw or ''))
    name = name.replace('\\', '/').rsplit('/', 1)[-1]
    name = ''.join(ch for ch in name if unicodedata.category(ch)[0] != 'C')
    name = name.strip().lstrip('.').strip()
    if not name:
        return 'evidence'
    if len(name) > FILENAME_MAX:
        base, dot, ext = name.rpartition('.')
        if dot and base and 0 < len(ext) <= 16:
            name = base[:FILENAME_MAX - len(ext) - 1].rstrip() + '.' + ext
        else:
            name = name[:FILENAME_MAX]
    return name


def _parse_id(value, field, fields):
    if value in (None, ''):
        return None
    if isinstance(value, bool):
        fields[field] = _('must be an item number')
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        fields[field] = _('must be an item number')
        return None
    if not 0 < number < 2 ** 31:
        fields[field] = _('must be an item number')
        return None
    return number


def _meta(kind, description, supersedes, request, fields):
    if kind not in EVIDENCE_KINDS:
        fields['kind'] = _('one of %(c)s', c=', '.join(EVIDENCE_KINDS))
    description = clean_text(description, 'description', DESCRIPTION_MAX, fields, required=False) or ''
    return description, _parse_id(supersedes, 'supersedes', fields), _parse_id(request, 'request', fields)


def limit_bytes():
    return current_app.config['EVIDENCE_MAX_BYTES']


def too_large_error(limit=None):
    limit = limit or limit_bytes()
    return TooLarge(_('The file is larger than the limit of %(limit)s.', limit=size_text(limit)),
                    fields={'file': _('at most %(limit)s', limit=size_text(limit))},
                    limit_bytes=limit)


def size_text(n):
    """20971520 -> '20 MB', 1572864 -> '1.5 MB', 4096 -> '4 KB'."""
    if n >= 1024 * 1024:
        mb = n / (1024 * 1024)
        return f'{mb:.0f} MB' if mb == int(mb) else f'{mb:.1f} MB'
    return f'{max(1, round(n / 1024))} KB'


class _Sniffer:
    """Looks at the bytes going by: the head for magic numbers, and whether the whole is
    UTF-8 text without NUL bytes."""

    def __init__(self):
        self.head = b''
        self.tail = b''
        self.text = True
        self._decoder = codecs.getincrementaldecoder('utf-8')()

    def feed(self, chunk):
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[:SNIFF_BYTES - len(self.head)]
            if len(self.head) >= SNIFF_BYTES and filetype.guess(self.head) is not None:
                self.text = False  # magic bytes decided it: no need to decode the rest
        self.tail = (self.tail + chunk[-64:])[-64:]
        if self.text:
            if b'\x00' in chunk:
                self.text = False
                return
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self.text = False

    def finish(self):
        if self.text:
            try:
                self._decoder.decode(b'', final=True)
            except UnicodeDecodeError:
                self.text = False

    def mime(self, filename):
        """The type of the content (the name only tells csv from plain text)."""
        kind = filetype.guess(self.head)
        if kind is not None:
            return kind.mime
        if not self.text:
            return 'application/octet-stream'
        head = self.head.lstrip(b'\xef\xbb\xbf \t\r\n')
        if _SVG.search(self.head):
            return 'image/svg+xml'
        if _MARKUP.search(self.head):
            return 'text/html'
        lower = (filename or '').lower()
        if head[:1] in (b'{', b'[') and self.tail.rstrip()[-1:] in (b'}', b']'):
            return 'application/json'
        if lower.endswith('.csv'):
            return 'text/csv'
        return 'text/plain'


def _read_capped(stream, writer, limit):
    """Copy `stream` into the staged `writer`, at most `limit` bytes; the sniffer."""
    sniffer = _Sniffer()
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            break
        if writer.size + len(chunk) > limit:
            raise too_large_error(limit)
        writer.write(chunk)
        sniffer.feed(chunk)
    sniffer.finish()
    return sniffer


# --- submitting ---------------------------------------------------------------------------

def store_upload(filename, stream, field='file'):
    """Check an uploaded file and keep its bytes in the evidence store: read in chunks with
    the size cap (413), refused when empty (422) or of a type not allowed by its content
    (415). Returns (clean name, sha256, size, sniffed mime); the caller writes the `Blob` row
    (and its own item row) in its transaction. Shared by case evidence and penalty appeals."""
    name = clean_filename(filename)
    storage = get_storage()
    with storage.writer() as writer:
        sniffer = _read_capped(stream, writer, limit_bytes())
        if writer.size == 0:
            raise Invalid(_('The file is empty.'), fields={field: _('is empty (0 bytes)')})
        mime = sniffer.mime(name)
        if mime not in ALLOWED_TYPES:
            raise Unsupported(
                _('Files of type %(t)s are not accepted as evidence. Accepted: images (JPEG, PNG, '
                  'GIF, WebP), videos (MP4, WebM), PDF and text (plain, CSV, JSON).', t=mime),
                fields={field: _('type %(t)s is not accepted', t=mime)}, detected_type=mime)
        size = writer.size
        digest = writer.commit()
    return name, digest, size, mime


def submit_file(complaint, actor, kind, description, filename, stream, supersedes=None, request=None):
    """Add a file to the case's evidence; the new `Evidence`.

    404 when the actor may not see the case, 422 for bad fields or an empty file, 409 when
    evidence cannot be added now (the message names the deadline), 413 over the size limit,
    415 for a type that is not allowed (the detected type is in the error).
    """
    party = _party_or_refuse(complaint, actor)
    now = clock.now()
    fields = {}
    description, supersedes_id, request_id = _meta(kind, description, supersedes, request, fields)
    if stream is None:
        fields['file'] = _('choose a file')
    if fields:
        raise Invalid(_('The evidence has invalid fields.'), fields=fields)
    _check_window(complaint, party, now, request_id)  # a quick 409 before reading any bytes
    name, digest, size, mime = store_upload(filename, stream)
    item = _save_item(complaint, actor, party, kind, description, supersedes_id, request_id, now,
                      blob=(digest, size, mime), filename=name, mime=mime, size=size, sha256=digest,
                      text=None)
    if mime in THUMBNAIL_TYPES:
        enqueue('arbitration.jobs.make_thumbnail', digest)
    return item


def submit_text(complaint, actor, kind, description, text, supersedes=None, request=None):
    """Add pasted text (a chat log) to the case's evidence; the new `Evidence`."""
    party = _party_or_refuse(complaint, actor)
    now = clock.now()
    fields = {}
    description, supersedes_id, request_id = _meta(kind, description, supersedes, request, fields)
    if not isinstance(text, str) or not text.strip():
        fields['text'] = _('paste the text')
    elif len(text) > TEXT_MAX:
        fields['text'] = _('at most %(n)d characters', n=TEXT_MAX)
    elif '\x00' in text:
        fields['text'] = _('must not contain control characters')
    if fields:
        raise Invalid(_('The evidence has invalid fields.'), fields=fields)
    text = text.replace('\r\n', '\n').strip('\n')
    data = text.encode('utf-8')
    if len(data) > limit_bytes():
        raise too_large_error()
    return _save_item(complaint, actor, party, kind, description, supersedes_id, request_id, now,
                      blob=None, filename=None, mime='text/plain', size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), text=text)


def _check_window(complaint, party, now, request_id):
    request = None
    if request_id is not None:
        request = EvidenceRequest.get_or_none((EvidenceRequest.id == request_id) &
                                              (EvidenceRequest.complaint == complaint.id))
        if request is None:
            raise Invalid(_('There is no such evidence request on this complaint.'),
                          fields={'request': _('unknown evidence request')})
    ok, reason = can_submit(complaint, party, now, request)
    if not ok:
        raise Conflict(reason, deadline=to_iso(_deadline_of(complaint)))
    period_open = complaint.evidence_due_at is not None and now < complaint.evidence_due_at
    if request is None and complaint.state == lifecycle.IN_ARBITRATION and not period_open and party != 'staff':
        request = open_request(complaint, party, now)  # after the period: the open request carries it
    return request


def _deadline_of(complaint):
    if complaint.state == lifecycle.IN_ARBITRATION:
        return complaint.evidence_due_at
    if complaint.state == lifecycle.RESOLVED:
        return complaint.appeal_due_at
    return None


def _locked(complaint):
    """The complaint re-read inside the transaction, locked on PostgreSQL (SQLite's
    transaction holds the write lock already), so a ruling or the period closing cannot slip
    between the window check and the insert."""
    query = Complaint.select().where(Complaint.id == complaint.id)
    if not is_sqlite():
        query = query.for_update()
    return query.get()


def _save_item(complaint, actor, party, kind, description, supersedes_id, request_id, now, *,
               blob, filename, mime, size, sha256, text):
    with atomic():
        fresh = _locked(complaint)
        request = _check_window(fresh, party, now, request_id)
        superseded = None
        if supersedes_id is not None:
            superseded = Evidence.get_or_none((Evidence.id == supersedes_id) &
                                              (Evidence.complaint == fresh.id))
            if superseded is None:
                raise Invalid(_('There is no such evidence item on this complaint.'),
                              fields={'supersedes': _('unknown evidence item')})
            if superseded.party != party:
                raise Forbidden(_('You can only supersede your own side\'s evidence.'),
                                fields={'supersedes': _('not your side\'s item')})
            later = Evidence.get_or_none(Evidence.supersedes == superseded.id)
            if later is not None:
                raise Conflict(_('Item %(a)d was already superseded by item %(b)d.',
                                 a=superseded.id, b=later.id),
                               fields={'supersedes': _('already superseded')})
        if blob is not None:
            digest, blob_size, blob_mime = blob
            (Blob
             .insert(sha256=digest, size=blob_size, mime=blob_mime, created_at=now)
             .on_conflict_ignore()
             .execute())
        item = Evidence.create(
            complaint=fresh.id, party=party, kind=kind, description=description,
            blob=blob[0] if blob is not None else None, text=text, filename=filename, mime=mime,
            size=size, sha256=sha256, created_by=actor.id, created_at=now,
            supersedes=superseded.id if superseded else None,
            request=request.id if request else None)
        record(fresh, actor, 'evidence_added', {
            'evidence': item.id, 'kind': kind, 'party': party, 'size': size, 'sha256': sha256,
            'mime': mime, 'supersedes': item.supersedes_id, 'request': item.request_id,
        }, actor_role=actor.role)
        if party != 'staff':
            on_evidence_submitted(fresh, party, now)  # answers its requests, resumes a paused SLA
        _notify(fresh, actor, party, kind)
    return item


def _notify(complaint, actor, party, kind):
    if party == 'buyer':
        recipients = merchant_users(complaint) + [complaint.owner_id]
    elif party == 'merchant':
        recipients = buyer_users(complaint) + [complaint.owner_id]
    else:
        recipients = buyer_users(complaint) + merchant_users(complaint)
    notify(f'evidence_added_{party}', [r for r in recipients if r is not None and r != actor.id],
           {'ticket': complaint.ticket_no, 'kind': kind}, complaint)


# --- reading ------------------------------------------------------------------------------

def visible_items(complaint, actor):
    """Every item of the case, oldest first (both parties and the staff see all evidence),
    each with `replaced_by`: the id of the item superseding it, or None. 404 when the actor
    may not see the case."""
    if not can_see(complaint, actor):
        raise NotFound(_('No complaint %(no)s.', no=complaint.ticket_no))
    items = list(Evidence
                 .select(Evidence, Blob.thumbnail_sha256)
                 .join(Blob, JOIN.LEFT_OUTER, on=(Evidence.blob == Blob.sha256))
                 .where(Evidence.complaint == complaint.id)
                 .order_by(Evidence.created_at, Evidence.id)
                 .objects())
    by_id = {i.id: i for i in items}
    for item in items:
        item.replaced_by = None
    for item in items:
        if item.supersedes_id in by_id:
            by_id[item.supersedes_id].replaced_by = item.id
    return items


def item_for_download(evidence_id, actor):
    """The item `evidence_id` if the actor may see its case, else 404 (never revealing it)."""
    item = Evidence.get_or_none(Evidence.id == evidence_id) if 0 < evidence_id < 2 ** 31 else None
    if item is None or not can_see(item.complaint, actor):
        raise NotFound(_('No evidence item %(id)s.', id=evidence_id))
    return item


def thumbnail_of(item):
    """The thumbnail blob's SHA-256 of an image item, or None (not an image, not made yet)."""
    if item.blob_id is None:
        return None
    return Blob.select(Blob.thumbnail_sha256).where(Blob.sha256 == item.blob_id).scalar()


def display_text(item, actor):
    """Pasted text as shown: phone numbers and card codes masked (staff see it whole)."""
    if item.text is None:
        return None
    return item.text if is_staff_view(actor) else mask_text(item.text)


def may_show_inline(mime):
    return mime.startswith(INLINE_PREFIXES) or mime in INLINE_TYPES


def download_name(item):
    if item.filename:
        return item.filename
    return f'evidence-{item.id}.txt'


def init_app(app):
    notifications.TEMPLATES.update(NOTICES)
