"""API keys bound to scopes, stored hashed in one small file in the data directory.

    store = KeyStore.in_dir(config.data_dir)            # <data_dir>/api_keys.json
    created = store.create(KeyBinding(user_id="alice"), name="alice's app")
    created.token                                      # shown once: mi_<id>_<secret>
    store.authenticate(created.token)                  # -> the StoredKey, or None
    store.revoke(created.key.id)

A key is bound to exactly one of: a user id, an agent id, a tenant (a prefix every user
id it touches must start with, e.g. "acme/"), or admin (everything, `reset` included).
Only the SHA-256 of a key is stored: the secret part carries 256 random bits, so a salted,
slow hash would add cost without adding safety. The file is written atomically (a
temporary file renamed over it) with mode 0600, under an exclusive lock, and servers
re-read it when it changes, so a revoked key stops working without a restart.

Pure Python (no FastAPI), so the CLI and the MCP server use it too.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mem_integrations.core.errors import ConfigurationError, InvalidInputError
from mem_integrations.core.scope import Scope

__all__ = ["KEY_FILE", "CreatedKey", "KeyBinding", "KeyStore", "StoredKey"]

KEY_FILE = "api_keys.json"
_PREFIX = "mi"


class KeyBinding(BaseModel):
    """What a key may touch: one user, one agent, one tenant (user-id prefix), or all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str | None = None
    agent_id: str | None = None
    tenant: str | None = Field(default=None, description="A prefix every user id must have.")
    admin: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> KeyBinding:
        bound = [k for k in ("user_id", "agent_id", "tenant") if getattr(self, k) is not None]
        if len(bound) + self.admin != 1:
            raise ValueError("bind a key to exactly one of user_id, agent_id, tenant, or admin")
        if self.user_id is not None or self.agent_id is not None:
            Scope.of("an API key", user_id=self.user_id, agent_id=self.agent_id)
        if self.tenant is not None and not self.tenant.strip():
            raise ValueError("a tenant prefix must not be empty")
        return self

    def __str__(self) -> str:
        if self.admin:
            return "admin"
        if self.tenant is not None:
            return f"tenant={self.tenant}"
        return f"user_id={self.user_id}" if self.user_id is not None else f"agent_id={self.agent_id}"


class StoredKey(BaseModel):
    """One key as stored: never its secret, only the secret's digest."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str = ""
    digest: str = Field(description="hex SHA-256 of the whole key")
    binding: KeyBinding
    rate_limit: float | None = Field(default=None, gt=0,
                                     description="Requests per minute; None: the server's.")
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class CreatedKey(BaseModel):
    """A new key: `token` is the only copy of its secret (it is not stored)."""

    key: StoredKey
    token: str


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    keys: list[StoredKey] = []


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _split(token: str) -> str | None:
    """The key id inside `mi_<id>_<secret>`, or None for any other text."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


class KeyStore:
    """The keys in one file; see the module's docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict[str, StoredKey] = {}

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> KeyStore:
        """The store of a data directory (`<data_dir>/api_keys.json`)."""
        return cls(Path(data_dir).expanduser() / KEY_FILE)

    def __repr__(self) -> str:
        return f"KeyStore({str(self.path)!r})"

    @property
    def exists(self) -> bool:
        """Whether the file exists. Once it does, a server requires a key, even when every
        key in it is revoked (revoking the last key must not open the server)."""
        return self.path.exists()

    # --- reading ---------------------------------------------------------------------

    def list_keys(self) -> list[StoredKey]:
        """Every key, revoked ones included, oldest first."""
        return list(self._load().values())

    def authenticate(self, token: str | None) -> StoredKey | None:
        """The active key `token` is, or None. The digests are compared in constant time."""
        if not token:
            return None
        key_id = _split(token)
        found = self._load().get(key_id) if key_id is not None else None
        # compare even when the id is unknown, so the timing says nothing about ids
        expected = found.digest if found is not None else "0" * 64
        if hmac.compare_digest(_digest(token), expected) and found is not None and found.active:
            return found
        return None

    def _load(self) -> dict[str, StoredKey]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._keys = None, {}
            return self._keys
        seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if seen != self._seen:  # re-read only when the file changed (a revoke, a create)
            self._keys = {k.id: k for k in self._read().keys}
            self._seen = seen
        return self._keys

    def _read(self) -> _KeyFile:
        try:
            return _KeyFile.model_validate(json.loads(self.path.read_text("utf-8")))
        except FileNotFoundError:
            return _KeyFile()
        except (ValueError, ValidationError) as exc:
            raise ConfigurationError(
                f"the API key file {self.path} is damaged ({type(exc).__name__}); restore it "
                "from a backup, or move it aside and create the keys again with "
                "`mem-integrations keys create`") from None

    # --- changing --------------------------------------------------------------------

    def create(self, binding: KeyBinding, *, name: str = "",
               rate_limit: float | None = None) -> CreatedKey:
        """A new active key for `binding`; its token is returned once and never stored."""
        if rate_limit is not None and not rate_limit > 0:
            raise InvalidInputError("rate_limit is requests per minute: a positive number")
        key_id = secrets.token_hex(6)
        token = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        key = StoredKey(id=key_id, name=name, digest=_digest(token), binding=binding,
                        rate_limit=rate_limit, created_at=datetime.now(UTC))
        with self._editing() as content:
            content.keys.append(key)
        return CreatedKey(key=key, token=token)

    def revoke(self, key_id: str) -> StoredKey:
        """Revoke a key by id (kept in the file, marked revoked); `InvalidInputError` for
        an unknown id. Revoking twice keeps the first time."""
        with self._editing() as content:
            for index, key in enumerate(content.keys):
                if key.id == key_id:
                    if key.active:
                        key = key.model_copy(update={"revoked_at": datetime.now(UTC)})
                        content.keys[index] = key
                    return key
        raise InvalidInputError(f"no API key with id {key_id!r}: `mem-integrations keys list` "
                                "shows the ids")

    @contextmanager
    def _editing(self) -> Iterator[_KeyFile]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two CLI runs must not lose each other's key
            content = self._read()
            yield content
            self._write(content)

    def _write(self, content: _KeyFile) -> None:
        data: dict[str, Any] = content.model_dump(mode="json")
        # mkstemp creates the file with mode 0600: only this user can read the digests
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".api_keys.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
