def test_account_endpoint_answers_own_account(api_client, account):
    response = api_client.get("/api/v1/account/")
    assert response.status_code == 200
    assert response.json()["slug"] == account.slug
