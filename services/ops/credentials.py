"""The principals' password files: ``<dir>/<principal>.password``, readable by the owner only,
never in git (the state folder ignores everything in it)."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

PRINCIPAL_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
PASSWORD_BYTES = 32  # 43 URL-safe characters


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def password_file(directory: Path, principal: str) -> Path:
    if not PRINCIPAL_PATTERN.match(principal):
        raise ValueError(f"not a principal name: {principal!r}")
    return directory / f"{principal}.password"


def read_password(directory: Path, principal: str) -> str | None:
    return read_secret(password_file(directory, principal))


def write_password(directory: Path, principal: str, password: str) -> Path:
    """Write it atomically with mode 0600 (the folder 0700)."""
    return write_private(password_file(directory, principal), f"{password}\n")


def write_private(path: Path, text: str) -> Path:
    """Write atomically with mode 0600 (the folder 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def read_secret(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None
