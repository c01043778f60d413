"""The one free-text parser (`desk.core.text_input`): stripping, missing, not text, the length
limit, and the control-character rule every service now shares (NUL never; a single-line
field no control character at all)."""
import pytest

from desk.core.errors import Invalid
from desk.core.text_input import clean_text, required_text

CONTROL = 'must not contain control characters'
SINGLE_LINE = 'must not contain control characters or line breaks'


@pytest.fixture(autouse=True)
def _context(app):
    """Messages go through flask_babel, which needs an app context."""
    with app.test_request_context(headers={'Accept-Language': 'en'}):
        yield


def check(value, limit=10, **kwargs):
    fields = {}
    return clean_text(value, 'note', limit, fields, **kwargs), fields


def test_the_value_comes_back_stripped():
    assert check('  hello \n') == ('hello', {})


@pytest.mark.parametrize('value', [None, '', '   ', ' \n\t '])
def test_missing_is_required_or_none_when_optional(value):
    assert check(value) == (None, {'note': 'is required'})
    assert check(value, required=False) == (None, {})


def test_a_caller_may_say_more_than_is_required():
    assert check(None, missing='say why') == (None, {'note': 'say why'})


@pytest.mark.parametrize('value', [42, 1.5, True, ['a'], {'a': 1}])
def test_anything_but_a_string_is_not_text_even_when_optional(value):
    assert check(value) == (None, {'note': 'must be text'})
    assert check(value, required=False) == (None, {'note': 'must be text'})


def test_the_limit_counts_after_stripping_and_is_inclusive():
    assert check('x' * 10) == ('x' * 10, {})
    assert check('  ' + 'x' * 10 + '  ') == ('x' * 10, {})
    assert check('x' * 11) == (None, {'note': 'at most 10 characters'})


@pytest.mark.parametrize('value', ['a\x00b', '\x00', 'ab\x00'])
def test_nul_is_refused_in_every_field(value):
    assert check(value) == (None, {'note': CONTROL})
    assert check(value, single_line=True) == (None, {'note': SINGLE_LINE})


def test_line_breaks_are_text_in_a_multi_line_field_only():
    assert check('line 1\nline 2\r\n\tx', limit=100) == ('line 1\nline 2\r\n\tx', {})
    for value in ('line 1\nline 2', 'a\rb', 'a\tb', 'a\x1bb', 'a\x7fb'):
        assert check(value, single_line=True) == (None, {'note': SINGLE_LINE})


def test_the_first_problem_is_recorded_and_other_fields_are_kept():
    fields = {'other': 'bad'}
    assert clean_text('x' * 20, 'note', 10, fields) is None
    assert fields == {'other': 'bad', 'note': 'at most 10 characters'}


def raised(data, **kwargs):
    with pytest.raises(Invalid) as err:
        required_text(data, 'reason', 10, **kwargs)
    assert err.value.status == 422
    return err.value.message, err.value.fields


def test_required_text_returns_the_stripped_value():
    assert required_text({'reason': ' why \n'}, 'reason', 10) == 'why'
    assert required_text({'reason': 'x' * 10}, 'reason', 10) == 'x' * 10


@pytest.mark.parametrize('data', [{}, {'reason': None}, {'reason': '  '}, None, 'text', ['reason']])
def test_required_text_missing(data):
    assert raised(data) == ('reason is required.', {'reason': 'is required'})
    assert raised(data, missing='Say why.') == ('Say why.', {'reason': 'is required'})


def test_required_text_too_long():
    assert raised({'reason': 'x' * 11}) == ('The text is too long.', {'reason': 'at most 10 characters'})
    assert raised({'reason': 'x' * 11}, too_long='The reason is too long.')[0] == 'The reason is too long.'


def test_required_text_not_text_or_nul():
    assert raised({'reason': 7}) == ('reason must be text.', {'reason': 'must be text'})
    assert raised({'reason': 'a\x00b'}) == ('reason must be text.', {'reason': CONTROL})
    assert raised({'reason': 'a\nb'}, single_line=True) == ('reason must be text.', {'reason': SINGLE_LINE})
    assert required_text({'reason': 'a\nb'}, 'reason', 10) == 'a\nb'
