"""`flask --app app desk …` commands: migrate, create-user, create-api-key, seed-demo, and the
maintenance ones (rebuilds, purge-orphan-files)."""
import datetime as dt
import sys
import time

import click
from flask.cli import AppGroup

from arbitration.penalties.standing import recompute_all
from arbitration.storage_sweep import purge_orphans
from desk.cases.timeline import verify_all
from desk.core.db import connection
from desk.core.errors import DomainError
from desk.core.migrate import migrate
from desk.parties import accounts
from desk.parties.models import DEPARTMENTS, ROLES, User
from desk.satisfaction import metrics
from web.buyer.links import make_token
from web.demo import DEMO_PASSWORD, demo_logins, seed_demo

desk_cli = AppGroup('desk', help='Arbiter Desk administration.')


def _fail(err):
    click.echo(f'error: {err.message}', err=True)
    for field, message in err.fields.items():
        click.echo(f'  {field}: {message}', err=True)
    sys.exit(1)


@desk_cli.command('migrate')
def migrate_command():
    """Apply pending schema migrations (safe to run again)."""
    applied = migrate()
    click.echo('applied: ' + ', '.join(applied) if applied else 'database is up to date')


@desk_cli.command('create-user')
@click.option('--username', required=True)
@click.option('--password', required=True)
# Role and department are checked by accounts.create_user (one rule, one message, exit 1).
@click.option('--role', required=True, help='one of: ' + ', '.join(ROLES))
@click.option('--department', help='for agents, one of: ' + ', '.join(DEPARTMENTS))
@click.option('--merchant', 'merchant_ref', help='merchant ref, for merchant staff')
@click.option('--buyer', 'buyer_ref', help='buyer ref, for buyer accounts')
@click.option('--name', 'display_name')
def create_user_command(username, password, role, department, merchant_ref, buyer_ref, display_name):
    """Create a user of any role."""
    with connection():
        try:
            user = accounts.create_user(username, password, role, display_name=display_name,
                                        department=department, merchant_ref=merchant_ref,
                                        buyer_ref=buyer_ref)
        except DomainError as err:
            _fail(err)
    click.echo(f'created {user.role} {user.username}')


@desk_cli.command('create-api-key')
@click.option('--user', 'username', required=True)
@click.option('--name', default='default')
def create_api_key_command(username, name):
    """Create an API key for a user and print it (it is shown only this once)."""
    with connection():
        user = User.get_or_none(User.username == username)
        if user is None:
            click.echo(f'error: no user {username!r}', err=True)
            sys.exit(1)
        try:
            _key, secret = accounts.create_api_key(user, name)
        except DomainError as err:
            _fail(err)
    click.echo(secret)


@desk_cli.command('seed-demo')
@click.option('--if-empty', is_flag=True, help='do nothing when users already exist')
def seed_demo_command(if_empty):
    """Fill the database with a believable demo marketplace and print the logins."""
    with connection():
        if if_empty and User.select().exists():
            click.echo('demo data already present')
            logins = None
        else:
            try:
                logins = seed_demo()
            except DomainError as err:  # e.g. the demo logins exist already
                _fail(err)
    if logins:
        click.echo(f'Demo logins (password for all: {DEMO_PASSWORD}):')
        for role, username in logins:
            click.echo(f'  {role:15} {username}')


@desk_cli.command('show-logins')
def show_logins_command():
    """Print the demo logins again."""
    with connection():
        click.echo(f'Demo logins (password for all: {DEMO_PASSWORD}):')
        for role, username in demo_logins():
            click.echo(f'  {role:15} {username}')


@desk_cli.command('verify-audit')
def verify_audit_command():
    """Walk every complaint's hash-chained timeline; exit 1 naming any that was altered."""
    broken = 0
    with connection():
        for ticket_no, problem in verify_all():
            broken += 1
            click.echo(f'{ticket_no}: {problem}')
    if broken:
        click.echo(f'{broken} complaint(s) with an altered history', err=True)
        sys.exit(1)
    click.echo('every timeline is intact')


@desk_cli.command('buyer-link')
@click.option('--buyer', 'buyer_ref', required=True)
@click.option('--order', 'order_no', required=True)
@click.option('--base-url', default='http://127.0.0.1:5000')
def buyer_link_command(buyer_ref, order_no, base_url):
    """Print a signed one-hour portal link, as the marketplace app would make it."""
    click.echo(f'{base_url.rstrip("/")}/buyer/complain?token={make_token(buyer_ref, order_no)}')


@desk_cli.command('rebuild-metrics')
def rebuild_metrics_command():
    """Recompute the agent-metric rollups from the raw tables (docs/metrics.md)."""
    with connection():
        rows = metrics.rebuild()
    click.echo(f'rebuilt the metric rollup: {rows} day row(s)')


@desk_cli.command('rebuild-standing')
def rebuild_standing_command():
    """Recompute every merchant's standing from its violations and deposit (docs/penalties.md);
    only merchants whose level or restrictions change are notified."""
    started = time.perf_counter()
    with connection():
        merchants, changed, announced = recompute_all()
    click.echo(f'rebuilt the standing of {merchants} merchant(s): {changed} row(s) changed, '
               f'{announced} change(s) announced ({time.perf_counter() - started:.1f} s)')


@desk_cli.command('purge-orphan-files')
@click.option('--grace-hours', type=click.FloatRange(min=0), default=None,
              help='delete only files older than this; default DESK_ORPHAN_GRACE_SECONDS (a day)')
@click.option('--dry-run', is_flag=True, help='list and count what would be deleted, delete nothing')
def purge_orphan_files_command(grace_hours, dry_run):
    """Delete evidence files no row refers to (left by failed uploads) and stray temporary
    upload files older than the grace period (docs/evidence.md); the daily job does the same."""
    grace = None if grace_hours is None else dt.timedelta(hours=grace_hours)
    with connection():
        result = purge_orphans(grace=grace, dry_run=dry_run)
    click.echo(f'{"would delete" if dry_run else "deleted"} {result.files} file(s), '
               f'{result.bytes} byte(s) ({result.temporary} temporary)')
