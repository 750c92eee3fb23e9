"""HTTPS registries (a private CA in <root>/certs.d/<host>/, an untrusted certificate) and
proxies (a CONNECT tunnel for HTTPS, a forward proxy for HTTP), all on loopback."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.engine.registry.client import RegistryClient
from stackctl.engine.registry.hosts import Endpoint
from stackctl.engine.registry.login import login
from stackctl.engine.registry.pull import pull_image
from stackctl.engine.registry.push import push_image
from stackctl.engine.registry.transport import Transport
from stackctl.errors import ImageError
from tests.registry.craft import craft_image
from tests.registry.proxy import Proxy
from tests.registry.server import Registry


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    d = tmp_path_factory.mktemp("pki")

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")  # fast
    ossl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=stackctl test CA")
    ossl("req", *key, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": d / "ca.crt", "cert": d / "srv.crt", "key": d / "srv.key"}


@pytest.fixture
def tls_registry(pki: dict[str, Path]) -> Iterator[Registry]:
    with Registry(tls=(str(pki["cert"]), str(pki["key"])), auth="bearer",
                  users={"carol": "pw"}) as reg:
        yield reg


def test_push_and_pull_over_https_with_a_private_ca(tls_registry: Registry,
                                                    pki: dict[str, Path],
                                                    app_image: tuple[Path, ImageRecord],
                                                    tmp_path: Path) -> None:
    root, image = app_image
    reg = tls_registry
    name = f"{reg.host}/team/app:1"
    for r in (root, tmp_path):
        (r / "certs.d" / reg.host).mkdir(parents=True)
        shutil.copy(pki["ca"], r / "certs.d" / reg.host / "ca.crt")
        login(r, reg.host, "carol", "pw")
    with ImageStore(root) as store:
        store.tag(image.id, name)
        assert push_image(store, name).digest == image.manifest_digest
    with ImageStore(tmp_path) as store:
        assert pull_image(store, name).record.id == image.id


def test_untrusted_certificate_is_a_clear_error(tls_registry: Registry,
                                                roots: tuple[Path, Path]) -> None:
    reg = tls_registry
    client = RegistryClient(Endpoint(reg.host, reg.host, secure=True))
    with ImageStore(roots[0]) as store, client, pytest.raises(ImageError) as err:
        pull_image(store, f"{reg.host}/team/app:1", client=client)
    assert f"TLS certificate of registry {reg.host} is not trusted" in str(err.value)
    assert "CA certificate" in (err.value.hint or "")


def test_broken_certs_dir_is_reported(roots: tuple[Path, Path]) -> None:
    root = roots[0]
    where = root / "certs.d" / "reg.example:5000"
    where.mkdir(parents=True)
    (where / "client.cert").write_text("x")
    with pytest.raises(ImageError, match=r"client\.key is missing"):
        RegistryClient.open(root, "reg.example:5000")
    (where / "client.cert").unlink()
    (where / "ca.crt").write_text("not a certificate")
    with pytest.raises(ImageError, match="cannot load the CA certificate"):
        RegistryClient.open(root, "reg.example:5000")


@pytest.fixture(scope="module")
def named_cert(pki: dict[str, Path]) -> dict[str, Path]:
    """A server certificate for DNS:registry.test, signed by the test CA."""
    d = pki["ca"].parent

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "named.key", "-out", "named.csr", "-subj", "/CN=registry.test")
    (d / "named.cnf").write_text("subjectAltName=DNS:registry.test\n")
    ossl("x509", "-req", "-in", "named.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "named.crt", "-days", "2", "-extfile", "named.cnf")
    return {"cert": d / "named.crt", "key": d / "named.key"}


def _proxied(domain: str, *, secure: bool, proxy_url: str,
             ctx: ssl.SSLContext | None = None) -> RegistryClient:
    env = {"HTTPS_PROXY": proxy_url, "http_proxy": proxy_url}
    return RegistryClient(Endpoint(domain, domain, secure=secure),
                          transport=Transport(env=env, ssl_context=ctx))


def test_https_through_a_connect_proxy(pki: dict[str, Path], named_cert: dict[str, Path],
                                       roots: tuple[Path, Path]) -> None:
    crafted_host = "registry.test:8443"
    with Registry(tls=(str(named_cert["cert"]), str(named_cert["key"]))) as reg:
        craft_image(reg, "lib/tool", "v1", [{"a": b"1"}])
        port = int(reg.host.rsplit(":", 1)[1])
        auth = "Basic " + base64.b64encode(b"px:secret").decode()
        with Proxy({crafted_host: ("127.0.0.1", port)}, auth=auth) as proxy:
            ctx = ssl.create_default_context(cafile=str(pki["ca"]))
            client = _proxied(crafted_host, secure=True, proxy_url=f"http://px:secret@{proxy.url}",
                              ctx=ctx)
            with ImageStore(roots[0]) as store, client:
                res = pull_image(store, f"{crafted_host}/lib/tool:v1", client=client)
            assert res.fetched == 1
            assert ("CONNECT", crafted_host) in proxy.seen
            bad = _proxied(crafted_host, secure=True, proxy_url=f"http://px:wrong@{proxy.url}",
                           ctx=ctx)
            with ImageStore(roots[0]) as store, bad, pytest.raises(ImageError) as err:
                pull_image(store, f"{crafted_host}/lib/tool:v2", client=bad)
            assert f"the proxy refused the tunnel to registry {crafted_host} (through proxy " \
                f"{proxy.url})" in str(err.value)
            assert "407" in str(err.value)


def test_plain_http_through_a_forward_proxy(registry: Registry,
                                            roots: tuple[Path, Path]) -> None:
    craft_image(registry, "lib/tool", "v1", [{"a": b"1"}, {"b": b"2"}])
    port = int(registry.host.rsplit(":", 1)[1])
    with Proxy({"registry.test:5000": ("127.0.0.1", port)}) as proxy:
        client = _proxied("registry.test:5000", secure=False, proxy_url=proxy.url)
        with ImageStore(roots[0]) as store, client:
            res = pull_image(store, "registry.test:5000/lib/tool:v1", client=client)
        assert res.fetched == 2
        assert ("GET", "http://registry.test:5000/v2/lib/tool/manifests/v1") in proxy.seen
