"""TokenReview's audiences as upstream's: the ones asked for (else the API server's) are those a service-account
token must be for; the answer names the token's own that were asked for."""

import asyncio

from kapiserver.auth import authn, certs, jwt
from kapiserver.auth.reviews import token_review

NOW = 5000


class _Security:
    def __init__(self, authenticator, audiences):
        self.authenticator, self.audiences = authenticator, audiences


def _review(audiences_of_token, asked):
    key = certs.new_key()
    sa = authn.ServiceAccountTokens([key.public_key()], key, ["iss"], ["api"])
    authenticator = authn.Authenticator(service_accounts=sa, clock=lambda: NOW)
    token = jwt.sign(jwt.bound_claims("iss", audiences_of_token, "ns", "robot", "u", 3600, now=NOW - 10), key)
    spec = {"token": token, **({"audiences": asked} if asked else {})}
    return asyncio.run(token_review(_Security(authenticator, ["api"]), spec))


def test_a_token_for_the_audience_asked_for_is_answered_with_it():
    status = _review(["vault", "api"], ["vault"])
    assert status["authenticated"] is True and status["audiences"] == ["vault"]


def test_a_token_for_another_audience_is_nobody():
    status = _review(["api"], ["vault"])
    assert "authenticated" not in status and status["error"]


def test_without_audiences_asked_the_api_servers_count():
    assert _review(["api", "other"], None)["audiences"] == ["api"]
    assert "authenticated" not in _review(["vault"], None)
