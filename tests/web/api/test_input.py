"""Input every JSON endpoint refuses the same way, whatever service it reaches."""
from tests import builders as b


def test_a_nul_character_anywhere_in_a_json_body_is_422_not_a_500(client, users, api_key):
    b.order('O-1')
    buyer = b.buyer_user(users)
    for body in (b.body('O-1', facts='a\x00b'), b.body('O-1', scenario={'x\x00': 1}),
                 b.body('O-1', external=['12315\x00'])):
        response = client.post('/api/v1/complaints', json=body, headers=api_key(buyer))
        assert response.status_code == 422, response.get_json()
        assert 'NUL' in response.get_json()['error']['message']
