"""SPEC §3: a complaint also filed externally (12315, 黑猫投诉) gets priority in the queue —
after overdue cases, before the rest, whatever its tier or due time."""
from desk.agent_desk import queue
from desk.cases.complaints import mark_external
from desk.core import clock, deadlines
from tests import builders as b


def _order():
    rows, _cursor = queue.page(queue.base_query('cs'), {}, limit=50)
    return [r.ticket_no for r in rows]


def test_external_cases_come_after_overdue_and_before_the_rest(app, frozen):
    late = b.case('O-1')
    clock.advance(hours=1)
    plain = b.case('O-2')
    external = b.case('O-3', external=['12315'])
    assert _order() == [external.ticket_no, late.ticket_no, plain.ticket_no]
    clock.advance(hours=1, minutes=1)  # the first case's 2 h first-response target passes
    deadlines.advance_due()
    assert _order() == [late.ticket_no, external.ticket_no, plain.ticket_no]


def test_marking_external_later_moves_the_case_up(app, frozen):
    first = b.case('O-1')
    second = b.case('O-2')
    assert _order() == [first.ticket_no, second.ticket_no]
    mark_external(b.buyer_login(), b.reload(second), {'external': ['heimao']})
    assert _order() == [second.ticket_no, first.ticket_no]
