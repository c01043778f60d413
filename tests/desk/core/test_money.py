"""Money: yuan strings in, integer fen inside, ¥49.90 out."""
import pytest

from desk.core.errors import Invalid
from desk.core.money import MAX_FEN, format_money, parse_yuan, to_yuan


@pytest.mark.parametrize('raw, fen', [
    ('0.01', 1),
    ('0.1', 10),
    ('49.9', 4990),
    ('49.90', 4990),
    ('49', 4900),
    ('0', 0),
    ('0.00', 0),
    (' 12.30 ', 1230),
    ('5000.00', 500000),
    ('10000000.00', 1_000_000_000),
])
def test_parse_valid_amounts(raw, fen):
    assert parse_yuan(raw) == fen


def _invalid(raw, **kwargs):
    with pytest.raises(Invalid) as err:
        parse_yuan(raw, 'amount', **kwargs)
    assert set(err.value.fields) == {'amount'}, 'the error names the field'
    assert 'amount' in err.value.message
    return err.value.fields['amount']


@pytest.mark.parametrize('raw', ['1e3', '1E3', '1,000', '¥49.90', '49.9.0', '.5', '49.', 'abc',
                                 '049.90', '4 9', '+5', '４９', 'NaN', 'inf'])
def test_malformed_amounts_are_refused(raw):
    message = _invalid(raw)
    assert '49.90' in message  # the message shows the expected shape


def test_negative_is_refused_with_its_own_message():
    assert 'negative' in _invalid('-1')
    assert 'negative' in _invalid('-0.01')


def test_more_than_two_decimals():
    assert 'two decimals' in _invalid('12.345')
    assert 'two decimals' in _invalid('0.001')


@pytest.mark.parametrize('raw', ['', '  ', None])
def test_blank_or_missing_is_required(raw):
    assert _invalid(raw) == 'is required'


@pytest.mark.parametrize('raw', [49.9, 49, 4990, True, ['49.90'], {'yuan': 49}])
def test_numbers_are_refused_because_floats_lose_fen(raw):
    assert 'string' in _invalid(raw)


def test_zero_may_be_refused():
    assert 'more than 0' in _invalid('0', allow_zero=False)
    assert 'more than 0' in _invalid('0.00', allow_zero=False)
    assert parse_yuan('0.01', allow_zero=False) == 1


@pytest.mark.parametrize('raw', ['10000000.01', '99999999', '999999999999.99', '1' + '0' * 30])
def test_huge_amounts_are_refused_not_overflowed(raw):
    assert 'at most' in _invalid(raw)


def test_max_fen_fits_a_32_bit_integer_column():
    assert MAX_FEN < 2 ** 31
    assert parse_yuan(to_yuan(MAX_FEN)) == MAX_FEN


def test_default_field_name():
    with pytest.raises(Invalid) as err:
        parse_yuan('x')
    assert 'amount' in err.value.fields


def test_custom_field_name_is_reported():
    with pytest.raises(Invalid) as err:
        parse_yuan('x', 'refund_amount')
    assert list(err.value.fields) == ['refund_amount']


@pytest.mark.parametrize('fen, text', [
    (0, '0.00'), (1, '0.01'), (10, '0.10'), (4990, '49.90'), (4900, '49.00'),
    (123450, '1234.50'), (-4990, '-49.90'), (-1, '-0.01'),
])
def test_to_yuan(fen, text):
    assert to_yuan(fen) == text


@pytest.mark.parametrize('fen', [0, 1, 99, 4990, 123456789])
def test_round_trip(fen):
    assert parse_yuan(to_yuan(fen)) == fen


@pytest.mark.parametrize('fen, text', [
    (4990, '¥49.90'), (123450, '¥1,234.50'), (0, '¥0.00'), (5, '¥0.05'),
    (100000000, '¥1,000,000.00'), (-4990, '-¥49.90'), (-123450, '-¥1,234.50'), (None, ''),
])
def test_format_money(fen, text):
    assert format_money(fen) == text
