def test_villager_sees_own_household_with_masked_members(api, world):
    response = api("villager").get(f"/households/{world.ids['H1']}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["number"] == "001"
    head = body["residents"][0]
    assert head["is_head"] is True
    assert "*" in head["name"] and "****" in head["phone"] and "*" in head["id_number"]
