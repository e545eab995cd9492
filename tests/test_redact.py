"""Masking credentials in text and in SDK log records (asyncbitstore._redact)."""

from __future__ import annotations

import logging

import pytest

from asyncbitstore._core.redact import guard_sdk_logs, scrub, scrub_cause

TOKEN = "FAKEsessionTOKEN" + "Q7" * 20


@pytest.mark.parametrize(
    "text",
    [
        f"x-amz-security-token:{TOKEN}\nhost:127.0.0.1",
        f"{{'X-Amz-Security-Token': b'{TOKEN}', 'Host': 'h'}}",
        f"request headers: Authorization=Bearer {TOKEN}; Accept=*/*",
        f'{{"authorization": "Basic {TOKEN}"}}',
        f"https://user:{TOKEN}@example.org/x",
    ],
)
def test_credential_headers_and_url_passwords_are_masked_whatever_their_quoting(text: str) -> None:
    assert TOKEN not in scrub(text)
    assert "***" in scrub(text)


def test_given_secrets_are_masked_and_other_text_is_left_alone() -> None:
    assert scrub("key sekrit-value in the body", ["sekrit-value"]) == "key *** in the body"
    assert scrub("nothing to hide at 0x7f00", ["", "absent"]) == "nothing to hide at 0x7f00"


def test_a_chained_cause_is_scrubbed_in_place() -> None:
    cause = RuntimeError(f"server said: token {TOKEN}", 42)
    assert scrub_cause(cause, [TOKEN]) is cause
    assert cause.args == ("server said: token ***", 42)


def test_sdk_log_records_are_masked_but_short_values_are_not_searched_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sdk = logging.getLogger("fakesdk.endpoint")
    guard_sdk_logs(("fakesdk",), ["x", TOKEN + "-explicit"])
    with caplog.at_level(logging.DEBUG):
        sdk.debug("signed %s at 0x%x", {"X-Amz-Security-Token": TOKEN}, 255)
        sdk.debug("body quotes %s", TOKEN + "-explicit")
    first, second = (r.getMessage() for r in caplog.records)
    assert TOKEN not in first and first.endswith("at 0xff")  # "x" is too short to be searched for
    assert second == "body quotes ***"
