"""统一密码服务平台: the region's crypto service (SM2 / SM3 / SM4 over HTTPS, per-tenant keys).

* :mod:`xzgov.cryptosvc.config` — service configuration, secret files (owner-only)
* :mod:`xzgov.cryptosvc.keystore` — tenant keys wrapped under the master key (SM4-GCM), atomic, locked
* :mod:`xzgov.cryptosvc.audit` — SM3 hash-chained audit log with SM2-signed checkpoints, and its verifier
* :mod:`xzgov.cryptosvc.auth` — HMAC-SM3 signed requests (per-system keys, timestamp + nonce)
* :mod:`xzgov.cryptosvc.app` — the ASGI application (FastAPI; the OpenAPI description is not served:
  ``xzgov cryptosvc openapi`` prints it)
* :mod:`xzgov.cryptosvc.server` — serving limits around uvicorn (request-head deadline, log rate limit)
* :mod:`xzgov.cryptosvc.client` — signing requests as a calling system does

Layer: imports :mod:`xzgov.crypto` and :mod:`xzgov.core` only (``pyproject.toml``, import-linter).
See ``docs/crypto-service.md``.
"""
