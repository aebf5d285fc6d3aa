"""Every change this project makes to moto's own code, in one place, for one moto version.

The local run (``make demo``, ``python -m bulkmail local``) and the emulator tests need moto to
do what it does not: serve the SES v2 operations the sender calls (the emulator writes them;
they are copied onto moto's ``SESV2Response`` here, with their routes), route a SigV4a request
(a multi-region endpoint's) by this Region, and run fast at 20,000 messages: moto's SQS builds
two datetimes per clock read and computes every queue attribute per received message, and its
DynamoDB transactions copy the whole table per action (``bulkmail.local.transactions``).

Each patch replaces a moto internal, so it is written for one moto version: ``install()``
refuses any other with one line saying which to install, instead of failing somewhere deep in
a run. A moto upgrade re-reads each patched function against the new moto, then moves
``MOTO_VERSION``.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import time
import warnings
from collections.abc import Callable, Iterable
from importlib.metadata import version
from typing import Any

from moto import backends as moto_backends
from moto.core.utils import unix_time
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.responses import SESV2Response
from moto.sqs import models as sqs_models
from moto.sqs.models import SQSBackend

from bulkmail.errors import CliError
from bulkmail.local import fast_queues, fast_updates, transactions

MOTO_VERSION = "5.2.5"  # requirements-dev.txt pins the same

_SIGV4A = "AWS4-ECDSA-P256-SHA256 "
_SIGV4A_ATTR = "bulkmail_routes_sigv4a"


class MotoVersionError(CliError):
    """The installed moto is not the one these patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    """Refuse a moto other than ``MOTO_VERSION`` (the installed one unless given)."""
    found = version("moto") if installed is None else installed
    if found != MOTO_VERSION:
        raise MotoVersionError(
            f"the local run patches moto {MOTO_VERSION} and this environment has moto {found}: "
            f"run `make setup` (or pip install 'moto[server]=={MOTO_VERSION}')"
        )


def install(*, ses_v2: type, routes: Iterable[str], region: str) -> None:
    """Patch moto, in process and for its server: ``ses_v2``'s operations onto moto's
    ``SESV2Response`` at ``routes``, SigV4a requests routed to ``region``, the fast SQS clock
    and retention check, the transactions. Idempotent; call it before a server starts (the
    server builds its routes on its first SES v2 request)."""
    check_moto_version()
    for name, member in vars(ses_v2).items():
        if inspect.isfunction(member):
            setattr(SESV2Response, name, member)
    sesv2_urls.url_paths.update(dict.fromkeys(routes, SESV2Response.dispatch))
    # SES answers a spent daily quota with a ThrottlingException that its model does not list.
    warnings.filterwarnings(
        "ignore", message=r"Exception\(SesV2Error\) with code ThrottlingException"
    )
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention  # type: ignore[method-assign]
    if not getattr(DomainDispatcherApplication, _SIGV4A_ATTR, False):
        call = DomainDispatcherApplication.__call__
        DomainDispatcherApplication.__call__ = _routing_sigv4a(call, region)  # type: ignore[method-assign]
        setattr(DomainDispatcherApplication, _SIGV4A_ATTR, True)
    sqs_models.unix_time = _unix_time  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = _unix_time_millis  # type: ignore[attr-defined]
    # The ledger's claims, without moto's copy of the table per item.
    DynamoDBBackend.transact_write_items = transactions.transact_write_items  # type: ignore[method-assign]
    _serve_cheaply()
    fast_queues.install()  # standard queues indexed: no call scans the whole queue
    fast_updates.install()  # the status table's plain UpdateItems without moto's parsers


def _serve_cheaply() -> None:
    """moto's server lists its own package directory (hundreds of `isdir` calls) to route
    each request, twice: the list is read once."""
    if not isinstance(moto_backends.list_of_moto_modules, functools._lru_cache_wrapper):
        modules = tuple(moto_backends.list_of_moto_modules())
        moto_backends.list_of_moto_modules = functools.lru_cache(maxsize=1)(lambda: modules)


def _routing_sigv4a(call: Callable[..., Any], region: str) -> Callable[..., Any]:
    """moto's server routes a request by the Region and service of its SigV4 credential scope
    (KEY/DATE/REGION/SERVICE/aws4_request). A SigV4a scope (a multi-region endpoint's calls:
    ENDPOINT_ID) has no Region, and moto would route it to S3: it is read as this emulator's
    Region. Signatures are not checked either way."""

    def dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.startswith(_SIGV4A):
            scope = auth.split(",", 1)[0].removeprefix(_SIGV4A + "Credential=")
            key, date, *service, end = scope.split("/")
            if len(service) == 1:
                regional = f"{key}/{date}/{region}/{service[0]}/{end}"
                environ["HTTP_AUTHORIZATION"] = auth.replace(scope, regional, 1)
        return call(self, environ, start_response)

    return dispatch


def _unix_time(dt: datetime.datetime | None = None) -> float:
    """moto's unix_time, without building two datetimes per call when asked for now."""
    return time.time() if dt is None else unix_time(dt)


def _unix_time_millis(dt: datetime.datetime | None = None) -> float:
    return _unix_time(dt) * 1000.0


def _within_retention(self: SQSBackend, queue_name: str, message: Any) -> bool:
    """moto's retention check on receive, reading the one attribute it needs (moto computes
    them all, each counting the queue's messages, for every message received)."""
    retention = self.get_queue(queue_name).message_retention_period  # type: ignore[attr-defined]
    return int(retention) + message.sent_timestamp / 1000 > _unix_time()
