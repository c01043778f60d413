"""Agent metrics at scale: the leaderboard and a per-agent page for a 90-day period, read
from the rollup (`metric_day`), against the same numbers computed with a live GROUP BY over
the raw tables (event, sla_event, rating, complaint, ruling, appeal) in the same run.

    python bench/metrics.py --database-url postgresql://postgres@127.0.0.1:5432/bench

PostgreSQL only. The database holds the complaints, their timelines and SLA events (e.g.
the 1,000,000-complaint `bench`); it need not have migration 0010: the script creates the
tables `rating`, `metric_day` and `metric_weights` when they are missing, inserts
`--ratings` ratings (one per resolved complaint, stars skewed like real ratings, owned by
the complaint's agent or, for agreements, its merchant), fills the rollup with one set-based
statement (the same counters `desk.satisfaction.metrics.contribution` gives per complaint; checked for a
sample of complaints below), measures, and removes everything it added (tables it created
are dropped; `--keep` keeps them).

Measured in-process through the WSGI app (routing, session, queries, template), as a
supervisor: GET /admin/leaderboard/?period=90d and GET /admin/agent-metrics/<id>?period=90d
for the agents with the most cases. "live" runs the leaderboard's and the agent's figures as
one GROUP BY over the raw tables (CTEs: first agent resolution per complaint, first
response, deciding SLA event per target, ratings) — what a page would cost without rollups.
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

AGENT_ROLES = "('agent', 'senior_agent')"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--database-url', required=True)
    parser.add_argument('--ratings', type=int, default=600000)
    parser.add_argument('--requests', type=int, default=20)
    parser.add_argument('--live-runs', type=int, default=5)
    parser.add_argument('--agents', type=int, default=5, help='agents whose page is measured')
    parser.add_argument('--keep', action='store_true', help='keep the ratings and rollup afterwards')
    return parser.parse_args(argv)


def local_day(column, tz):
    return f"(({column} AT TIME ZONE 'UTC') AT TIME ZONE '{tz}')::date"


def facts_sql(tz, start=None, end=None, agent=None):
    """One row per contribution (subject, department, day, counters, seconds, bucket) from the
    raw tables, as docs/metrics.md defines them; optionally only days start..end / one agent."""
    from desk.satisfaction.metrics import BUCKET_RATIO
    from desk.satisfaction.models import HANDLE_BUCKETS
    day_of = lambda col: local_day(col, tz)  # noqa: E731
    period = (lambda col: f" AND {day_of(col)} BETWEEN '{start}' AND '{end}'") if start else (lambda col: '')
    only = (lambda col: f' AND {col} = {int(agent)}') if agent is not None else (lambda col: '')
    return f"""
    WITH first_res AS (
        SELECT DISTINCT ON (e.complaint_id) e.complaint_id, e.actor_id AS agent, e.at, e.seq
        FROM event e
        WHERE e.kind IN ('ruled', 'resolved') AND e.actor_role IN {AGENT_ROLES} AND e.actor_id IS NOT NULL
        ORDER BY e.complaint_id, e.seq),
    fr AS (
        SELECT DISTINCT ON (s.complaint_id) s.complaint_id, s.owner_id, s.at, s.department
        FROM sla_event s JOIN first_res f ON f.complaint_id = s.complaint_id
        WHERE s.target = 'first_response' AND s.kind = 'achieved'
        ORDER BY s.complaint_id, s.id),
    cases AS (
        SELECT f.agent AS subject, COALESCE(fr.department, c.department) AS department, f.at,
               CASE WHEN COALESCE(fr.owner_id, f.agent) = f.agent AND NOT reo.x AND NOT ovr.x THEN 1 ELSE 0 END AS fcr,
               CASE WHEN reo.x THEN 1 ELSE 0 END AS reopened,
               CASE WHEN EXISTS (SELECT 1 FROM appeal a WHERE a.complaint_id = f.complaint_id) THEN 1 ELSE 0 END AS appealed,
               CASE WHEN ovr.x THEN 1 ELSE 0 END AS overturned,
               GREATEST(0, FLOOR(EXTRACT(EPOCH FROM f.at - COALESCE(fr.at, c.created_at))))::bigint AS secs
        FROM first_res f
        JOIN complaint c ON c.id = f.complaint_id
        LEFT JOIN fr ON fr.complaint_id = f.complaint_id
        CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM event r WHERE r.complaint_id = f.complaint_id
                                           AND r.kind = 'reopened' AND r.seq > f.seq) AS x) reo
        CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM ruling u WHERE u.complaint_id = f.complaint_id
                                           AND u.overturned) AS x) ovr
        WHERE TRUE {period('f.at')} {only('f.agent')}),
    deciding AS (
        SELECT DISTINCT ON (s.complaint_id, s.target) s.target, s.kind, s.at, s.owner_id, s.department
        FROM sla_event s
        WHERE s.kind IN ('achieved', 'breached')
        ORDER BY s.complaint_id, s.target, (s.kind <> 'breached'), s.id),
    facts AS (
        SELECT 'agent' AS kind, subject, department, {day_of('at')} AS day, 1 AS handled, fcr, reopened,
               appealed, overturned, secs AS handle_seconds,
               LEAST({HANDLE_BUCKETS - 1}, FLOOR(LN(secs / 60.0 + 1) / LN({BUCKET_RATIO})))::int AS bucket,
               0 AS rated, 0 AS stars, 0 AS satisfied, 0 AS dissatisfied, 0 AS excluded,
               0 AS fr_met, 0 AS fr_total, 0 AS res_met, 0 AS res_total
        FROM cases
        UNION ALL
        SELECT CASE WHEN r.agent_id IS NULL THEN 'merchant' ELSE 'agent' END, COALESCE(r.agent_id, r.merchant_id),
               COALESCE(r.department, '-'), {day_of('r.rated_at')}, 0, 0, 0, 0, 0, 0, NULL,
               CASE WHEN r.excluded THEN 0 ELSE 1 END, CASE WHEN r.excluded THEN 0 ELSE r.stars END,
               CASE WHEN NOT r.excluded AND r.stars >= 4 THEN 1 ELSE 0 END,
               CASE WHEN NOT r.excluded AND r.stars <= 2 THEN 1 ELSE 0 END,
               CASE WHEN r.excluded THEN 1 ELSE 0 END, 0, 0, 0, 0
        FROM rating r
        WHERE COALESCE(r.agent_id, r.merchant_id) IS NOT NULL {period('r.rated_at')} {only('r.agent_id')}
        UNION ALL
        SELECT 'agent', d.owner_id, d.department, {day_of('d.at')}, 0, 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0, 0,
               CASE WHEN d.target = 'first_response' AND d.kind = 'achieved' THEN 1 ELSE 0 END,
               CASE WHEN d.target = 'first_response' THEN 1 ELSE 0 END,
               CASE WHEN d.target = 'resolution' AND d.kind = 'achieved' THEN 1 ELSE 0 END,
               CASE WHEN d.target = 'resolution' THEN 1 ELSE 0 END
        FROM deciding d
        WHERE d.owner_id IS NOT NULL {period('d.at')} {only('d.owner_id')})
    """


COUNTER_SUMS = ('handled', 'fcr', 'reopened', 'appealed', 'overturned', 'handle_seconds', 'rated', 'stars',
                'satisfied', 'dissatisfied', 'excluded', 'fr_met', 'fr_total', 'res_met', 'res_total')


def fill_rollup_sql(tz):
    from desk.satisfaction.models import HANDLE_BUCKETS
    buckets = ', '.join(f'h{n:02d}' for n in range(HANDLE_BUCKETS))
    bucket_sums = ', '.join(f'SUM(CASE WHEN bucket = {n} THEN 1 ELSE 0 END)' for n in range(HANDLE_BUCKETS))
    sums = ', '.join(f'SUM({c})' for c in COUNTER_SUMS)
    return (facts_sql(tz) + f"""
    INSERT INTO metric_day (subject_kind, subject, department, day, {', '.join(COUNTER_SUMS)}, {buckets})
    SELECT kind, subject, department, day, {sums}, {bucket_sums}
    FROM facts GROUP BY kind, subject, department, day""")


def live_sql(tz, start, end, agent=None):
    """The figures' inputs per agent (sums and the exact median) straight from the raw tables."""
    sums = ', '.join(f'SUM({c}) AS {c}' for c in COUNTER_SUMS)
    return (facts_sql(tz, start, end, agent) + f"""
    SELECT subject, {sums},
           percentile_cont(0.5) WITHIN GROUP (ORDER BY handle_seconds) FILTER (WHERE handled = 1) AS median
    FROM facts WHERE kind = 'agent' GROUP BY subject""")


