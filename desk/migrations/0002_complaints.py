# Generated from a schema diff on 2026-11-24 01:32.
# Python-side defaults (created_at = clock.now) live in the models, not the schema.
from peewee import *


def up(migrator, db):
    class Buyer(Model):
        class Meta:
            database = db
            table_name = 'buyer'

    class Merchant(Model):
        class Meta:
            database = db
            table_name = 'merchant'

    class Order(Model):
        class Meta:
            database = db
            table_name = 'order'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Category(Model):
        code = CharField(unique=True, max_length=40)
        name_zh = CharField(max_length=100)
        name_en = CharField(max_length=100)
        path = CharField(max_length=16)
        tier = CharField(max_length=2)
        department = CharField(max_length=8)
        scenario_fields = TextField(default='[]')
        senior_only = BooleanField(default=False)
        active = BooleanField(default=True)
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'category'
    db.create_tables([Category])

    class Complaint(Model):
        ticket_no = CharField(unique=True, max_length=32)
        order = ForeignKeyField(Order, on_delete='RESTRICT')
        buyer = ForeignKeyField(Buyer, on_delete='RESTRICT')
        merchant = ForeignKeyField(Merchant, on_delete='RESTRICT')
        category = CharField(index=True, max_length=40)
        path = CharField(max_length=16)
        tier = CharField(index=True, max_length=2)
        department = CharField(index=True, max_length=8)
        state = CharField(index=True, max_length=16)
        version = IntegerField(default=1)
        owner = ForeignKeyField(User, null=True, on_delete='RESTRICT')
        filed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        facts = TextField()
        scenario = TextField(default='{}')
        demand_type = CharField(max_length=16)
        demand_fen = IntegerField(null=True)
        basis = CharField(null=True, max_length=40)
        channel = CharField(max_length=8)
        external_12315 = BooleanField(default=False)
        external_heimao = BooleanField(default=False)
        priority = IntegerField(default=0)
        needs_payment_proof = BooleanField(default=False)
        override_reason = TextField(null=True)
        created_at = DateTimeField(index=True)
        updated_at = DateTimeField()
        resolved_at = DateTimeField(null=True)
        closed_at = DateTimeField(null=True)
        merchant_due_at = DateTimeField(index=True, null=True)
        buyer_due_at = DateTimeField(index=True, null=True)
        evidence_due_at = DateTimeField(index=True, null=True)
        first_response_due_at = DateTimeField(index=True, null=True)
        resolution_due_at = DateTimeField(index=True, null=True)
        rating_due_at = DateTimeField(index=True, null=True)
        appeal_due_at = DateTimeField(index=True, null=True)
        edit_until = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'complaint'
            indexes = ((('buyer', 'id'), False), (('merchant', 'id'), False), (('state', 'id'), False), (('category', 'id'), False), (('department', 'state', 'id'), False))
    db.create_tables([Complaint])

    class Event(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        seq = IntegerField()
        at = DateTimeField()
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        actor_role = CharField(max_length=20)
        kind = CharField(max_length=32)
        public = BooleanField(default=True)
        data = TextField(default='{}')
        prev_hash = CharField(max_length=64)
        hash = CharField(max_length=64)
        class Meta:
            database = db
            table_name = 'event'
            indexes = ((('complaint', 'seq'), True),)
    db.create_tables([Event])

    class Outbox(Model):
        topic = CharField(max_length=40)
        complaint = ForeignKeyField(Complaint, null=True, on_delete='CASCADE')
        payload = TextField(default='{}')
        state = CharField(max_length=10, default='pending')
        attempts = IntegerField(default=0)
        available_at = DateTimeField()
        created_at = DateTimeField()
        sent_at = DateTimeField(null=True)
        last_error = TextField(null=True)
        class Meta:
            database = db
            table_name = 'outbox'
            indexes = ((('state', 'available_at'), False),)
    db.create_tables([Outbox])

    class InboxMessage(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        outbox = ForeignKeyField(Outbox, null=True, on_delete='SET NULL')
        complaint = ForeignKeyField(Complaint, null=True, on_delete='CASCADE')
        title = CharField(max_length=200)
        body = TextField(default='')
        link = CharField(null=True)
        created_at = DateTimeField()
        read_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'inbox_message'
            indexes = ((('user', 'read_at'), False), (('outbox', 'user'), True))
    db.create_tables([InboxMessage])

    class RuleClause(Model):
        code = CharField(unique=True, max_length=40)
        title_zh = CharField(max_length=200)
        title_en = CharField(max_length=200)
        body_zh = TextField()
        category = CharField(null=True, max_length=40)
        active = BooleanField(default=True)
        class Meta:
            database = db
            table_name = 'rule_clause'
    db.create_tables([RuleClause])

    class TicketCounter(Model):
        day = CharField(primary_key=True, max_length=8)
        last = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'ticket_counter'
    db.create_tables([TicketCounter])

    migrator.migrate(
        migrator.add_column('buyer', 'dedicated_agent_id', IntegerField(null=True)),
        migrator.add_column('user', 'email', CharField(max_length=200, null=True)))

    # At most one open complaint per order, enforced by the database itself so that two
    # identical filings racing each other still produce one complaint.
    db.execute_sql(
        'CREATE UNIQUE INDEX complaint_one_open_per_order ON complaint (order_id) '
        "WHERE state NOT IN ('closed', 'withdrawn')")

    Category.insert_many(CATEGORIES).execute()
    RuleClause.insert_many(CLAUSES).execute()


# The defaults of SPEC §3 (editable afterwards in the backoffice).
CATEGORIES = [
    dict(code=code, name_zh=zh, name_en=en, path=path, tier=tier, department=dept,
         scenario_fields=fields, senior_only=False, active=True, position=n)
    for n, (code, zh, en, path, tier, dept, fields) in enumerate([
        ('recharge_not_arrived', '充值未到账/到账延迟', 'Recharge not arrived or late', 'merchant', 'L2', 'cs',
         '["receiving_account", "minutes_late"]'),
        ('card_invalid', '卡密无效', 'Card code invalid', 'merchant', 'L2', 'cs', '["error_message"]'),
        ('not_as_described', '商品与描述不符', 'Not as described', 'merchant', 'L2', 'cs', '[]'),
        ('fake_delivery', '虚假发货', 'Fake delivery', 'merchant', 'L2', 'ops', '[]'),
        ('refund_delay', '退款延迟', 'Refund delayed', 'merchant', 'L2', 'cs', '["refund_requested_at"]'),
        ('account_security', '账号被盗/资金安全', 'Account stolen / funds at risk', 'platform', 'L1', 'ops', '[]'),
        ('system_fault', '平台系统故障', 'Platform system fault', 'platform', 'L1', 'tech', '["occurred_at"]'),
        ('service_attitude', '客服服务态度', 'Service attitude', 'platform', 'L2', 'cs', '[]'),
        ('inquiry', '咨询', 'Inquiry', 'self_service', 'L3', 'cs', '[]'),
    ], start=1)
]

# A first rule catalogue: realistic clauses of a card marketplace's service rules.
CLAUSES = [
    dict(code=code, title_zh=zh, title_en=en, body_zh=body, category=cat, active=True)
    for code, zh, en, body, cat in [
        ('R-DLV-01', '充值类商品须在 2 小时内到账', 'Recharges must arrive within 2 hours',
         '话费、游戏充值类商品自买家付款起 2 小时内未到账的,视为商家未按约定发货,买家可申请全额退款。', 'recharge_not_arrived'),
        ('R-DLV-02', '卡密类商品须即时发货', 'Card codes must be delivered at once',
         '卡密类商品应在付款后 10 分钟内自动发放;超时未发放的,买家可申请退款或补发。', 'card_invalid'),
        ('R-CARD-01', '卡密须真实有效', 'Card codes must be genuine and valid',
         '商家发放的卡密须在有效期内且未被使用;买家提供充值失败截图的,由商家举证卡密发放时状态。', 'card_invalid'),
        ('R-CARD-02', '已提取卡密的举证责任', 'Burden of proof after a code was revealed',
         '卡密被提取后发生争议的,商家须提供发放日志(发放时间、提取时间、接口返回),买家须提供使用失败凭证。', 'card_invalid'),
        ('R-DESC-01', '商品信息须与描述一致', 'Goods must match their description',
         '商品面值、区服、使用范围、有效期等须与商品页面描述一致,不一致的商家承担退款责任。', 'not_as_described'),
        ('R-FAKE-01', '禁止虚假发货', 'Fake delivery is prohibited',
         '商家标记发货但买家未实际收到商品、或发放无效凭证冒充发货的,属虚假发货,平台扣分并处罚金。', 'fake_delivery'),
        ('R-REF-01', '退款须在 3 个工作日内完成', 'Refunds within 3 working days',
         '双方达成退款协议或平台判定退款后,商家须在 3 个工作日内完成退款。', 'refund_delay'),
        ('R-ACC-01', '账号交易的找回风险', 'Recovery risk in account trades',
         '游戏账号交易后被原号主找回的,卖家承担全额退款责任,平台可冻结其保证金。', 'account_security'),
        ('R-SEC-01', '资金安全优先处理', 'Funds at risk are handled first',
         '涉及账号被盗、资金被盗刷的投诉,平台在 30 分钟内响应并可临时冻结相关交易。', 'account_security'),
        ('R-SYS-01', '平台故障的补偿', 'Compensation for platform faults',
         '因平台系统故障导致订单异常的,由平台承担责任并按实际损失补偿买家。', 'system_fault'),
        ('R-SVC-01', '客服须文明服务', 'Staff must be courteous',
         '平台及商家客服须在承诺时限内答复,不得推诿、辱骂或敷衍。', 'service_attitude'),
        ('R-GEN-01', '商家 24 小时响应义务', 'Merchants answer within 24 hours',
         '买家发起投诉后,商家须在 24 小时内给出处理方案;仅回复"已记录"等不视为答复,逾期由平台介入。', None),
        ('R-GEN-02', '证据须真实完整', 'Evidence must be genuine and complete',
         '双方提交的证据须真实、完整、未经篡改;伪造证据的一方承担不利后果并可能被处罚。', None),
    ]
]


def down(migrator, db):
    migrator.migrate(migrator.drop_column('buyer', 'dedicated_agent_id'),
                     migrator.drop_column('user', 'email'))
    db.execute_sql('DROP INDEX IF EXISTS complaint_one_open_per_order')
    migrator.migrate(migrator.drop_table('ticket_counter'))
    migrator.migrate(migrator.drop_table('rule_clause'))
    migrator.migrate(migrator.drop_table('inbox_message'))
    migrator.migrate(migrator.drop_table('outbox'))
    migrator.migrate(migrator.drop_table('event'))
    migrator.migrate(migrator.drop_table('complaint'))
    migrator.migrate(migrator.drop_table('category'))


SEEDS = {'category': CATEGORIES, 'rule_clause': CLAUSES}
