"""The layout's rules that a linter cannot see (docs/architecture.md).

- Only the lifecycle table names a complaint state to decide anything: services compare
  with `desk.cases.lifecycle`'s constants, groups and predicates, templates ask the model.
- Nothing is registered at import time: each floor's `init_app` does it, so building the
  app twice registers nothing twice.

(`lint-imports` and `ruff` check the import direction and late imports; `.ci/run` runs them.)
"""
import ast
import os
import re

from desk.cases import lifecycle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = ('desk', 'arbitration', 'web')
STATES = set(lifecycle.STATES)
#: Calls whose arguments are states when they are literals.
STATE_CALLS = {'transition', 'transition_many', 'target', 'in_', 'not_in'}


def _python_files():
    for top in CODE + ('app.py',):
        path = os.path.join(ROOT, top)
        if top.endswith('.py'):
            yield path
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if d not in ('migrations', '__pycache__')]
            for name in filenames:
                if name.endswith('.py'):
                    yield os.path.join(dirpath, name)


def _literals(node):
    """State names written as string literals in `node` (a tuple or list of them too)."""
    if isinstance(node, ast.Constant) and node.value in STATES:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in STATES]
    return []


def _is_kind(node):
    """`event.kind`, `kind`: timeline event kinds share some names with states."""
    return (isinstance(node, ast.Attribute) and node.attr == 'kind') or (
        isinstance(node, ast.Name) and node.id == 'kind')


def state_literals(source):
    """(line, state) of every state literal `source` decides with: compared with, passed as
    a target or filter, or written into a `state=` keyword."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left] + list(node.comparators)
            if any(_is_kind(o) for o in operands):
                continue
            for operand in operands:
                found += [(node.lineno, s) for s in _literals(operand)]
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, 'id', '')
            if name in STATE_CALLS:
                for arg in node.args:
                    found += [(node.lineno, s) for s in _literals(arg)]
            for keyword in node.keywords:
                if keyword.arg == 'state':
                    found += [(node.lineno, s) for s in _literals(keyword.value)]
    return found


def test_no_state_literal_decides_outside_the_lifecycle_table():
    problems = []
    for path in _python_files():
        if path.endswith(os.path.join('cases', 'lifecycle.py')):
            continue
        with open(path, encoding='utf-8') as handle:
            for line, state in state_literals(handle.read()):
                problems.append(f'{os.path.relpath(path, ROOT)}:{line}: {state!r}')
    assert not problems, ('use desk.cases.lifecycle (constants, groups, predicates) instead of '
                          'state literals:\n' + '\n'.join(problems))


_JINJA = re.compile(r'{[{%](.*?)[%}]}', re.S)
_QUOTED = re.compile(r'''['"]([a-z_]+)['"]''')


def test_no_template_compares_a_state():
    problems = []
    for dirpath, _dirs, filenames in os.walk(os.path.join(ROOT, 'templates')):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, encoding='utf-8') as handle:
                text = handle.read()
            for match in _JINJA.finditer(text):
                expression = match.group(1)
                if 'state' not in expression:
                    continue
                for word in _QUOTED.findall(expression):
                    if word in STATES:
                        line = text.count('\n', 0, match.start()) + 1
                        problems.append(f'{os.path.relpath(path, ROOT)}:{line}: {word!r}')
    assert not problems, ('templates ask the model (a predicate such as `case.has_workspace`) '
                          'instead of comparing states:\n' + '\n'.join(problems))


def test_the_checker_finds_what_it_looks_for():
    """The rules above must be able to fail."""
    assert state_literals("if c.state == 'resolved': pass") == [(1, 'resolved')]
    assert state_literals("x = c.state in ('closed', 'withdrawn')") == [(1, 'closed'), (1, 'withdrawn')]
    assert state_literals("transition(c, 'rule', 'resolved')") == [(1, 'resolved')]
    assert state_literals("Complaint.update(state='closed')") == [(1, 'closed')]
    assert state_literals("if event.kind == 'appealed': pass") == []
    assert state_literals("record(c, None, 'withdrawn', {})") == []


def test_building_the_app_twice_registers_nothing_twice(app, make_app):
    from desk.agent_desk import assignment, sla
    from desk.cases import complaints, timeline, transitions
    from desk.core import deadlines
    before = (len(timeline.LISTENERS), len(sla.LISTENERS), len(complaints.NEGOTIATION_STARTS),
              len(assignment.ARBITRATION_STARTS), len(assignment.EXCLUDED_FROM),
              len(transitions.GUARD_PREFETCH), dict(transitions.ACTIONS), dict(deadlines.REGISTRY))
    make_app()
    after = (len(timeline.LISTENERS), len(sla.LISTENERS), len(complaints.NEGOTIATION_STARTS),
             len(assignment.ARBITRATION_STARTS), len(assignment.EXCLUDED_FROM),
             len(transitions.GUARD_PREFETCH), dict(transitions.ACTIONS), dict(deadlines.REGISTRY))
    assert before == after


def test_every_action_of_the_table_has_its_service(app):
    """A built action of the lifecycle table is served by a registered service (or it would
    answer 409 'not available yet' for ever)."""
    built = {t.action for t in lifecycle.TABLE if t.built and t.action != 'file'}
    from desk.cases import transitions
    missing = built - set(transitions.ACTIONS) - set(lifecycle.TIMER_ACTIONS)
    assert not missing
