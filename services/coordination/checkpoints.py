"""Signed checkpoints of the audit chain: "on <time>, chain <name> had <n> rows ending in <hash>".

The worker signs one every N rows or M seconds (``worker/checkpointer.py``) with an Ed25519 key
that only it holds, and publishes it to ``iiz.audit-checkpoints.v1`` (kept forever). The
database owner can rewrite the whole log with recomputed hashes, but cannot sign: ``verify-audit``
compares the log with every checkpoint and names the first that no longer matches.

A checkpoint on the topic is one JSON object (UTF-8, keys sorted, no spaces)::

    {"at": "2026-11-22T10:15:00.123456+00:00", "chain": "coordination",
     "format": "iiz.audit-checkpoint.v1", "head": "<64 hex>", "key_id": "a1", "rows": 1234,
     "signature": "<base64 Ed25519 signature>"}

The signature covers the same object without ``signature`` (same canonical form), so the key
id is signed too. ``rows`` is the row count (= the ``seq`` of the newest row), ``head`` that
row's hash (64 zeros for 0 rows). Ed25519 signatures are deterministic: the same checkpoint
published twice is the same record.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "iiz.audit-checkpoint.v1"
# An Ed25519 seed everyone can read: fine for development and tests, refused in production.
DEVELOPMENT_AUDIT_SIGNING_KEY = "F4b9hY5BZXv7f+Ox3NwR2MLNsMfjJsn0Zup3wWcMOZA="
_HASH = re.compile(r"^[0-9a-f]{64}$")


def load_private_key(text: str) -> Ed25519PrivateKey:
    """Base64 of the raw 32-byte seed, or a PKCS#8 PEM (``openssl genpkey -algorithm ed25519``)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 private key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw_32(text, "private"))


def load_public_key(text: str) -> Ed25519PublicKey:
    """Base64 of the raw 32-byte public key, or a SubjectPublicKeyInfo PEM."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw_32(text, "public"))


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Base64 of the raw public key: what an auditor is handed (for
    IIZ_COORDINATION_AUDIT_VERIFY_KEYS)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _raw_32(text: str, kind: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"the {kind} key is neither PEM nor base64") from error
    if len(raw) != 32:
        raise ValueError(f"the {kind} key must be 32 bytes (base64 of the raw key), not {len(raw)}")
    return raw


def _canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    rows: int
    head: str
    at: dt.datetime
    key_id: str
    signature: bytes = b""

    def content(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain": self.chain,
            "rows": self.rows,
            "head": self.head,
            "at": self.at.astimezone(dt.UTC).isoformat(),
            "key_id": self.key_id,
        }

    def signed_bytes(self) -> bytes:
        return _canonical(self.content())

    def to_json(self) -> bytes:
        return _canonical(
            {**self.content(), "signature": base64.b64encode(self.signature).decode("ascii")}
        )

    @classmethod
    def from_json(cls, value: bytes | None) -> Checkpoint:
        """Parse a record's value; ``ValueError`` if it is not a checkpoint."""
        try:
            data = json.loads(value or b"")
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not an {FORMAT} object")
            checkpoint = cls(
                chain=str(data["chain"]),
                rows=int(data["rows"]),
                head=str(data["head"]),
                at=dt.datetime.fromisoformat(data["at"]),
                key_id=str(data["key_id"]),
                signature=base64.b64decode(data["signature"], validate=True),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            raise ValueError(f"not a checkpoint: {error}") from error
        if checkpoint.rows < 0 or not _HASH.match(checkpoint.head):
            raise ValueError("not a checkpoint: bad row count or head hash")
        if checkpoint.at.tzinfo is None:
            raise ValueError("not a checkpoint: time without an offset")
        return checkpoint


@dataclass(frozen=True)
class CheckpointSigner:
    key_id: str
    key: Ed25519PrivateKey

    def sign(self, chain: str, rows: int, head: str, at: dt.datetime) -> Checkpoint:
        unsigned = Checkpoint(chain, rows, head, at, self.key_id)
        return replace(unsigned, signature=self.key.sign(unsigned.signed_bytes()))


@dataclass(frozen=True)
class CheckpointVerifier:
    keys: Mapping[str, Ed25519PublicKey]

    def problem(self, checkpoint: Checkpoint) -> str | None:
        """Why the signature does not hold (``None`` if it does)."""
        key = self.keys.get(checkpoint.key_id)
        if key is None:
            return f"signed with unknown key id {checkpoint.key_id!r}"
        try:
            key.verify(checkpoint.signature, checkpoint.signed_bytes())
        except InvalidSignature:
            return f"bad signature (key {checkpoint.key_id})"
        return None