def timed(fn, runs):
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), result


def main(argv=None):
    args = parse_args(argv)
    from app import create_app
    app = create_app({'ENV': 'testing', 'SECRET_KEY': 'bench-metrics', 'DATABASE_URL': args.database_url,
                      'REDIS_URL': None})
    from desk.core.db import database
    from desk.parties.models import User
    from desk.satisfaction import metrics
    from desk.satisfaction.models import MetricDay, MetricWeights, Rating, Review
    from tests.support import isolated_client
    tz = app.config['TIMEZONE']
    created = []
    with app.app_context():
        database.connect(reuse_if_open=True)
        for model in (Rating, Review, MetricDay, MetricWeights):
            if database.table_exists(model._meta.table_name):
                if model.select().exists():
                    sys.exit(f'{model._meta.table_name} already holds rows: run on a database without ratings')
            else:
                create_without_foreign_keys(database, model)
                created.append(model)
        try:
            run(args, app, tz, database, metrics, User, MetricDay, Rating, isolated_client)
        finally:
            if args.keep:
                print('kept the ratings and the rollup (--keep)')
            else:
                started = time.perf_counter()
                database.close()  # whatever a failed request left open is rolled back
                database.connect()
                for model in (Rating, Review, MetricDay, MetricWeights):
                    if model in created:
                        database.execute_sql(f'DROP TABLE IF EXISTS "{model._meta.table_name}"')
                    else:
                        model.delete().execute()
                print(f'removed the ratings and the rollup in {time.perf_counter() - started:.1f}s')
            database.close()


