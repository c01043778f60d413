"""A believable demo marketplace for `make run` and for trying the consoles.

Orders go through `orders.upsert_order`, the same path as the integration, so the demo data
is exactly what real data would look like. Deterministic (seeded) so screenshots and docs
stay reproducible.
"""
import datetime as dt
import random

from desk.core import clock
from desk.core.db import atomic
from desk.core.times import to_iso
from desk.orders.orders import upsert_order
from desk.parties import accounts
from desk.parties.models import User

DEMO_PASSWORD = 'demo-pass-2026'

MERCHANTS = [
    ('m-xingyao', '星耀游戏点卡专营店'), ('m-sutong', '速通话费充值'), ('m-jingka', '京卡礼品卡商城'),
    ('m-longteng', '龙腾游戏账号交易'), ('m-yunka', '云卡数码'), ('m-kuaichong', '快充宝'),
    ('m-jiayuan', '佳缘卡券'), ('m-tianxia', '天下游戏服务'),
]
PRODUCTS = {
    'game_card': [('王者荣耀 点券 600', 'WZ-600', '60.00'), ('原神 创世结晶 6480', 'YS-6480', '648.00'),
                  ('英雄联盟 点券 1000', 'LOL-1000', '100.00'), ('和平精英 UC 300', 'HP-300', '30.00')],
    'phone_recharge': [('中国移动 话费 100 元', 'CM-100', '99.50'), ('中国联通 话费 50 元', 'CU-50', '49.80'),
                       ('中国电信 话费 200 元', 'CT-200', '198.00')],
    'gift_card': [('京东 E 卡 500 元', 'JD-500', '495.00'), ('App Store 充值卡 100 元', 'AS-100', '98.00'),
                  ('星巴克 电子礼品卡 200 元', 'SB-200', '190.00')],
    'game_account': [('梦幻西游 169 级账号', 'MH-169', '2880.00'), ('永劫无间 全皮肤账号', 'YJ-ALL', '5600.00')],
    'other': [('爱奇艺 黄金会员 年卡', 'IQ-Y', '148.00'), ('网易云音乐 黑胶 VIP 月卡', 'WY-M', '15.00')],
}
SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗'
GIVEN = ['伟', '芳', '娜', '敏', '静', '磊', '洋', '艳', '勇', '军', '杰', '娟', '涛', '明', '超', '秀英', '霞', '平', '刚', '桂英']
PROVINCES = ['广东', '浙江', '江苏', '山东', '河南', '四川', '湖北', '湖南', '福建', '上海', '北京', '河北', '安徽', '陕西']
PAYMENTS = ['alipay', 'alipay', 'wechat', 'wechat', 'bank', 'balance']

STAFF = [
    ('admin', 'admin', None, '系统管理员'),
    ('supervisor', 'supervisor', None, '陈主管'),
    ('agent', 'agent_cs', 'cs', '小李(客服部)'),
    ('agent', 'agent_ops', 'ops', '小王(运营部)'),
    ('agent', 'agent_tech', 'tech', '小赵(技术部)'),
    ('senior_agent', 'senior_cs', 'cs', '周专员(客服部)'),
    ('senior_agent', 'senior_ops', 'ops', '吴专员(运营部)'),
    ('integration', 'marketplace', None, '卡盟平台对接'),
]


def _buyers(rng):
    for i in range(1, 51):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        phone = '1' + rng.choice('3578') + ''.join(rng.choice('0123456789') for _ in range(9))
        yield {'ref': f'b-{i:04d}', 'name': name, 'phone': phone}


def seed_demo(orders=300, seed=2026):
    """Create the demo marketplace; returns [(role, username)] of the logins created."""
    rng = random.Random(seed)
    logins = []
    with atomic():
        for role, username, department, name in STAFF:
            accounts.create_user(username, DEMO_PASSWORD, role, display_name=name, department=department)
            logins.append((role, username))
        integration = User.get(User.username == 'marketplace')
        buyers = list(_buyers(rng))
        now = clock.now()
        for n in range(1, orders + 1):
            merchant_ref, merchant_name = MERCHANTS[n % len(MERCHANTS)]
            goods_type = rng.choice(list(PRODUCTS))
            product, sku, amount = rng.choice(PRODUCTS[goods_type])
            paid = now - dt.timedelta(minutes=rng.randint(10, 30 * 24 * 60))
            delivered = paid + dt.timedelta(minutes=rng.randint(0, 30))
            confirmed = delivered + dt.timedelta(hours=rng.randint(1, 72)) if rng.random() < 0.7 else None
            buyer = buyers[rng.randrange(len(buyers))] if n > 10 else buyers[0]
            body = {
                'buyer': buyer, 'merchant': {'ref': merchant_ref, 'name': merchant_name},
                'product': product, 'sku': sku, 'goods_type': goods_type, 'amount': amount,
                'paid_at': to_iso(paid), 'delivered_at': to_iso(delivered),
                'confirmed_at': to_iso(confirmed) if confirmed and confirmed < now else None,
                'payment_method': rng.choice(PAYMENTS), 'region': rng.choice(PROVINCES),
                'receiving_account': buyer['phone'] if goods_type == 'phone_recharge' else None,
            }
            if goods_type == 'game_card':
                body['card_code'] = ''.join(rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ23456789') for _ in range(16))
            upsert_order(integration, f'KM{paid:%Y%m%d}{n:06d}', body)
        for merchant_ref, _name in MERCHANTS[:3]:
            username = merchant_ref.replace('m-', '') + '_staff'
            accounts.create_user(username, DEMO_PASSWORD, 'merchant_staff',
                                 display_name=f'{_name} 客服', merchant_ref=merchant_ref)
            logins.append(('merchant_staff', username))
        for buyer in buyers[:3]:
            username = 'buyer_' + buyer['ref'].split('-')[1]
            accounts.create_user(username, DEMO_PASSWORD, 'buyer', display_name=buyer['name'],
                                 buyer_ref=buyer['ref'])
            logins.append(('buyer', username))
    return logins


def demo_logins():
    wanted = [u for _r, u, _d, _n in STAFF] + [m.replace('m-', '') + '_staff' for m, _ in MERCHANTS[:3]]
    users = User.select().where(User.username.in_(wanted) | User.username.startswith('buyer_'))
    return [(u.role, u.username) for u in users.order_by(User.id)]


