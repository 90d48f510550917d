"""Typed application keys, declared once."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from server.db import Database
from server.settings import Settings
from server.signing import ServerKey
from server.store.base import ObjectStore
from server.tokens import TokenIssuer
from server.worker import WorkerPool

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
STORE = web.AppKey("store", ObjectStore)
TOKENS = web.AppKey("tokens", TokenIssuer)
METRICS = web.AppKey("metrics", CollectorRegistry)
WORKERS = web.AppKey("workers", WorkerPool)
SIGNING_KEY = web.AppKey("signing_key", ServerKey)
