"""One redaction for every URL the package shows: errors, reprs, logs and doctor."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mem_integrations.core.redaction import REDACTED, redact_url


@pytest.mark.parametrize("url,shown", [
    ("postgresql://memint:hunter2@db.example:5432/memint",
     "postgresql://memint:***@db.example:5432/memint"),
    ("postgres://:hunter2@db/m", "postgres://:***@db/m"),
    ("postgresql://memint:p@ss@db/m", "postgresql://memint:***@db/m"),
    ("https://ghp_token@github.com/org/repo", "https://***@github.com/org/repo"),
    ("postgresql://db/m?user=u&password=hunter2&sslmode=require", "postgresql://db/m"),
    ("https://api.example/v1?api_key=k#frag", "https://api.example/v1"),
    ("http://127.0.0.1:6333", "http://127.0.0.1:6333"),
    ("bolt://[::1]:7687", "bolt://[::1]:7687"),
    ("memint:hunter2@db:5432/memint", REDACTED),
    ("postgresql://memint:hun#ter2@db/memint", REDACTED),
    ("postgresql://memint:hun/ter2@db/memint", REDACTED),
    ("http://[::1", "<unparseable url>"),
    (None, ""),
    ("", ""),
])
def test_redact_url(url: str | None, shown: str) -> None:
    assert redact_url(url) == shown


# "Zq9" starts and ends every secret: a secret cut anywhere still shows one of them
SECRET = st.text(string.ascii_letters + string.digits + "#?/@:!$&'()*+,;=%-._~",
                 max_size=16).map(lambda middle: f"Zq9{middle}Zq9")


@given(user=st.sampled_from(["", ":", "memint:"]), secret=SECRET,
       scheme=st.sampled_from(["postgresql://", "https://", "bolt://", ""]))
def test_no_part_of_a_password_or_token_ever_shows(user: str, secret: str,
                                                   scheme: str) -> None:
    assume(user or ":" not in secret)  # else the token's start is a user name, shown
    assert "Zq9" not in redact_url(f"{scheme}{user}{secret}@db.example:5432/m")


@given(secret=SECRET, key=st.sampled_from(["password", "sslpassword", "token", "api_key"]))
def test_no_query_parameter_ever_shows(secret: str, key: str) -> None:
    assert "Zq9" not in redact_url(f"https://api.example/v1?{key}={secret}#{secret}")
