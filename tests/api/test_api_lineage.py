"""Lineage through the HTTP API: a token can neither build on nor probe another provider's
confidential system, and publishes only its own provider's systems (docs/filing.md, Lineage)."""

from __future__ import annotations

import requests

from tests.api.test_api_disclosures import Api, api  # noqa: F401  (the server fixture)

HEADER = b"system,run_id,base_system,reported_flop\n"


def _publish(api: Api, body: object, token: str = "acme") -> requests.Response:  # noqa: F811
    return requests.post(f"{api.url}/api/v1/systems/publish", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {api.tokens[token]}"})


def _messages(response: requests.Response) -> list[str]:
    return [e["message"] for e in response.json()["errors"]]


def test_a_cyclic_file_is_rejected_with_row_column_and_cycle(api: Api) -> None:  # noqa: F811
    response = api.post(HEADER + b"a,r1,b,1e24\nb,r2,a,1e24\n")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(1, "base_system"), (2, "base_system")]
    assert "lineage cycle: a -> b -> a" in errors[0]["message"]


def test_another_providers_confidential_system_is_answered_as_missing(api: Api) -> None:  # noqa: F811
    assert api.post(HEADER + b"rival-frontier,f1,,3e25\n", token="rival").status_code == 201
    hidden = api.post(HEADER + b"tuned,t1,rival-frontier,1e22\n")
    missing = api.post(HEADER + b"tuned,t1,rival-nothing,1e22\n")
    assert hidden.status_code == missing.status_code == 400
    assert _messages(hidden) == [m.replace("rival-nothing", "rival-frontier") for m in _messages(missing)]
    # Publishing is the owner's alone, and answers another provider's system as unknown too.
    foreign = _publish(api, {"system": "rival-frontier"})
    absent = _publish(api, {"system": "rival-nothing"})
    assert foreign.status_code == absent.status_code == 404
    assert _messages(foreign) == [m.replace("rival-nothing", "rival-frontier") for m in _messages(absent)]
    published = _publish(api, {"system": "rival-frontier", "public": True}, token="rival")
    assert published.status_code == 200 and published.json()["figures_public"] is True
    assert api.post(HEADER + b"tuned,t1,rival-frontier,1e22\n").status_code == 201


def test_publish_refuses_malformed_bodies_and_missing_tokens(api: Api) -> None:  # noqa: F811
    for body in (None, [], {"system": 5}, {"system": ""}, {"system": "x" * 301}, {"system": "a", "public": "yes"}):
        response = _publish(api, body)
        assert response.status_code == 400, body
        assert "expected" in _messages(response)[0]
    anonymous = requests.post(f"{api.url}/api/v1/systems/publish", json={"system": "a"}, timeout=30)
    assert anonymous.status_code == 401
