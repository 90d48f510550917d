"""Typed application keys, declared once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client import CollectorRegistry

from server.catalogue.db import Database
from server.custody.access_ledger import AccessLedger
from server.custody.signing import ServerKey
from server.custody.verification import ScrubMetrics
from server.http.tokens import TokenIssuer
from server.intake.tus import UploadManager
from server.media.worker import WorkerPool
from server.people.logins import HashPool, Serializer
from server.settings import Settings
from server.store.base import ObjectStore

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
STORE = web.AppKey("store", ObjectStore)
TOKENS = web.AppKey("tokens", TokenIssuer)
METRICS = web.AppKey("metrics", CollectorRegistry)
WORKERS = web.AppKey("workers", WorkerPool)
SIGNING_KEY = web.AppKey("signing_key", ServerKey)
ACCESS_LEDGER = web.AppKey("access_ledger", AccessLedger)
FIXITY_METRICS = web.AppKey("fixity_metrics", ScrubMetrics)
UPLOADS = web.AppKey("uploads", UploadManager)
HASH_POOL = web.AppKey("hash_pool", HashPool)
LOGIN_SERIALIZER = web.AppKey("login_serializer", Serializer)
# One thread pool per kind of blocking work (issue 18): a busy job or a burst of uploads does
# not starve playback, and none of them takes asyncio's default executor.
STREAM_POOL = web.AppKey("stream_pool", ThreadPoolExecutor)
UPLOAD_POOL = web.AppKey("upload_pool", ThreadPoolExecutor)
JOB_POOL = web.AppKey("job_pool", ThreadPoolExecutor)
