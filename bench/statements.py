"""The statements the desk sends to its database, seen from a benchmark: how many, and where
the database time goes per statement kind ("INSERT sla_event", "UPDATE complaint", …).

One helper for every bench that asks either question (standing GETs and workspace pages
count statements; the deadline sweeps time them), so they count the same thing the same
way. It wraps the database class's `execute_sql` and `commit` while active: no cProfile
overhead on the Python side, and nothing of it left behind afterwards.
"""
import re
import time


class Statements:
    """Use as `with Statements() as statements:`; `reset()` between samples, `count` for the
    statements since (commits not included), `report(wall)` for the time per kind."""
    WRITE = re.compile(r'(?:^\s*|\)\s*)(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)', re.I)  # also after a WITH
    READ = re.compile(r'^\s*SELECT\b.*?\bFROM\s+"?(\w+)', re.S | re.I)

    @classmethod
    def kind(cls, sql):
        """'UPDATE complaint', 'SELECT violation', 'BEGIN', …: the verb and the table."""
        found = cls.WRITE.match(sql) or (cls.WRITE.search(sql) if sql.lstrip()[:4].upper() == 'WITH' else None)
        if found:
            return f'{found.group(1).upper()} {found.group(2)}'
        found = cls.READ.match(sql)
        return f'SELECT {found.group(1)}' if found else sql.split(None, 1)[0].upper() if sql.strip() else '?'

    def __init__(self):
        self.totals = {}

    def reset(self):
        self.totals = {}

    @property
    def count(self):
        return sum(count for kind, (count, _seconds) in self.totals.items() if kind != 'COMMIT')

    def _add(self, kind, began):
        count, seconds = self.totals.get(kind, (0, 0.0))
        self.totals[kind] = (count + 1, seconds + time.perf_counter() - began)

    def __enter__(self):
        from desk.core.db import database
        db_class = type(database.obj)
        self.restore = db_class, db_class.execute_sql, db_class.commit
        _cls, execute_sql, commit = self.restore

        def timed_execute_sql(db, sql, params=None, *rest, **kw):
            began = time.perf_counter()
            try:
                return execute_sql(db, sql, params, *rest, **kw)
            finally:
                self._add(self.kind(sql), began)

        def timed_commit(db, *a, **kw):
            began = time.perf_counter()
            try:
                return commit(db, *a, **kw)
            finally:
                self._add('COMMIT', began)

        db_class.execute_sql, db_class.commit = timed_execute_sql, timed_commit
        return self

    def __exit__(self, *exc):
        db_class, db_class.execute_sql, db_class.commit = self.restore

    def report(self, wall):
        spent = sum(seconds for _count, seconds in self.totals.values())
        print(f'SQL: {spent:.1f}s of {wall:.1f}s wall ({spent / wall:.0%}); by statement kind:', flush=True)
        for key, (count, seconds) in sorted(self.totals.items(), key=lambda item: -item[1][1])[:20]:
            print(f'  {seconds:7.2f}s  {count:6,}x  {key}', flush=True)
