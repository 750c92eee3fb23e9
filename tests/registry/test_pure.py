"""Pure parts: hosts, challenges, platforms, diff IDs, error documents, auth.json."""

from __future__ import annotations

import gzip
import hashlib
import json
import stat
from pathlib import Path

import pytest

from stackctl.engine.registry.auth import AuthFile, Credentials, parse_challenges
from stackctl.engine.registry.diffid import DiffHasher
from stackctl.engine.registry.hosts import endpoint, is_insecure, normalize_host
from stackctl.engine.registry.platform import Platform, parse_platform, select_manifest
from stackctl.engine.registry.proxy import bypassed, proxy_for
from stackctl.engine.registry.registry_errors import parse_errors
from stackctl.engine.registry.tokens import check_realm, token_url
from stackctl.errors import ImageError, UsageError


@pytest.mark.parametrize(("domain", "url"), [
    ("docker.io", "https://registry-1.docker.io"),
    ("index.docker.io", "https://registry-1.docker.io"),
    ("localhost:5000", "http://localhost:5000"),
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("[::1]:5000", "http://[::1]:5000"),
    ("registry.example.com", "https://registry.example.com"),
    ("registry.example.com:5443", "https://registry.example.com:5443"),
])
def test_endpoints(domain: str, url: str) -> None:
    assert endpoint(domain, env={}).base_url == url


def test_insecure_list_and_flag() -> None:
    env = {"STACKCTL_INSECURE_REGISTRIES": "reg.lan:5000, 10.0.0.0/8 other.lan"}
    assert endpoint("reg.lan:5000", env=env).scheme == "http"
    assert endpoint("reg.lan:5001", env=env).scheme == "https"
    assert endpoint("10.1.2.3:5000", env=env).scheme == "http"
    assert endpoint("other.lan:1234", env=env).scheme == "http"
    assert endpoint("secure.lan", env=env).scheme == "https"
    assert endpoint("secure.lan", insecure=True, env={}).scheme == "http"
    assert not is_insecure("docker.io")


@pytest.mark.parametrize(("arg", "domain"), [
    ("https://index.docker.io/v1/", "docker.io"), ("docker.io", "docker.io"),
    ("http://localhost:5000/v2/", "localhost:5000"), ("reg.example.com", "reg.example.com"),
])
def test_normalize_host(arg: str, domain: str) -> None:
    assert normalize_host(arg) == domain


def test_normalize_host_rejects_garbage() -> None:
    with pytest.raises(UsageError, match="invalid registry address"):
        normalize_host("not a host!")


def test_parse_bearer_and_basic_challenges() -> None:
    [c] = parse_challenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
                           ',scope="repository:library/busybox:pull,push"')
    assert c.scheme == "bearer"
    assert c.get("realm") == "https://auth.docker.io/token"
    assert c.get("scope") == "repository:library/busybox:pull,push"
    both = parse_challenges('Basic realm="x y", Bearer realm="http://a/t",service=s')
    assert [x.scheme for x in both] == ["basic", "bearer"]
    assert both[1].get("service") == "s"
    assert both[0].get("realm") == "x y"


def test_token_url_repeats_scope() -> None:
    [c] = parse_challenges('Bearer realm="http://127.0.0.1:1/token",service="reg"')
    url = token_url(c, ["repository:a/b:pull,push", "repository:c:pull"])
    assert url == ("http://127.0.0.1:1/token?service=reg&scope=repository%3Aa%2Fb%3Apull%2Cpush"
                   "&scope=repository%3Ac%3Apull")


def _index(*plats: dict[str, str]) -> bytes:
    return json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:" + f"{i}" * 64, "size": 10 + i, "platform": p}
        for i, p in enumerate(plats)]}).encode()


