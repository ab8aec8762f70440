"""nginx terminating TLS in front of loopback-bound gateways (the guide's "Reverse Proxy Configuration").

The certificate comes from a CA the host makes for itself (its key never leaves the host; clients trust its
published certificate) or is the operator's own. nginx's file is checked with ``nginx -t`` before nginx is
reloaded, and a file nginx rejects is replaced by the one it had, so a running proxy is never broken.
"""

from __future__ import annotations

import hashlib
import ipaddress
import posixpath
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File, Sha256File

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.tls_certificate import TlsCertificate
from openclaw_infra.operations.file_ownership import ownership_fixes
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render
from openclaw_infra.settings import Settings

# Where nginx connects to the gateways from: the one address each proxied gateway's trustedProxies names.
PROXY_SOURCE_ADDRESS = "127.0.0.1"
PROXY_DIR = "/etc/openclaw-proxy"
CA_DIR = f"{PROXY_DIR}/ca"
# The CA's certificate for clients to trust (public); the CA's own copy and key stay in CA_DIR (root's, 0700).
PUBLISHED_CA = f"{PROXY_DIR}/ca.crt"
TLS_DIR = f"{PROXY_DIR}/tls"
CERTIFICATE = f"{TLS_DIR}/server.crt"
CERTIFICATE_KEY = f"{TLS_DIR}/server.key"
NGINX_CONFIG = "/etc/nginx/conf.d/openclaw-gateways.conf"
NGINX_SERVICE = "nginx.service"
PACKAGES = ["nginx", "openssl"]
# Ten years for the CA; 397 days for a certificate (what browsers accept), renewed 30 days before its end.
CA_DAYS = 3650
CERTIFICATE_DAYS = 397
# P-256: what every TLS client speaks, and small.
NEW_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


def nginx_config_content(server_names: Sequence[str], routes: Sequence[tuple[int, int]]) -> str:
    """nginx's file: a TLS server per (https_port, gateway_port) in ``routes``, answering ``server_names``."""
    return render(
        "reverse_proxy/nginx-openclaw.conf.j2",
        server_names=list(server_names),
        routes=[{"https_port": https_port, "gateway_port": gateway_port} for https_port, gateway_port in routes],
        certificate=CERTIFICATE,
        key=CERTIFICATE_KEY,
    )


def content_for(settings: Settings) -> str:
    """nginx's file as ``settings`` make it: a server per proxied gateway, answering the proxy's server_name."""
    assert settings.reverse_proxy is not None
    routes = [(https_port, gateway.port) for gateway, https_port in settings.proxied_gateways()]
    return nginx_config_content([settings.reverse_proxy.server_name], routes)


def subject_alternative_names(names: Sequence[str]) -> str:
    """``names`` as openssl's subjectAltName value: ``DNS:gw.example,IP:10.0.0.5``."""
    entries = []
    for name in names:
        try:
            entries.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


def _normalised(names: Sequence[str]) -> tuple[str, ...]:
    result = []
    for name in names:
        try:
            result.append(str(ipaddress.ip_address(name)))
        except ValueError:
            result.append(name)
    return tuple(result)


def ca_is_missing(directory: str = CA_DIR) -> bool:
    """Whether ``local_ca`` will make the CA in this run (so the certificate it signed before is void)."""
    key, certificate = read_facts(
        (File, {"path": posixpath.join(directory, "ca.key")}), (File, {"path": posixpath.join(directory, "ca.crt")})
    )
    return not (key and certificate)


def certificate_summary(found: Mapping[str, Any] | None, names: Sequence[str] | None) -> str:
    """How the checks name the proxy's certificate, from the ``TlsCertificate`` fact's printed value (``found``).
    ``names``: those the host's CA signs it for; None for the operator's own certificate (its names are theirs)."""
    if not found:
        return "missing"
    parts = [f"names {', '.join(found['names'])}"] if names is not None else []
    parts.append("expires within 30 days" if found["expires_soon"] else "valid beyond 30 days")
    parts.append("its own key" if found["key_matches"] else "another key beside it")
    if names is not None:
        parts.append("signed by this host's CA" if found["verified"] else "not signed by this host's CA")
    return "; ".join(parts)


