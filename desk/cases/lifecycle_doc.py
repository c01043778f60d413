"""Render docs/lifecycle.md from the lifecycle table (`desk.cases.lifecycle.TABLE`).

    python -m desk.cases.lifecycle_doc            # rewrite docs/lifecycle.md
    python -m desk.cases.lifecycle_doc --check    # exit 1 when docs/lifecycle.md is out of date

tests/desk/cases/test_lifecycle.py fails when the committed file differs from a fresh render, so
a change to the table is a change to the document in the same commit.
"""
import os
import sys

from desk.cases import lifecycle
from desk.cases.lifecycle import STATES

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'docs', 'lifecycle.md')
COMMAND = 'python -m desk.cases.lifecycle_doc'

INTRO = """\
# Complaint lifecycle

<!-- Generated from desk/cases/lifecycle.py by `{command}`; do not edit by hand. -->

Every console, the API and the services read the complaint lifecycle from one table,
`desk.cases.lifecycle.TABLE`. This page is rendered from it. A complaint moves only through the
rows below; `allowed_actions` in every complaint representation lists the rows the calling
user may take now.

States: {states}.

{groups}

**who** names the actor's relation to the case, not a role: `buyer` (the case's buyer, or
the integration acting for them with `X-On-Behalf-Of`), `merchant` (staff of the case's
merchant), `owner` (the agent who owns the case), `agent` (an agent or senior agent of its
department, or its owner), `senior` (a senior agent of its department), `supervisor`,
`admin`, `system` (a timer: never callable from outside).

**to** is `same` when the action leaves the state as it is. **guard** names the extra check
the service makes before the row applies (a window, a capacity, an evidence rule);
**built** says whether the action is implemented yet.

The API (`POST /api/v1/complaints/<ticket_no>/actions/<action>`) answers from this table:
404 for an unknown action or a case the caller may not see; 403 for an action the caller may
never take on this case (every timer action included); 409 when the state is not one the
action starts from, a guard refuses, or the row is not built yet ("not available yet").
`file` has its own endpoint, `POST /api/v1/complaints`.
"""


def _cell(value):
    return str(value).replace('|', '\\|').replace('\n', ' ')


def _codes(values):
    return ', '.join(f'`{v}`' for v in values)


#: Names for the state groups the table uses, as SPEC §3a says them.
GROUPS = ((('new',), '(new)'),
          (lifecycle.OPEN_BEFORE_RULING, 'any open state before a ruling'),
          (lifecycle.OPEN, 'any open state'))


def _states(states):
    for group, name in GROUPS:
        if tuple(states) == tuple(group):
            return name
    return _codes(states)


def render():
    """The markdown text of docs/lifecycle.md."""
    groups = '\n'.join(f'- {name}: {_codes(group)}' for group, name in GROUPS[1:])
    lines = [INTRO.format(command=COMMAND, states=_codes(STATES), groups=groups),
             '| from | action | who | to | guard | note | built |',
             '|---|---|---|---|---|---|---|']
    for t in lifecycle.TABLE:
        targets = 'same' if set(t.targets) == set(t.sources) else _states(t.targets)
        lines.append('| ' + ' | '.join(_cell(c) for c in (
            _states(t.sources), f'`{t.action}`', ', '.join(t.actors), targets,
            f'`{t.guard}`' if t.guard else '—', t.note, 'yes' if t.built else 'not yet')) + ' |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if '--check' in argv:
        try:
            with open(PATH, encoding='utf-8') as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f'{PATH} is out of date: run `{COMMAND}`', file=sys.stderr)
            return 1
        print(f'{PATH} is up to date')
        return 0
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    with open(PATH, 'w', encoding='utf-8') as handle:
        handle.write(text)
    print(f'wrote {PATH}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
