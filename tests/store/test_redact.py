"""Credentials in tracking URIs: ``store.redact`` hides any user-info of any URI,
whatever its scheme and however the scheme is spelt (MLflow reads ``HTTP://`` as
``http://``); the scheme checks are case-insensitive as MLflow's are; ``scrub``
removes the same secrets from messages. Pure: no store is contacted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics import store
from kedro_metrics.store.credentials import scrub
from tests.strategies import schemes, uri_hosts, uri_tails, user_infos


class TestRedactAnyUserInfo:
    @given(scheme=schemes(), user_info=user_infos(), host=uri_hosts, tail=uri_tails)
    def test_the_user_info_is_redacted_whatever_the_scheme(self, scheme, user_info, host, tail):
        """``<scheme>://<user-info>@<host><tail>``: a password becomes ***, a user name
        without a password (a token) becomes ***; the scheme as written, the host and
        the rest stay exactly."""
        text, _, shown = user_info
        assert store.redact(f"{scheme}://{text}@{host}{tail}") == f"{scheme}://{shown}@{host}{tail}"

    @given(scheme=schemes(), user_info=user_infos(), host=uri_hosts, tail=uri_tails)
    def test_redacting_twice_changes_nothing_more(self, scheme, user_info, host, tail):
        """A redacted URI is its own redaction: ``sync`` compares redacted URIs."""
        once = store.redact(f"{scheme}://{user_info[0]}@{host}{tail}")
        assert store.redact(once) == once

    @given(scheme=schemes(), user_info=user_infos(), host=uri_hosts, tail=uri_tails)
    def test_scrub_removes_the_secret_from_a_message(self, scheme, user_info, host, tail):
        """An error message that quotes the secret (or the whole URI) quotes none of it."""
        text, secret, _ = user_info
        uri = f"{scheme}://{text}@{host}{tail}"
        message = scrub(f"failed: {uri} said no to {secret}", uri)
        assert secret not in message.replace(scheme, "")

    @given(scheme=schemes(), host=uri_hosts, tail=uri_tails)
    def test_a_uri_without_user_info_is_unchanged(self, scheme, host, tail):
        uri = f"{scheme}://{host}{tail}"
        assert store.redact(uri) == uri

    @pytest.mark.parametrize(
        ("uri", "expected"),
        [
            ("HTTP://SECRETTOKEN@127.0.0.1:5000", "HTTP://***@127.0.0.1:5000"),
            ("Https://TOKEN@mlflow.example.com/x", "Https://***@mlflow.example.com/x"),
            ("HTTP://alice:pw@host", "HTTP://alice:***@host"),
            ("http://TOKEN:@host", "http://***@host"),
            ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://***@127.0.0.1:5432/test"),
            ("databricks://TOKEN@workspace", "databricks://***@workspace"),
            ("//TOKEN@host/x", "//***@host/x"),
            ("http://a@b@host/x", "http://***@host/x"),
            ("http://@host", "http://@host"),
            ("sqlite:///relative/a:b@c.db", "sqlite:///relative/a:b@c.db"),
            ("file:///tmp/a@b", "file:///tmp/a@b"),
        ],
    )
    def test_examples(self, uri, expected):
        assert store.redact(uri) == expected

    @given(st.text())
    def test_never_raises(self, text):
        """Any text at all (a malformed URI in a setting) is redacted without an error."""
        assert isinstance(store.redact(text), str)

    @pytest.mark.parametrize(
        ("uri", "expected"),
        [("HTTP://TOKEN@[::1", "HTTP://***@[::1"), ("http://u:PW@[::1/x", "http://u:***@[::1/x")],
    )
    def test_a_malformed_uri_is_redacted_too(self, uri, expected):
        """A URI Python's urlsplit refuses (an unclosed IPv6 bracket) is still redacted."""
        assert store.redact(uri) == expected


class TestSchemeChecksIgnoreCase:
    @pytest.mark.parametrize("uri", ["HTTP://h:5000", "Http://h", "HTTPS://h", "hTTps://t@h/x"])
    def test_a_server_whatever_the_case(self, uri):
        assert store.is_server(uri) is True
        assert store.is_local(uri) is False

    @pytest.mark.parametrize("uri", ["SQLITE:///x.db", "File:///tmp/mlruns", "/tmp/mlruns"])
    def test_a_local_store_whatever_the_case(self, uri):
        assert store.is_local(uri) is True
        assert store.is_server(uri) is False