def wanted_certificate(names: Sequence[str] | None) -> dict[str, Any]:
    """The ``TlsCertificate`` value a sound certificate has, for ``certificate_summary``."""
    return {"names": list(_normalised(names or ())), "expires_soon": False, "key_matches": True, "verified": True}


@operation()
def local_ca(
    common_name: str, directory: str = CA_DIR, published: str = PUBLISHED_CA
) -> Generator[StringCommand, None, None]:
    """
    A certificate authority of this host's own, for the proxy's certificate: its key made on the host (root's,
    0600, in a 0700 directory) and never copied anywhere; its certificate also at ``published`` (0644) for clients
    to trust.

    + common_name: the CA's name, as clients show it
    + directory: where its key and certificate are kept
    + published: the copy of its certificate clients fetch

    An existing CA is kept (a new one would have to be trusted anew by every client); only its owners and modes,
    and the published copy, are put back.
    """
    for path in (directory, published):
        if not posixpath.isabs(path):
            raise OperationValueError(f"path {path!r} must be absolute")
    key, certificate = posixpath.join(directory, "ca.key"), posixpath.join(directory, "ca.crt")
    present_key, present_certificate, certificate_sha, published_sha = read_facts(
        (File, {"path": key}), (File, {"path": certificate}),
        (Sha256File, {"path": certificate}), (Sha256File, {"path": published}),
    )  # fmt: skip
    commands: list[StringCommand] = []
    made = not (present_key and present_certificate)
    if not made:
        commands += ownership_fixes(key, present_key, "root", "root", 600)
        commands += ownership_fixes(certificate, present_certificate, "root", "root", 600)
    else:
        commands.append(StringCommand("install", "-d", "-m", "700", "-o", "root", "-g", "root", quoted(directory)))
        # umask 077: the key is never readable by others, not even while openssl writes it.
        commands.append(
            StringCommand(
                "umask", "077", "&&", "openssl", "req", "-x509", "-new", *NEW_EC_KEY,
                "-keyout", quoted(key), "-out", quoted(certificate), "-days", str(CA_DAYS),
                "-subj", quoted(f"/CN={common_name}"),
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "2>&1",
            )
        )  # fmt: skip
    if made or published_sha != certificate_sha:
        commands.append(
            StringCommand("install", "-m", "644", "-o", "root", "-g", "root", quoted(certificate), quoted(published))
        )
    if not commands:
        host.noop(f"the proxy's CA is in {directory}, its certificate published at {published}")
    yield from commands


