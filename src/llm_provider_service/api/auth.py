"""Bearer-key checks for client and admin routes, in constant time, with keys never logged."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from pydantic import SecretStr
from starlette.requests import Request

from llm_provider_service.domain.errors import ForbiddenError, UnauthorizedError


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class KeyChecker:
    """Holds SHA-256 digests of the keys; compares the presented key's digest to every one."""

    def __init__(
        self, api_keys: Sequence[SecretStr], admin_key: SecretStr | None, *, allow_anonymous_jobs: bool = False
    ) -> None:
        self._client = [_digest(key.get_secret_value()) for key in api_keys]
        self._admin = _digest(admin_key.get_secret_value()) if admin_key is not None else None
        self._anonymous_jobs = allow_anonymous_jobs

    @property
    def enabled(self) -> bool:
        return bool(self._client) or self._admin is not None

    @staticmethod
    def _presented(request: Request) -> bytes | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return _digest(token.strip())

    def require_client(self, request: Request) -> None:
        """Any client key (or the admin key) when keys are configured; open otherwise (development)."""
        if not self.enabled:
            return
        presented = self._presented(request)
        if presented is None:
            raise UnauthorizedError("a bearer API key is required")
        matched = False
        for candidate in [*self._client, *([self._admin] if self._admin else [])]:
            matched |= hmac.compare_digest(presented, candidate)
        if not matched:
            raise UnauthorizedError("the API key is not valid")

    def require_submitter(self, request: Request) -> None:
        """Job submission: a client key, or none at all when anonymous jobs are allowed (a presented key must match)."""
        if self._anonymous_jobs and "authorization" not in request.headers:
            return
        self.require_client(request)

    def require_admin(self, request: Request) -> None:
        """The admin key. With client keys but no admin key configured, admin routes are closed."""
        if not self.enabled:
            return
        presented = self._presented(request)
        if presented is None:
            raise UnauthorizedError("the admin key is required")
        if self._admin is None:
            raise ForbiddenError("admin routes are disabled: no admin key is configured")
        if not hmac.compare_digest(presented, self._admin):
            raise ForbiddenError("this key may not use admin routes")