def test_select_manifest_by_platform() -> None:
    idx = _index({"os": "unknown", "architecture": "unknown"},
                 {"os": "linux", "architecture": "arm", "variant": "v6"},
                 {"os": "linux", "architecture": "arm", "variant": "v7"},
                 {"os": "linux", "architecture": "amd64"},
                 {"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert select_manifest(idx, Platform("linux", "amd64")).size == 13
    assert select_manifest(idx, parse_platform("linux/arm64")).size == 14
    assert select_manifest(idx, parse_platform("linux/arm")).size == 12  # v7 preferred
    assert select_manifest(idx, parse_platform("linux/arm/v6")).size == 11
    with pytest.raises(ImageError, match="no matching manifest for linux/s390x") as err:
        select_manifest(idx, parse_platform("s390x"))
    assert "linux/amd64" in (err.value.hint or "")


def test_parse_platform_errors() -> None:
    assert parse_platform("linux/x86_64") == Platform("linux", "amd64")
    with pytest.raises(UsageError, match="--platform"):
        parse_platform("a/b/c/d")


def test_diff_hasher_plain_gzip_and_multimember() -> None:
    raw = b"tar bytes " * 50_000
    want = "sha256:" + hashlib.sha256(raw).hexdigest()
    for blob in (raw, gzip.compress(raw), gzip.compress(raw[:1000]) + gzip.compress(raw[1000:])):
        h = DiffHasher()
        for i in range(0, len(blob), 777):
            h.update(blob[i:i + 777])
        assert h.hexdigest() == want
    h = DiffHasher()
    h.update(gzip.compress(raw)[:100])
    with pytest.raises(ImageError, match="truncated"):
        h.hexdigest()


def test_error_documents() -> None:
    items = parse_errors(b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
    assert items[0].code == "MANIFEST_UNKNOWN"
    assert parse_errors(b"<html>") == []


def test_auth_file_is_0600_and_docker_shaped(tmp_path: Path) -> None:
    f = AuthFile(tmp_path)
    f.put("localhost:5000", Credentials("me", "s3:cret"))
    f.put("docker.io", Credentials("hub", "pw"))
    assert stat.S_IMODE((tmp_path / "auth.json").stat().st_mode) == 0o600
    doc = json.loads((tmp_path / "auth.json").read_text())
    assert set(doc["auths"]) == {"localhost:5000", "https://index.docker.io/v1/"}
    assert f.get("localhost:5000") == Credentials("me", "s3:cret")
    assert f.get("docker.io") == Credentials("hub", "pw")
    assert "s3:cret" not in repr(f.get("localhost:5000"))
    assert f.remove("localhost:5000")
    assert not f.remove("localhost:5000")
    assert f.get("localhost:5000") is None


def test_proxy_from_environment() -> None:
    env = {"HTTPS_PROXY": "http://u:p%40ss@proxy.lan:3128", "http_proxy": "proxy.lan:8080",
           "NO_PROXY": "internal.lan, .corp.example,10.0.0.0/8,reg.lan:5000"}
    p = proxy_for("https", "registry.example.com", env)
    assert p is not None and p.netloc == "proxy.lan:3128"
    assert p.headers() == {"Proxy-Authorization": "Basic dTpwQHNz"}  # u:p@ss
    plain = proxy_for("http", "registry.example.com:5000", env)
    assert plain is not None and plain.netloc == "proxy.lan:8080" and plain.headers() == {}
    for direct in ("localhost:5000", "127.0.0.1:5000", "internal.lan", "a.internal.lan",
                   "x.corp.example", "10.1.2.3:5000", "reg.lan:5000"):
        assert proxy_for("https", direct, env) is None, direct
    assert proxy_for("https", "reg.lan:5001", env) is not None
    assert proxy_for("https", "registry.example.com", {}) is None
    assert bypassed("anything:1", "*")
    with pytest.raises(ImageError, match="unsupported proxy URL"):
        proxy_for("https", "registry.example.com", {"https_proxy": "socks5://p:1080"})


def test_credentials_never_go_to_a_plain_http_realm_of_a_tls_registry() -> None:
    check_realm("https://auth.example/token", "reg.example", secure=True,
                sending_credentials=True)
    check_realm("http://auth.example/token", "reg.example", secure=True,
                sending_credentials=False)  # anonymous: nothing to leak
    check_realm("http://127.0.0.1:5000/token", "reg.example", secure=True,
                sending_credentials=True)
    check_realm("http://auth.lan/token", "reg.lan:5000", secure=False, sending_credentials=True)
    with pytest.raises(ImageError, match=r"over plain HTTP to auth\.example; refused"):
        check_realm("http://auth.example/token", "reg.example", secure=True,
                    sending_credentials=True)
    with pytest.raises(ImageError, match="invalid token realm"):
        check_realm("ftp://x/token", "reg.example", secure=True, sending_credentials=False)
