"""`python -m config` prints the README's configuration table from `config.defaults`."""
from config.defaults import SETTINGS


def settings_table():
    rows = ['| variable | default | meaning |', '|---|---|---|']
    for s in SETTINGS:
        default = '—' if s.default is None else f'`{s.default}`'
        rows.append(f'| `DESK_{s.name}` | {default} | {s.doc} |')
    return '\n'.join(rows)


if __name__ == '__main__':
    print(settings_table())
