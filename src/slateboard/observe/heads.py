"""Signed heads: a board's head (board, version, chain hash, time) signed with an Ed25519 key the user holds.

A board's hash chain finds any entry edited, deleted or reordered in place, but not a removed tail, nor a log
rewritten and re-chained from an edit onward by someone who can write the store. A head exported earlier and
kept elsewhere finds both: the board must still have that version, with that hash. Signed, the head itself
cannot be forged by that same someone: only the holder of the private key can sign one (docs/signed-heads.md).

```python
from slateboard.observe import heads

heads.generate_key("board.key")                         # board.key (0600) and board.key.pub
signed = heads.export_head_sync(board, "board.key", "case-42.head.json")
heads.verify_head_sync(board, "case-42.head.json", "board.key.pub")   # TamperedLogError on truncation or rewrite
```

Keys are PEM files (PKCS #8 private, SubjectPublicKeyInfo public). The head file is JSON; the signature covers
the canonical JSON of every other field. Needs the `signing` extra (`cryptography`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from slateboard._internal.sync import sync_function
from slateboard.blackboard.board import Board
from slateboard.blackboard.entries import Head
from slateboard.blackboard.records import FrozenModel
from slateboard.errors import ConfigurationError, SignedHeadError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = (
    "FORMAT", "SignedHead", "generate_key", "sign_head", "read_head", "write_head", "check_signature",
    "export_head", "verify_head", "export_head_sync", "verify_head_sync", "key_id",
)  # fmt: skip

FORMAT = "slateboard.signed-head/1"
PathLike = str | os.PathLike[str]


class SignedHead(FrozenModel):
    """A board's head as exported: `signature` (base64) covers every other field; `key_id` names the public key
    that checks it (the first 16 hex digits of the SHA-256 of its raw bytes)."""

    format: Literal["slateboard.signed-head/1"] = "slateboard.signed-head/1"
    board: str
    version: int
    hash: str
    exported_at: datetime
    key_id: str
    signature: str

    @property
    def head(self) -> Head:
        """The head to verify a board against."""
        return Head(board=self.board, version=self.version, hash=self.hash)

    def message(self) -> bytes:
        """The bytes the signature covers: the canonical JSON of every field but the signature."""
        fields = self.model_dump(mode="json", exclude={"signature"})
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - optional: the signing extra
    except ImportError as exc:
        raise ConfigurationError(
            "signed heads need the signing extra: pip install 'slateboard[signing]' (the cryptography package)"
        ) from exc
    return serialization


def key_id(public: Ed25519PublicKey) -> str:
    """A public key's short name: the first 16 hex digits of the SHA-256 of its raw bytes."""
    serialization = _crypto()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key(private: PathLike, public: PathLike | None = None, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 private key to `private` (PEM, mode 0600 from its creation) and its public key to
    `public` (default: `private` + ".pub"). Refuses to overwrite either file unless `force`."""
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    private_path = Path(private)
    public_path = Path(public) if public is not None else private_path.with_name(private_path.name + ".pub")
    key = Ed25519PrivateKey.generate()
    secret = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    shared = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for path in (private_path, public_path):
        if path.exists() and not force:
            raise SignedHeadError("already exists; choose another path, or overwrite it with force", file=str(path))
    for path, data, mode in ((private_path, secret, 0o600), (public_path, shared, 0o644)):
        try:
            _write(path, data, mode)
        except OSError as exc:
            raise SignedHeadError(f"cannot write the key: {exc.strerror or exc}", file=str(path)) from exc
    return private_path, public_path


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode, never readable by others even for a moment; an old file's mode is reset too.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as out:
        os.fchmod(out.fileno(), mode)
        out.write(data)


def _load_private(path: PathLike) -> Ed25519PrivateKey:
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    data = _read_bytes(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SignedHeadError(f"not an unencrypted PEM private key ({exc})", file=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SignedHeadError(f"a {type(key).__name__}, not an Ed25519 private key", file=str(path))
    return key


def _load_public(path: PathLike) -> Ed25519PublicKey:
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    data = _read_bytes(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        hint = " (this is a private key: give its .pub file)" if b"PRIVATE KEY" in data else ""
        raise SignedHeadError(f"not a PEM public key{hint} ({exc})", file=str(path)) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignedHeadError(f"a {type(key).__name__}, not an Ed25519 public key", file=str(path))
    return key


def _read_bytes(path: PathLike, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SignedHeadError(f"cannot read the {what}: {exc.strerror or exc}", file=str(path)) from exc


def sign_head(head: Head, private: PathLike, *, at: datetime | None = None) -> SignedHead:
    """`head` signed with the private key in the file `private`, stamped with `at` (default: now, UTC)."""
    key = _load_private(private)
    unsigned = SignedHead(
        board=head.board,
        version=head.version,
        hash=head.hash,
        exported_at=at or datetime.now(UTC),
        key_id=key_id(key.public_key()),
        signature="",
    )
    signature = base64.b64encode(key.sign(unsigned.message())).decode()
    return unsigned.model_copy(update={"signature": signature})


def write_head(signed: SignedHead, path: PathLike) -> Path:
    """Write `signed` to `path` as JSON (readable by anyone: it holds no secret). The file is replaced whole: a crash
    while writing leaves the earlier head, never half of one."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(signed.model_dump_json(indent=2) + "\n", encoding="utf-8")
        partial.replace(target)
    except OSError as exc:
        raise SignedHeadError(f"cannot write the signed head: {exc.strerror or exc}", file=str(target)) from exc
    return target


def read_head(path: PathLike) -> SignedHead:
    """The signed head in the file `path`; `SignedHeadError` naming the file and the first bad field otherwise."""
    file = str(path)
    raw = _read_bytes(path, "signed head")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SignedHeadError(f"not JSON ({exc})", file=file) from exc
    if not isinstance(data, dict):
        raise SignedHeadError(f"a JSON {type(data).__name__}, not an object with a signed head's fields", file=file)
    if data.get("format") != FORMAT:
        raise SignedHeadError(f"expected {FORMAT!r}, got {data.get('format')!r}", file=file, field="format")
    try:
        signed = SignedHead.model_validate_json(raw, strict=True)  # a version of "5" or true is no version
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or None
        raise SignedHeadError(problem["msg"], file=file, field=field) from exc
    _check_fields(signed, file)
    return signed


def _check_fields(signed: SignedHead, file: str) -> None:
    if signed.version < 0:
        raise SignedHeadError(f"a version is 0 or more, got {signed.version}", file=file, field="version")
    if len(signed.hash) != 64 or any(c not in "0123456789abcdef" for c in signed.hash):
        raise SignedHeadError("a chain hash is 64 lowercase hex digits", file=file, field="hash")
    try:
        if len(base64.b64decode(signed.signature, validate=True)) != 64:
            raise SignedHeadError("an Ed25519 signature is 64 bytes", file=file, field="signature")
    except binascii.Error as exc:
        raise SignedHeadError(f"not base64 ({exc})", file=file, field="signature") from exc


def check_signature(signed: SignedHead, public: PathLike, *, file: str = "the signed head") -> Head:
    """The head `signed` vouches for, once its signature checks against the public key in the file `public`;
    `SignedHeadError` for a head signed by another key, or one whose signature does not match its fields."""
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415 - _load_public checked the extra

    key = _load_public(public)
    if key_id(key) != signed.key_id:
        raise SignedHeadError(
            f"signed by key {signed.key_id}, but {public} is key {key_id(key)}: the wrong public key",
            file=file,
            field="key_id",
        )
    try:
        key.verify(base64.b64decode(signed.signature), signed.message())
    except InvalidSignature as exc:
        raise SignedHeadError(
            "the signature does not match the head's fields: the file was altered after it was signed",
            file=file,
            field="signature",
        ) from exc
    return signed.head


async def export_head(board: Board, private: PathLike, path: PathLike) -> SignedHead:
    """Verify `board`'s chain, then write its head signed with the key in `private` to `path` (a tampered board
    raises `TamperedLogError` and nothing is written: a signature must never vouch for a broken chain)."""
    _load_private(private)  # a bad key fails before the board is read
    signed = sign_head(await board.verify(), private)
    write_head(signed, path)
    return signed


async def verify_head(board: Board, path: PathLike, public: PathLike) -> Head:
    """Check the signed head in `path` with the key in `public`, then verify `board` against it: a
    `TamperedLogError` names the version where the board was truncated or rewritten since it was signed."""
    signed = read_head(path)
    head = check_signature(signed, public, file=str(path))
    if head.board != board.name:
        raise SignedHeadError(f"is the head of board {head.board!r}, not {board.name!r}", file=str(path), field="board")
    return await board.verify(head=head)


export_head_sync = sync_function(export_head)
verify_head_sync = sync_function(verify_head)
