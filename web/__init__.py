"""The adapters of Arbiter Desk, the top floor: every way in for people and systems — the
login (`auth`), the error pages and handlers (`errors`), the interface language (`i18n`), the
buyer portal (`buyer/`), the two Flask-Admin consoles (`consoles/`), the REST API and its
OpenAPI document (`api/`), evidence downloads (`evidence`), the parties' arbitration panel,
the inbox, the `flask desk` commands (`cli`), the demo data (`demo`), and the worker and cron
entry points (`worker`, `cron`).

Adapters parse input, call one service of `desk` or `arbitration`, and render the result or
map the domain error; no business rule lives here. Nothing imports this package but `app.py`
and the entry points.
"""
from web import api, arbitration_panel, auth, cli, consoles, errors, evidence, i18n, inbox
from web.buyer import portal, rating
from web.consoles import penalties


def init_app(app):
    """Register every blueprint, console, template helper and command, in one place."""
    i18n.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(portal.bp)
    inbox.init_app(app)
    api.init_app(app)
    consoles.init_app(app)
    evidence.init_app(app)
    arbitration_panel.init_app(app)
    penalties.init_app(app)
    rating.init_app(app)
    app.cli.add_command(cli.desk_cli)