@operation()
def server_certificate(
    names: list[str],
    ca_directory: str = CA_DIR,
    certificate: str = CERTIFICATE,
    key: str = CERTIFICATE_KEY,
    reissue: bool = False,
) -> Generator[StringCommand, None, None]:
    """
    The proxy's certificate for ``names``, signed by the host's CA (``local_ca``), its key made beside it (root's,
    0600).

    + names: the names and addresses it carries, the first also its subject (the settings' server_name first)
    + ca_directory: the CA's directory
    + certificate, key: where the certificate and its key go (a 0700 directory)
    + reissue: issue it anew whatever it holds (the CA is being made in this run)

    Issued anew when it is missing, carries other names, expires within 30 days, has lost its key, or the CA
    no longer verifies it; otherwise nothing changes.
    """
    if not names:
        raise OperationValueError("names must hold at least the server name")
    for path in (ca_directory, certificate, key):
        if not posixpath.isabs(path):
            raise OperationValueError(f"path {path!r} must be absolute")
    ca_certificate, ca_key = posixpath.join(ca_directory, "ca.crt"), posixpath.join(ca_directory, "ca.key")
    (state,) = read_facts((TlsCertificate, {"certificate": certificate, "key": key, "ca": ca_certificate}))
    wanted = _normalised(names)
    if state is None:
        why = "none yet"
    elif reissue:
        why = "its CA is new"
    elif tuple(state.names) != wanted:
        why = f"it names {', '.join(state.names) or 'nothing'}"
    elif state.expires_soon:
        why = "it expires within 30 days"
    elif not state.key_matches:
        why = "its key is not the one beside it"
    elif not state.verified:
        why = "the CA does not verify it"
    else:
        present_key, present_certificate = read_facts((File, {"path": key}), (File, {"path": certificate}))
        fixes = [
            *ownership_fixes(key, present_key, "root", "root", 600),
            *ownership_fixes(certificate, present_certificate, "root", "root", 600),
        ]
        if not fixes:
            host.noop(f"{certificate} names {', '.join(wanted)} and is valid for more than 30 days")
        yield from fixes
        return
    directory = posixpath.dirname(certificate)
    request = f"{certificate}.csr"
    yield StringCommand("echo", quoted(f"issuing {certificate}: {why}"))
    yield StringCommand("install", "-d", "-m", "700", "-o", "root", "-g", "root", quoted(directory))
    # The new key and certificate are made beside the old ones and moved in together once both exist.
    yield StringCommand(
        "umask", "077", "&&",
        "openssl", "req", "-new", *NEW_EC_KEY, "-keyout", quoted(f"{key}.new"), "-out", quoted(request),
        "-subj", quoted(f"/CN={wanted[0]}"),
        "-addext", quoted(f"subjectAltName={subject_alternative_names(wanted)}"),
        "-addext", "extendedKeyUsage=serverAuth", "2>&1", "&&",
        "openssl", "x509", "-req", "-in", quoted(request), "-CA", quoted(ca_certificate), "-CAkey", quoted(ca_key),
        "-CAserial", quoted(posixpath.join(ca_directory, "ca.srl")), "-CAcreateserial", "-copy_extensions", "copyall",
        "-days", str(CERTIFICATE_DAYS), "-out", quoted(f"{certificate}.new"), "2>&1", "&&",
        "mv", "-f", quoted(f"{key}.new"), quoted(key), "&&",
        "mv", "-f", quoted(f"{certificate}.new"), quoted(certificate), "&&",
        "rm", "-f", quoted(request),
    )  # fmt: skip


@operation()
def nginx_config(content: str, path: str = NGINX_CONFIG) -> Generator[PyinfraCommand, None, None]:
    """
    nginx's file for the gateways at ``path`` (root's, 0644), accepted by ``nginx -t`` before it stays.

    + content: the whole file (``nginx_config_content``)
    + path: a file nginx includes in its http context

    A file nginx rejects fails the operation and the previous file (or none) is put back, so the running nginx,
    and its next reload, keep the configuration that worked.
    """
    if not posixpath.isabs(path):
        raise OperationValueError(f"path {path!r} must be absolute")
    wanted_sha = hashlib.sha256(content.encode()).hexdigest()
    present, present_sha = read_facts((File, {"path": path}), (Sha256File, {"path": path}))
    if present and present_sha == wanted_sha:
        fixes = ownership_fixes(path, present, "root", "root", 644)
        if not fixes:
            host.noop(f"{path} is up to date")
        yield from fixes
        return
    staged = f"{path}.pyinfra-new"
    kept = f"{path}.pyinfra-old"
    yield from private_upload(content, staged)
    yield StringCommand("chmod", "644", quoted(staged))
    put_back = ["mv", "-f", quoted(kept), quoted(path)] if present else ["rm", "-f", quoted(path)]
    if present:
        yield StringCommand("cp", "-p", quoted(path), quoted(kept))
    yield StringCommand("mv", "-f", quoted(staged), quoted(path))
    yield StringCommand(
        "nginx", "-t", "-q", "||", "{", *put_back, ";",
        "echo", quoted(f"nginx rejected the new {path}; the previous one is back"), ">&2", ";", "exit", "1", ";", "}",
    )  # fmt: skip
    if present:
        yield StringCommand("rm", "-f", quoted(kept))
