"""Evidence in the browser (blueprint `evidence`): downloads, thumbnails, and the upload form
of the evidence panel (templates/evidence/_panel.html) every console's case page includes.

Whoever may see the case may download its evidence: staff and merchant staff logged in
through Flask-Login, the buyer through the portal's login (the same session); anyone else
gets 404, so an item number reveals nothing. Files are sent as attachments under their
cleaned name (RFC 5987 for Chinese), with `X-Content-Type-Options: nosniff` and
`Content-Security-Policy: sandbox`; `?inline=1` shows images, videos, PDF and plain text in
the page instead.
"""
import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import wrap_file

from arbitration import evidence
from arbitration.storage import get_storage
from desk.cases.access import get_visible
from desk.cases.models import EVIDENCE_KINDS, Blob
from desk.core import clock
from desk.core.errors import DomainError, NotFound
from desk.core.masking import mask_text
from web.auth import is_safe_next
from web.errors import error_page

bp = Blueprint('evidence', __name__, url_prefix='/evidence')

#: The case page each role comes back to after an upload.
CASE_PAGES = {'buyer': 'portal.complaint', 'merchant_staff': 'merchant_complaints.case'}
STAFF_CASE_PAGE = 'case.case'


def send_item(item, actor, inline=False):
    """The response carrying an item's content (a file, or pasted text as UTF-8 text)."""
    if item.blob_id is None:
        data = evidence.display_text(item, actor).encode('utf-8')
        response = Response(data, mimetype='text/plain')
        response.content_length = len(data)
        mime = 'text/plain'
    else:
        try:
            stored = get_storage().open(item.blob_id)
        except FileNotFoundError:
            current_app.logger.error('evidence %s: blob %s is missing from storage', item.id, item.blob_id)
            raise NotFound(_('The content of evidence item %(id)s is not available.', id=item.id)) from None
        mime = item.mime
        response = Response(wrap_file(request.environ, stored), mimetype=mime, direct_passthrough=True)
        response.content_length = item.size
    if mime.startswith('text/') or mime == 'application/json':
        response.headers['Content-Type'] = f'{mime}; charset=utf-8'
    show_inline = inline and evidence.may_show_inline(mime)
    _disposition(response, 'inline' if show_inline else 'attachment', evidence.download_name(item))
    _protect(response)
    response.set_etag(item.sha256)
    return response.make_conditional(request.environ, accept_ranges=True, complete_length=response.content_length)


def _disposition(response, how, name):
    try:
        name.encode('ascii')
    except UnicodeEncodeError:
        simple = unicodedata.normalize('NFKD', name).encode('ascii', 'ignore').decode('ascii').strip() or 'evidence'
        response.headers.set('Content-Disposition', how, filename=simple,
                             **{'filename*': "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")})
    else:
        response.headers.set('Content-Disposition', how, filename=name)


def _protect(response):
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Content-Security-Policy'] = 'sandbox'
    response.headers['Cache-Control'] = 'private, no-cache'
    response.headers['Referrer-Policy'] = 'no-referrer'


@bp.route('/<int:evidence_id>')
@login_required
def download(evidence_id):
    item = evidence.item_for_download(evidence_id, current_user)
    return send_item(item, current_user, inline=request.args.get('inline') == '1')


@bp.route('/<int:evidence_id>/thumbnail')
@login_required
def thumbnail(evidence_id):
    item = evidence.item_for_download(evidence_id, current_user)
    digest = evidence.thumbnail_of(item)
    storage = get_storage()
    if not digest or not storage.exists(digest):
        raise NotFound(_('Evidence item %(id)s has no thumbnail.', id=evidence_id))
    blob = Blob.get_by_id(digest)
    response = Response(wrap_file(request.environ, storage.open(digest)), mimetype=blob.mime,
                        direct_passthrough=True)
    response.content_length = blob.size
    _disposition(response, 'inline', f'thumbnail-{evidence_id}.' + blob.mime.split('/')[-1])
    _protect(response)
    response.set_etag(digest)
    return response.make_conditional(request.environ)


# --- uploads from the panel ---------------------------------------------------------------

def case_page(ticket_no):
    """Where the uploader returns: the form's `next` when it is a local path, else the case
    page of the uploader's console."""
    target = request.form.get('next', '') if request.method == 'POST' else ''
    if is_safe_next(target):
        return target
    endpoint = CASE_PAGES.get(getattr(current_user, 'role', None), STAFF_CASE_PAGE)
    return url_for(endpoint, ticket_no=ticket_no)


@bp.route('/cases/<ticket_no>', methods=['POST'])
@login_required
def upload(ticket_no):
    """The panel's form: a file, or pasted text, with kind and description."""
    case = get_visible(current_user, ticket_no)  # 404 for someone else's case
    form = request.form
    upload_file = request.files.get('file')
    text = form.get('text', '')
    try:
        if upload_file is not None and upload_file.filename:
            evidence.submit_file(case, current_user, form.get('kind', ''), form.get('description', ''),
                                 upload_file.filename, upload_file.stream,
                                 supersedes=form.get('supersedes') or None, request=form.get('request') or None)
        elif text.strip():
            evidence.submit_text(case, current_user, form.get('kind', ''), form.get('description', ''), text,
                                 supersedes=form.get('supersedes') or None, request=form.get('request') or None)
        else:
            flash(_('Choose a file or paste the text of your evidence.'), 'danger')
            return redirect(case_page(ticket_no))
    except DomainError as err:
        details = '; '.join(f'{k}: {v}' for k, v in err.fields.items() if k != 'file')
        flash(err.message + (f' ({details})' if details else ''), 'danger')
        return redirect(case_page(ticket_no))
    flash(_('Your evidence was added to the complaint.'), 'success')
    return redirect(case_page(ticket_no))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err):
    """A request over the app's size cap is refused before the form is read: say why, and
    go back to the case page instead of showing a bare error."""
    message = evidence.too_large_error().message
    ticket_no = (request.view_args or {}).get('ticket_no')
    if request.method == 'POST' and ticket_no and current_user.is_authenticated:
        flash(message, 'danger')
        response = redirect(_case_page_without_form(ticket_no))
        return response
    return error_page(413, message)


def _case_page_without_form(ticket_no):
    endpoint = CASE_PAGES.get(current_user.role, STAFF_CASE_PAGE)
    return url_for(endpoint, ticket_no=ticket_no)


# --- the panel's data ---------------------------------------------------------------------

def panel_context(case):
    """What templates/evidence/_panel.html shows for the current user on `case`."""
    now = clock.now()
    items = evidence.visible_items(case, current_user)
    party = evidence.party_of(case, current_user)
    ok, reason = (False, None)
    if party is not None:
        ok, reason = evidence.can_submit(case, party, now)
    return {'items': items, 'can_upload': ok, 'refusal': reason, 'kinds': EVIDENCE_KINDS,
            'upload_url': url_for('evidence.upload', ticket_no=case.ticket_no),
            'limit': evidence.size_text(evidence.limit_bytes()),
            'own_items': [i for i in items if i.party == party and not i.replaced_by],
            'text_of': lambda item: evidence.display_text(item, current_user),
            'may_inline': evidence.may_show_inline, 'mask': mask_text}


def init_app(app):
    app.register_blueprint(bp)
    app.jinja_env.globals['evidence_panel'] = panel_context
