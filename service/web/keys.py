"""Typed keys under which the application keeps what lives as long as it does."""

import asyncpg
from aiohttp import web

from ..domain.apikeys import ApiKeys
from ..logs import Burst
from ..domain.tokens import TokenSigner
from ..services import Services
from ..settings import Settings
from ..storage.standby import Reads
from .metrics import Metrics

DB = web.AppKey("db", asyncpg.Pool)
READS = web.AppKey("reads", Reads)  # checks and listings: the standby when usable, else DB
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
API_KEYS = web.AppKey("api_keys", ApiKeys)
SERVICES = web.AppKey("services", Services)
SIGNER = web.AppKey("signer", TokenSigner)
UNSUBSCRIBES_LOGGED = web.AppKey("unsubscribes_logged", Burst)  # web/unsubscribe.py
INBOUND_LOGGED = web.AppKey("inbound_logged", Burst)  # web/inbound.py
KEY_NAME = web.RequestKey("key_name", str)