def create_without_foreign_keys(database, model):
    """The model's table and indexes, but no foreign-key constraints: the bench database may
    be written by other processes meanwhile, and an FK would tie our CREATE/DROP to their locks
    on complaint and user."""
    import re
    sql, params = model._schema._create_table(safe=True).query()
    sql = re.sub(r', FOREIGN KEY \("\w+"\) REFERENCES "\w+" \("\w+"\)( ON DELETE (CASCADE|SET NULL|RESTRICT))?', '', sql)
    assert 'FOREIGN KEY' not in sql, sql
    database.execute_sql(sql, params)
    model._schema.create_indexes(safe=True)


def run(args, app, tz, database, metrics, User, MetricDay, Rating, isolated_client):
    counts = database.execute_sql(
        "SELECT (SELECT COUNT(*) FROM complaint), (SELECT COUNT(*) FROM \"user\" WHERE role IN "
        f"{AGENT_ROLES}), (SELECT COUNT(*) FROM event), (SELECT COUNT(*) FROM sla_event)").fetchone()
    print(f'database: {counts[0]:,} complaints, {counts[1]} agents, {counts[2]:,} events, '
          f'{counts[3]:,} SLA events', flush=True)
    started = time.perf_counter()
    database.execute_sql(f"""
        INSERT INTO rating (complaint_id, round, resolved_at, stars, tags, comment, agent_id, merchant_id,
                            department, rated_at, excluded)
        SELECT c.id, 1, c.resolved_at, (ARRAY[1, 2, 3, 4, 4, 5, 5, 5, 5, 3])[1 + (c.id::bigint * 7919) %% 10],
               CASE WHEN c.id %% 10 < 2 THEN '["slow"]' ELSE '[]' END, NULL,
               CASE WHEN u.role IN {AGENT_ROLES} THEN c.owner_id END,
               CASE WHEN u.role IN {AGENT_ROLES} THEN NULL ELSE c.merchant_id END,
               c.department, c.resolved_at + (c.id %% 144) * INTERVAL '30 minutes', c.id %% 97 = 0
        FROM complaint c LEFT JOIN "user" u ON u.id = c.owner_id
        WHERE c.resolved_at IS NOT NULL AND c.id %% 4 <> 0
        ORDER BY c.id
        LIMIT %s""", (args.ratings,))
    rated = Rating.select().count()
    print(f'inserted {rated:,} ratings in {time.perf_counter() - started:.1f}s '
          f'({Rating.select().where(Rating.agent.is_null(False)).count():,} of agents)', flush=True)
    started = time.perf_counter()
    database.execute_sql(fill_rollup_sql(tz))
    database.execute_sql('ANALYZE metric_day')
    database.execute_sql('ANALYZE rating')
    print(f'rollup filled with one GROUP BY in {time.perf_counter() - started:.1f}s: '
          f'{MetricDay.select().count():,} day rows', flush=True)

    check_sample(database, metrics, MetricDay, tz)

    start, end = metrics.period('90d')
    busiest = [r[0] for r in database.execute_sql(
        "SELECT subject FROM metric_day WHERE subject_kind = 'agent' GROUP BY subject "
        "ORDER BY SUM(handled) DESC LIMIT %s", (args.agents,))]
    from desk.parties import accounts
    from tests.conftest import PASSWORD, login
    supervisor = accounts.create_user(f'bench-metrics-{os.getpid()}', PASSWORD, 'supervisor')
    try:
        client = isolated_client(app)
        assert login(client, supervisor.username).status_code == 302
        measure(args, app, tz, database, metrics, busiest, start, end, client)
    finally:
        from desk.parties.models import ApiKey, LoginFailure
        for model in (ApiKey, LoginFailure):
            if 'user' in model._meta.fields:
                model.delete().where(model.user == supervisor.id).execute()
        User.delete().where(User.id == supervisor.id).execute()


