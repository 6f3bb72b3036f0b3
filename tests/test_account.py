import pytest

from dashboard.spacelift.account import (
    Connection,
    InvalidEndpoint,
    InvalidKeyID,
    normalize_endpoint,
    validate_key_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mycorp.app.spacelift.io", "https://mycorp.app.spacelift.io"),
        ("https://mycorp.app.spacelift.io/", "https://mycorp.app.spacelift.io"),
        ("  HTTPS://MyCorp.App.Spacelift.IO//  ", "https://mycorp.app.spacelift.io"),
        ("https://mycorp.app.spacelift.io/graphql", "https://mycorp.app.spacelift.io"),
        ("spacelift.example.com:8443", "https://spacelift.example.com:8443"),
        ("https://spacelift.example.com:443", "https://spacelift.example.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://localhost:8765/", "http://localhost:8765"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
)
def test_it_normalises_hosts(raw, expected):
    assert normalize_endpoint(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter the Spacelift host"),
        ("   ", "Enter the Spacelift host"),
        ("http://mycorp.app.spacelift.io", "plain http:// is only accepted for this machine"),
        ("javascript:alert(1)", "Only https://"),
        ("ftp://mycorp.app.spacelift.io", "Only https://"),
        ("https://user:pass@mycorp.app.spacelift.io", "Leave user names and passwords out"),
        ("https://mycorp.app.spacelift.io/stacks", "without a path"),
        ("mycorp.app.spacelift.io?x=1", "without a path"),
        ("my corp.app.spacelift.io", "cannot contain spaces"),
        ("mycorp_app!.io", "is not a valid host name"),
        ("https://-bad-.io", "is not a valid host name"),
        ("https://mycorp.app.spacelift.io:99999", "not a valid host or port"),
    ],
)
def test_it_rejects_bad_hosts_with_a_message(raw, message):
    with pytest.raises(InvalidEndpoint, match=message):
        normalize_endpoint(raw)


def test_it_accepts_a_ulid_key_id_in_any_case():
    assert validate_key_id(" 01hzx3k8q9v1w2e3r4t5y6v7a8 ") == "01HZX3K8Q9V1W2E3R4T5Y6V7A8"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "01HZX3K8Q9V1W2E3R4T5Y6V7A",
        "01HZX3K8Q9V1W2E3R4T5Y6U7I8",
        "O" * 26,
        "81HZX3K8Q9V1W2E3R4T5Y6V7A8",
    ],
)
def test_it_rejects_key_ids_that_are_not_ulids(raw):
    with pytest.raises(InvalidKeyID, match="26-character ID" if raw else "Enter"):
        validate_key_id(raw)  # the ULID hint is kept


def test_it_accepts_an_oidc_api_keys_id_as_spacelift_shows_it():
    oidc = "oidc::https://token.actions.githubusercontent.com::01HZX3K8Q9V1W2E3R4T5Y6V7A8"
    assert validate_key_id(f" {oidc} ") == oidc
    with pytest.raises(InvalidKeyID):
        validate_key_id("oidc::has a space")


def test_deep_links_follow_the_documented_shapes():
    conn = Connection("https://mycorp.app.spacelift.io", "01HZX3K8Q9V1W2E3R4T5Y6V7A8", "s")
    assert conn.graphql_url == "https://mycorp.app.spacelift.io/graphql"
    assert conn.stack_url("payments-prod") == "https://mycorp.app.spacelift.io/stack/payments-prod"
    assert (
        conn.run_url("payments-prod", "01J0000000000000000000000A")
        == "https://mycorp.app.spacelift.io/stack/payments-prod/run/01J0000000000000000000000A"
    )
    assert conn.module_url("vpc") == "https://mycorp.app.spacelift.io/module/vpc"


def test_a_connection_never_shows_its_secret_in_repr():
    conn = Connection("https://x.io", "01HZX3K8Q9V1W2E3R4T5Y6V7A8", "hunter2-very-secret")
    assert "hunter2" not in repr(conn)


def test_the_client_will_not_send_the_secret_to_a_metadata_address(monkeypatch):
    """A saved host whose DNS later points at the metadata service gets no secret."""
    import socket

    from dashboard.spacelift import errors
    from dashboard.spacelift.account import Connection
    from dashboard.spacelift.client import SpaceliftClient

    def resolves_to_metadata(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolves_to_metadata)
    sent = []
    client = SpaceliftClient(Connection("https://rebound.example.com", "K", "the-secret"))
    monkeypatch.setattr(client, "_post", lambda *args: sent.append(args))
    with pytest.raises(errors.ForbiddenHost, match="metadata"):
        client._exchange()
    assert sent == []
