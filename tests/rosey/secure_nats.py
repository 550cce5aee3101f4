"""What a secured nats-server needs, made in the test: a CA and a server certificate, operator/account/user JWTs.

The JWTs are signed with the `nkeys` package nats-py itself signs with, in the
layout nats-server verifies (header, claims with a ``jti`` that hashes them,
an ed25519 signature by the issuer's key); the creds file is the one ``nsc``
writes.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import time
from pathlib import Path
from typing import NamedTuple

import nkeys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_tls_files(directory: Path, ca_name: str = "Rosey test CA") -> dict[str, Path]:
    """A CA certificate and a server certificate for 127.0.0.1 signed by it: ca_file, cert_file, key_file."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(ca_name)).issuer_name(_name(ca_name))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                          x509.DNSName("localhost")]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    files = {"ca_file": directory / "ca.pem", "cert_file": directory / "server.pem",
             "key_file": directory / "server-key.pem"}
    files["ca_file"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert_file"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key_file"].write_bytes(_pem_key(server_key))
    return files


def new_key(prefix: int) -> nkeys.KeyPair:
    return nkeys.from_seed(bytearray(nkeys.encode_seed(os.urandom(32), prefix)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed_jwt(subject: nkeys.KeyPair, issuer: nkeys.KeyPair, name: str, nats_claims: dict) -> str:
    claims = {"iat": int(time.time()), "iss": issuer.public_key.decode(), "name": name,
              "sub": subject.public_key.decode(), "nats": {**nats_claims, "version": 2}}
    claims["jti"] = base64.b32encode(hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()
                                     ).decode().rstrip("=")
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = issuer.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}.{_b64(signature)}"


class Creds(NamedTuple):
    path: Path
    seed: str
    """The user's private key: never to be logged."""


UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


class Operator:
    """An operator with one account: the nats-server config that trusts it, and creds files for users."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.operator = new_key(nkeys.PREFIX_BYTE_OPERATOR)
        self.account = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
        operator_jwt = signed_jwt(self.operator, self.operator, "rosey-operator", {"type": "operator"})
        account_jwt = signed_jwt(self.account, self.operator, "rosey-account", {
            "type": "account", "limits": {**UNLIMITED, "conn": -1, "leaf": -1, "imports": -1, "exports": -1,
                                          "wildcards": True}})
        (directory / "operator.jwt").write_text(operator_jwt)
        self.server_config = directory / "server.conf"
        self.server_config.write_text(
            f'operator: "{directory / "operator.jwt"}"\nresolver: MEMORY\n'
            f'resolver_preload: {{ {self.account.public_key.decode()}: "{account_jwt}" }}\n')

    def creds_file(self, name: str, *, signed_by: nkeys.KeyPair | None = None) -> Creds:
        """A user's .creds file; ``signed_by`` another account's key makes one this server does not know."""
        user = new_key(nkeys.PREFIX_BYTE_USER)
        issuer = signed_by or self.account
        jwt = signed_jwt(user, issuer, name, {"type": "user", "pub": {}, "sub": {}, **UNLIMITED})
        path = self.directory / f"{name}.creds"
        path.write_text(
            f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user.seed.decode()}\n------END USER NKEY SEED------\n")
        return Creds(path, user.seed.decode())
