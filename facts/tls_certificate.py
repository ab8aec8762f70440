"""A TLS certificate as ``openssl`` reads it: the names it carries, whether it expires soon, whether the key beside
it is its key, and whether a CA's certificate verifies it. ``None`` when the certificate file does not exist.

The reverse proxy's certificate is reissued from what this says, so output it cannot read fails the fact instead
of passing for a certificate that is fine.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import meaningful_lines, unreadable
from .records import JsonRecord

# Renewed when it expires within this many seconds (30 days): well before a client refuses it.
RENEW_WITHIN_SECONDS = 30 * 24 * 3600
SECTIONS = ("names", "expiry", "certificate key", "private key", "verified")


@dataclasses.dataclass(frozen=True)
class CertificateState(JsonRecord):
    # The subjectAltName entries, DNS names as written and addresses normalised ("10.0.0.5", "::1").
    names: tuple[str, ...]
    expires_soon: bool
    # The private key beside it is the certificate's own (their public keys' digests match).
    key_matches: bool
    # The CA certificate given verifies it; None when no CA was asked about.
    verified: bool | None


def _names(line: str) -> tuple[str, ...]:
    """``DNS:gw.example, IP Address:10.1.2.3`` -> ("gw.example", "10.1.2.3")."""
    names = []
    for entry in line.split(","):
        kind, _, value = entry.strip().partition(":")
        if kind == "DNS":
            names.append(value)
        elif kind == "IP Address":
            try:
                names.append(str(ipaddress.ip_address(value)))
            except ValueError:
                raise unreadable("openssl x509", line, f"{value!r} is not an address") from None
        else:
            raise unreadable("openssl x509", line, f"unknown name kind {kind!r}")
    return tuple(names)


def _key_digest(lines: list[str]) -> str:
    """``sha256sum``'s digest of a public key; "" when nothing was read (sha256 of empty input)."""
    digest = lines[0].split()[0] if lines else ""
    if len(digest) != 64:
        raise unreadable("sha256sum", lines[0] if lines else "", "no digest")
    return "" if digest == EMPTY_SHA256 else digest


EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class TlsCertificate(FactBase[CertificateState | None]):
    """
    The certificate at ``certificate``: its names, whether it expires within 30 days, whether ``key`` is its
    private key and (with ``ca``) whether that CA certificate verifies it.

    Runs ``openssl x509 -ext subjectAltName -checkend``, digests of the certificate's and the key's public keys,
    and ``openssl verify -CAfile``.

    .. code:: python

        {"names": ["gw.example", "10.1.2.3"], "expires_soon": false, "key_matches": true, "verified": true}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "openssl"

    @override
    def command(self, certificate: str, key: str, ca: str | None = None) -> StringCommand:
        cert = quoted(certificate)
        verify: list[Any] = ["echo", "skipped"]
        if ca is not None:
            # "…: OK" when it verifies; openssl's reason otherwise (on stderr, so echo a verdict instead).
            verify = ["openssl", "verify", "-CAfile", quoted(ca), cert, ">/dev/null", "2>&1", "&&", "echo", "OK",
                      "||", "echo", "FAILED"]  # fmt: skip
        return StringCommand(
            "if", "[", "-f", cert, "];", "then",
            "echo", "'== names';", "openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName", ";",
            "echo", "'== expiry';", "openssl", "x509", "-in", cert, "-noout", "-checkend",
            str(RENEW_WITHIN_SECONDS), ";",
            "echo", "'== certificate key';", "openssl", "x509", "-in", cert, "-noout", "-pubkey", "|", "sha256sum;",
            "echo", "'== private key';", "{", "openssl", "pkey", "-in", quoted(key), "-pubout", "2>/dev/null", "||",
            "true;", "}", "|", "sha256sum;",
            "echo", "'== verified';", *verify, ";",
            "else", "echo", "absent;", "fi",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> CertificateState | None:
        lines = meaningful_lines(output)
        if lines == ["absent"]:
            return None
        sections: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in lines:
            if line.startswith("== "):
                current = sections.setdefault(line[3:], [])
            elif current is None:
                raise unreadable("openssl x509", line, "before any section")
            else:
                current.append(line.strip())
        if tuple(sections) != SECTIONS:
            raise unreadable("openssl x509", lines[0], f"sections {list(sections)}, not {list(SECTIONS)}")
        # The public key first: a file that is no certificate shows there as the digest of nothing.
        key_matches = self._key_matches(sections["certificate key"], sections["private key"])
        return CertificateState(
            names=self._names(sections["names"]),
            expires_soon=self._expires_soon(sections["expiry"]),
            key_matches=key_matches,
            verified=self._verified(sections["verified"]),
        )

    @staticmethod
    def _names(lines: list[str]) -> tuple[str, ...]:
        if lines == ["No extensions in certificate"] or lines == []:
            return ()
        if lines[0].startswith("X509v3 Subject Alternative Name") and len(lines) == 2:
            return _names(lines[1])
        raise unreadable("openssl x509", lines[0], "not a subjectAltName listing")

    @staticmethod
    def _expires_soon(lines: list[str]) -> bool:
        verdicts = {"Certificate will expire": True, "Certificate will not expire": False}
        if len(lines) != 1 or lines[0] not in verdicts:
            raise unreadable("openssl x509 -checkend", lines[0] if lines else "", "no verdict")
        return verdicts[lines[0]]

    @staticmethod
    def _key_matches(certificate: list[str], key: list[str]) -> bool:
        certificate_digest = _key_digest(certificate)
        if not certificate_digest:
            raise unreadable("openssl x509 -pubkey", certificate[0], "not a certificate: no public key read")
        return _key_digest(key) == certificate_digest

    @staticmethod
    def _verified(lines: list[str]) -> bool | None:
        verdicts = {"OK": True, "FAILED": False, "skipped": None}
        if len(lines) != 1 or lines[0] not in verdicts:
            raise unreadable("openssl verify", lines[0] if lines else "", "no verdict")
        return verdicts[lines[0]]