def measure(args, app, tz, database, metrics, busiest, start, end, client):

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    get('/admin/leaderboard/?period=90d')
    board_ms, board_min, board = timed(lambda: get('/admin/leaderboard/?period=90d'), args.requests)
    rows = board.get_data(as_text=True).count('data-agent=')
    def page_figures():  # what the page computes: counters of all agents, histograms of the 50 shown
        board = metrics.leaderboard(start, end, medians=False)
        metrics.add_medians(board[:50], start, end)
        return board
    query_ms, _qmin, _board = timed(page_figures, args.requests)
    ranked = metrics.leaderboard(start, end)
    live_board_ms, _lmin, live = timed(
        lambda: database.execute_sql(live_sql(tz, start, end)).fetchall(), args.live_runs)
    compare(ranked, live)

    agent_pages, agent_queries, agent_live = [], [], []
    for agent_id in busiest:
        get(f'/admin/agent-metrics/{agent_id}?period=90d')
        agent_pages.append(timed(lambda: get(f'/admin/agent-metrics/{agent_id}?period=90d'),
                                 max(3, args.requests // 4))[0])
        agent_queries.append(timed(lambda: metrics.agent_figures(agent_id, start, end), 5)[0])
        agent_live.append(timed(lambda: database.execute_sql(live_sql(tz, start, end, agent_id)).fetchall(),
                                max(1, args.live_runs // 2))[0])
    page_ms, figures_ms, live_agent_ms = (statistics.median(agent_pages), statistics.median(agent_queries),
                                          statistics.median(agent_live))
    print()
    print(f'period {start} – {end} (90 days), {len(ranked)} agents ranked, {rows} on the first page, '
          f'{args.requests} requests per page after a warm-up')
    print(f'leaderboard page:   median {board_ms:7.1f} ms (min {board_min:.1f})')
    print(f'  its figures from the rollup:  {query_ms:7.1f} ms;  live GROUP BY over raw tables: '
          f'{live_board_ms:9.1f} ms  -> {live_board_ms / query_ms:,.0f}x')
    print(f'per-agent page:     median {page_ms:7.1f} ms over the {len(busiest)} busiest agents')
    print(f'  its figures from the rollup:  {figures_ms:7.1f} ms;  live GROUP BY over raw tables: '
          f'{live_agent_ms:9.1f} ms  -> {live_agent_ms / figures_ms:,.0f}x')
    print(f'page vs live: leaderboard {live_board_ms / board_ms:,.1f}x, per-agent {live_agent_ms / page_ms:,.1f}x')


def compare(ranked, live):
    """The rollup's leaderboard and the live GROUP BY agree on every counter."""
    from desk.satisfaction.metrics import figures
    by_agent = {r[0]: r for r in live}
    mismatches, by_key = 0, {}
    for row in ranked:
        raw = by_agent.get(row['agent'])
        if raw is None:
            mismatches += 1
            continue
        sums = dict(zip(COUNTER_SUMS, raw[1:1 + len(COUNTER_SUMS)]))
        expected = figures(sums)
        wrong = [key for key in ('handled', 'rated', 'csat_pct', 'fcr', 'first_response_sla', 'resolution_sla',
                                 'score') if expected[key] != row[key]]
        if wrong:
            mismatches += 1
            for key in wrong:
                by_key[key] = by_key.get(key, 0) + 1
    print(f'rollup vs live: {len(ranked)} agents compared, {mismatches} differ '
          f'({by_key or "none"}; the raw tables may have grown since the fill when other processes write)',
          flush=True)


def check_sample(database, metrics, MetricDay, tz, sample=300):
    """desk.satisfaction.metrics.contribution (the incremental path) on a sample of complaints agrees with
    the set-based fill: every key it yields exists in the rollup with at least its counts."""
    ids = [r[0] for r in database.execute_sql(
        "SELECT complaint_id FROM rating WHERE agent_id IS NOT NULL ORDER BY complaint_id LIMIT %s", (sample,))]
    missing = 0
    for complaint_id in ids:
        for key, counters in metrics.contribution(complaint_id).items():
            kind, subject, department, day = key.split('|')
            row = (MetricDay.select().where((MetricDay.subject_kind == kind) & (MetricDay.subject == int(subject)) &
                                            (MetricDay.department == department) & (MetricDay.day == day)).first())
            if row is None or any(getattr(row, f) < n for f, n in counters.items()):
                missing += 1
    print(f'incremental contribution vs set-based rollup: {len(ids)} complaints checked, '
          f'{missing} disagreement(s)', flush=True)


if __name__ == '__main__':
    main()
