"""Settings: defaults, DESK_* overrides, and start-up refusing bad or unsafe values."""
import pytest

import config
from app import create_app
from config import ConfigError, load_config
from config.defaults import DEVELOPMENT_SECRET_KEY, SETTINGS, Setting

GOOD_SECRET = 'a-long-random-production-secret-0123456789abcdef'


def test_defaults_without_environment():
    values = load_config(environ={})
    assert values['ENV'] == 'development'
    assert values['SECRET_KEY'] == DEVELOPMENT_SECRET_KEY
    assert values['DATABASE_URL'] is None
    assert values['REDIS_URL'] is None
    assert values['DATA_DIR'] is None
    assert values['TIMEZONE'] == 'Asia/Shanghai'
    assert values['DEFAULT_LOCALE'] == 'zh'
    assert values['MERCHANT_RESPONSE_SECONDS'] == 86400
    assert values['BUYER_RESPONSE_SECONDS'] == 259200
    assert values['EVIDENCE_SECONDS'] == 172800
    assert values['EDIT_SECONDS'] == 86400
    assert values['RATING_SECONDS'] == 604800
    assert values['APPEAL_SECONDS'] == 604800
    assert values['COMPLAINT_WINDOW_DAYS'] == 15


def test_every_setting_is_documented_and_loaded():
    values = load_config(environ={})
    for setting in SETTINGS:
        assert setting.doc.strip(), setting.name
        assert setting.name in values
    assert set(values) == {s.name for s in SETTINGS}


def test_environment_overrides_every_kind_of_setting():
    values = load_config(environ={
        'DESK_ENV': 'production',
        'DESK_SECRET_KEY': GOOD_SECRET,
        'DESK_DATABASE_URL': 'postgresql://desk@db/desk',
        'DESK_REDIS_URL': 'redis://cache:6379/0',
        'DESK_TIMEZONE': 'Europe/Berlin',
        'DESK_MERCHANT_RESPONSE_SECONDS': ' 3600 ',
        'DESK_COMPLAINT_WINDOW_DAYS': '30',
        'DESK_DEFAULT_LOCALE': 'en',
    })
    assert values['ENV'] == 'production'
    assert values['SECRET_KEY'] == GOOD_SECRET
    assert values['DATABASE_URL'] == 'postgresql://desk@db/desk'
    assert values['REDIS_URL'] == 'redis://cache:6379/0'
    assert values['TIMEZONE'] == 'Europe/Berlin'
    assert values['MERCHANT_RESPONSE_SECONDS'] == 3600
    assert values['COMPLAINT_WINDOW_DAYS'] == 30
    assert values['DEFAULT_LOCALE'] == 'en'
    # untouched settings keep their defaults
    assert values['BUYER_RESPONSE_SECONDS'] == 259200


def test_explicit_overrides_win_over_the_environment():
    values = load_config({'EDIT_SECONDS': 60}, environ={'DESK_EDIT_SECONDS': '120'})
    assert values['EDIT_SECONDS'] == 60


def test_zero_is_a_valid_window():
    assert load_config(environ={'DESK_EDIT_SECONDS': '0'})['EDIT_SECONDS'] == 0


@pytest.mark.parametrize('raw', ['abc', '1.5', '1e3', '', '12 hours', '0x10'])
def test_non_integer_window_names_the_variable(raw):
    with pytest.raises(ConfigError) as err:
        load_config(environ={'DESK_MERCHANT_RESPONSE_SECONDS': raw})
    assert 'DESK_MERCHANT_RESPONSE_SECONDS' in str(err.value)
    assert 'whole number' in str(err.value)


def test_negative_window_names_the_variable():
    with pytest.raises(ConfigError) as err:
        load_config(environ={'DESK_APPEAL_SECONDS': '-5'})
    assert 'DESK_APPEAL_SECONDS' in str(err.value)
    assert 'negative' in str(err.value)


def test_negative_override_is_refused_too():
    with pytest.raises(ConfigError, match='DESK_LOGIN_LOCK_SECONDS'):
        load_config({'LOGIN_LOCK_SECONDS': -1}, environ={})


@pytest.fixture
def bool_setting(monkeypatch):
    """No shipped setting is a flag yet; add one to check how flags are read."""
    monkeypatch.setattr(config, 'SETTINGS', SETTINGS + [Setting('FEATURE_X', bool, False, 'a flag')])


