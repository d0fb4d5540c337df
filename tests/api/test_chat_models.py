"""`GET /v1/models`: configured providers' manifest models as `provider/model-id`, plus aliases."""

from __future__ import annotations

from tests.api.chat_support import MOCK_MODEL, build_chat_api


async def test_models_lists_configured_providers_and_aliases() -> None:
    api = build_chat_api(aliases={"fast": MOCK_MODEL, "smart": "openai/gpt-5", "gone": "google/gemini-2.5-pro"})
    try:
        response = await api.client.get("/v1/models")
    finally:
        await api.client.aclose()

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    listed = {model["id"]: model for model in body["data"]}
    assert {MOCK_MODEL, "openai/gpt-5-mini", "openai_compatible/default", "fast", "smart"} <= set(listed)
    assert not any(model_id.startswith("google/") for model_id in listed)
    assert "gone" not in listed  # its provider is not configured here
    assert listed["smart"] == {"id": "smart", "object": "model", "created": 0, "owned_by": "openai"}


async def test_one_model_can_be_retrieved() -> None:
    api = build_chat_api()
    try:
        found = await api.client.get(f"/v1/models/{MOCK_MODEL}")
        missing = await api.client.get("/v1/models/mock/nope")
    finally:
        await api.client.aclose()

    assert found.json() == {"id": MOCK_MODEL, "object": "model", "created": 0, "owned_by": "mock"}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
