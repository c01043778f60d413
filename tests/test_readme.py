"""The README's configuration table is exactly what `python -m config` prints."""
import os
import re

from config.__main__ import settings_table
from tests.support import ROOT


def test_settings_table_is_current():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    match = re.search(r'<!-- settings-table -->\n(.*?)\n<!-- /settings-table -->', text, re.S)
    assert match, 'README.md lost its settings-table markers'
    assert match.group(1) == settings_table(), \
        'README configuration table is stale: paste the output of `python -m config`'


def test_readme_starts_with_the_two_commands():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        commands = re.findall(r'^make (\w+)', f.read(), re.M)
    assert commands[:2] == ['run', 'test']