@pytest.mark.parametrize('raw, expected', [
    ('1', True), ('true', True), ('Yes', True), (' on ', True),
    ('0', False), ('false', False), ('NO', False), ('off', False),
])
def test_flags_read_common_spellings(bool_setting, raw, expected):
    assert load_config(environ={'DESK_FEATURE_X': raw})['FEATURE_X'] is expected


@pytest.mark.parametrize('raw', ['maybe', '2', 'enabled'])
def test_bad_flag_names_the_variable(bool_setting, raw):
    with pytest.raises(ConfigError) as err:
        load_config(environ={'DESK_FEATURE_X': raw})
    assert 'DESK_FEATURE_X' in str(err.value)
    assert 'true or false' in str(err.value)


@pytest.mark.parametrize('raw', ['staging', 'Production', ''])
def test_unknown_env_choice_lists_the_choices(raw):
    with pytest.raises(ConfigError) as err:
        load_config(environ={'DESK_ENV': raw, 'DESK_SECRET_KEY': GOOD_SECRET})
    message = str(err.value)
    assert 'DESK_ENV' in message
    for choice in ('development', 'production', 'testing'):
        assert choice in message


def test_unknown_locale_choice():
    with pytest.raises(ConfigError, match='DESK_DEFAULT_LOCALE'):
        load_config(environ={'DESK_DEFAULT_LOCALE': 'fr'})


@pytest.mark.parametrize('raw', ['Mars/Olympus', 'Beijing', '', '../etc/passwd'])
def test_unknown_timezone_names_the_variable(raw):
    with pytest.raises(ConfigError) as err:
        load_config(environ={'DESK_TIMEZONE': raw})
    assert 'DESK_TIMEZONE' in str(err.value)


def test_unknown_override_names_are_refused():
    with pytest.raises(ConfigError) as err:
        load_config({'MERCHANT_RESPONSE_SECOND': 10, 'NOPE': 1}, environ={})
    assert 'MERCHANT_RESPONSE_SECOND' in str(err.value)
    assert 'NOPE' in str(err.value)


@pytest.mark.parametrize('env', ['production', 'testing'])
@pytest.mark.parametrize('secret', [None, '', DEVELOPMENT_SECRET_KEY])
def test_outside_development_a_real_secret_is_required(env, secret):
    environ = {'DESK_ENV': env}
    if secret is not None:
        environ['DESK_SECRET_KEY'] = secret
    with pytest.raises(ConfigError) as err:
        load_config(environ=environ)
    message = str(err.value)
    assert 'DESK_SECRET_KEY' in message
    assert env in message
    assert 'secrets.token_hex' in message  # tells the operator how to make one


def test_production_starts_with_a_real_secret():
    values = load_config(environ={'DESK_ENV': 'production', 'DESK_SECRET_KEY': GOOD_SECRET})
    assert values['SECRET_KEY'] == GOOD_SECRET


def test_development_falls_back_to_the_development_secret():
    assert load_config(environ={'DESK_ENV': 'development'})['SECRET_KEY'] == DEVELOPMENT_SECRET_KEY


def test_create_app_refuses_production_without_secret(monkeypatch, tmp_path):
    monkeypatch.setenv('DESK_ENV', 'production')
    monkeypatch.delenv('DESK_SECRET_KEY', raising=False)
    with pytest.raises(ConfigError, match='DESK_SECRET_KEY'):
        create_app({'DATABASE_URL': 'sqlite:///' + str(tmp_path / 'x.sqlite3')})


def test_create_app_refuses_the_development_secret_in_production(tmp_path):
    with pytest.raises(ConfigError, match='DESK_SECRET_KEY'):
        create_app({'ENV': 'production', 'SECRET_KEY': DEVELOPMENT_SECRET_KEY,
                    'DATABASE_URL': 'sqlite:///' + str(tmp_path / 'x.sqlite3')})


def test_create_app_refuses_a_bad_window(tmp_path):
    with pytest.raises(ConfigError, match='DESK_EVIDENCE_SECONDS'):
        create_app({'ENV': 'testing', 'SECRET_KEY': GOOD_SECRET, 'EVIDENCE_SECONDS': 'two days',
                    'DATABASE_URL': 'sqlite:///' + str(tmp_path / 'x.sqlite3')})


def test_create_app_applies_settings(tmp_path):
    app = create_app({'ENV': 'testing', 'SECRET_KEY': GOOD_SECRET, 'EDIT_SECONDS': 42,
                      'DATABASE_URL': 'sqlite:///' + str(tmp_path / 'x.sqlite3')})
    assert app.config['EDIT_SECONDS'] == 42
    assert app.config['SECRET_KEY'] == GOOD_SECRET
    assert app.testing
