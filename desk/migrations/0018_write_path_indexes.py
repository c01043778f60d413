# Written by hand (the schema diff does not see index predicates).
#
# The merchant-timeout batch (100,000 cases in a minute, bench/deadlines.py) writes per case a
# complaint update, two SLA clocks, two `started` SLA events, a timeline event and a violation;
# each row pays an entry in every index whose predicate it matches. These indexes held rows no
# query reads through them:
# - sla_event: (kind, at) and (department, at) serve only the SLA compliance report, which
#   reads `achieved` and `breached` events in a period — one partial index on those kinds
#   replaces both, so `started`/`paused`/`resumed`/`warned` events (most of the table) get no
#   entry; (owner, at) keeps only events of owned cases (a per-agent lookup names its owner);
# - complaint (owner_id, in_queue), event (actor_id), violation (created_by_id): every query
#   (and the ON DELETE SET NULL of a user) names the owner, actor or author, which implies
#   NOT NULL; unowned cases, system events and automatic violations — most rows — drop out.
from peewee import *

PARTIAL = (  # (index, table, columns, predicate)
    ('complaint_owner_id_in_queue', 'complaint', 'owner_id, in_queue', 'owner_id IS NOT NULL'),
    ('event_actor_id', 'event', 'actor_id', 'actor_id IS NOT NULL'),
    ('violation_created_by_id', 'violation', 'created_by_id', 'created_by_id IS NOT NULL'),
    ('slaevent_owner_id_at', 'sla_event', 'owner_id, at', 'owner_id IS NOT NULL'),
)


def up(migrator, db):
    db.execute_sql("CREATE INDEX sla_event_results ON sla_event (at, department) "
                   "WHERE kind IN ('achieved', 'breached')")
    db.execute_sql('DROP INDEX slaevent_kind_at')
    db.execute_sql('DROP INDEX slaevent_department_at')
    for name, table, columns, predicate in PARTIAL:
        db.execute_sql(f'DROP INDEX {name}')
        db.execute_sql(f'CREATE INDEX {name} ON {table} ({columns}) WHERE {predicate}')


def down(migrator, db):
    for name, table, columns, _predicate in PARTIAL:
        db.execute_sql(f'DROP INDEX {name}')
        db.execute_sql(f'CREATE INDEX {name} ON {table} ({columns})')
    db.execute_sql('CREATE INDEX slaevent_department_at ON sla_event (department, at)')
    db.execute_sql('CREATE INDEX slaevent_kind_at ON sla_event (kind, at)')
    db.execute_sql('DROP INDEX sla_event_results')
