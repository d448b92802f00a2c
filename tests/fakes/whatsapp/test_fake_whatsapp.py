"""The fake Graph API behaves like Meta's where Tipline depends on it."""

from __future__ import annotations

import aiohttp

from tests.fakes.whatsapp.server import FakeWhatsApp


async def _post(fake: FakeWhatsApp, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token or fake.token}"}
    url = f"{fake.base_url}/{fake.phone_number_id}/messages"
    async with aiohttp.ClientSession() as client, client.post(url, json=body, headers=headers) as r:
        return r.status, await r.json()


def _text(to: str = "447700900123") -> dict:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "hi"}}


async def test_a_send_is_recorded_and_answered_with_a_message_id():
    async with FakeWhatsApp() as fake:
        status, answer = await _post(fake, _text())
        assert status == 200
        assert answer["messages"][0]["id"] == fake.sends[0].wamid
        assert fake.sends[0].body["text"]["body"] == "hi"


async def test_a_planned_failure_answers_the_graph_error_once():
    async with FakeWhatsApp() as fake:
        fake.fail(131047)
        status, answer = await _post(fake, _text())
        assert (status, answer["error"]["code"]) == (400, 131047)
        assert (await _post(fake, _text()))[0] == 200
        assert len(fake.sends) == 1


async def test_four_reply_buttons_and_a_wrong_token_are_refused():
    async with FakeWhatsApp() as fake:
        buttons = [{"type": "reply", "reply": {"id": str(i), "title": "t"}} for i in range(4)]
        body = {
            "messaging_product": "whatsapp",
            "to": "447700900123",
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "?"},
                "action": {"buttons": buttons},
            },
        }
        assert (await _post(fake, body))[0] == 400
        assert (await _post(fake, _text(), token="wrong"))[0] == 401
        assert fake.sends == []


async def test_media_needs_the_token_at_both_steps():
    async with FakeWhatsApp() as fake:
        media_id = fake.add_media(b"bytes")
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{fake.base_url}/{media_id}") as r:
                assert r.status == 401
            auth = {"Authorization": f"Bearer {fake.token}"}
            async with client.get(f"{fake.base_url}/{media_id}", headers=auth) as r:
                url = (await r.json())["url"]
            async with client.get(url) as r:
                assert r.status == 401
            async with client.get(url, headers=auth) as r:
                assert await r.read() == b"bytes"
