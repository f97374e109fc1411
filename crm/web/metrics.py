"""The Prometheus metrics endpoint, `/metrics`, for the operators' scraper only.

Off (404) until FOSTERCRM_METRICS_TOKEN is set; then the scraper sends it as
`Authorization: Bearer <token>` and anything else is refused (401), so the public never sees
how busy the service is or whether its scheduler is down.

Request times are a histogram per route template (`/households/<int:household_id>`), method
and status, never per URL (one series per household would grow without end and name
records). The outbox's queue, its oldest waiting message, its failures and the scheduler's
lease holder are read from the database at each scrape (crm.services.operations), because they
belong to other processes.

Several workers (`fostercrm serve`): each worker times its own requests, so the scrape must
add them up. With PROMETHEUS_MULTIPROC_DIR set (`serve` sets it to a fresh folder), prometheus
multiprocess mode writes each worker's figures to files there and any worker answers a scrape
with all of them together; without it (`fostercrm up`, one process) the figures are the
process's own.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Flask, Response, abort, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from crm.services.operations import lease_holders, outbox_figures
from crm.web import db, state
from crm.web.logs import route_template

bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "fostercrm_http_request_duration_seconds",
    "Time to answer a web request, by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def init_app(app: Flask) -> None:
    app.after_request(_observe)


def _observe(response):  # noqa: ANN001, ANN202
    started = g.get("request_started")
    if started is not None:
        REQUEST_SECONDS.labels(route_template(), request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


class DatabaseCollector:
    """The figures that live in the database, read once per scrape."""

    def collect(self):  # noqa: ANN201
        session = db()
        figures = outbox_figures(session)
        queued = GaugeMetricFamily(
            "fostercrm_outbox_queued_messages",
            "Messages waiting to be sent or being sent, by channel",
            labels=["channel"],
        )
        for channel, count in sorted(figures.queued_by_channel.items()):
            queued.add_metric([channel], count)
        yield queued
        yield GaugeMetricFamily(
            "fostercrm_outbox_oldest_due_age_seconds",
            "Seconds since the longest-waiting message fell due (0 when none is due)",
            value=figures.oldest_due_seconds,
        )
        yield GaugeMetricFamily(
            "fostercrm_outbox_retrying_messages",
            "Messages waiting for another try after the dispatcher failed to send them",
            value=figures.retrying,
        )
        failed = GaugeMetricFamily(
            "fostercrm_outbox_failed_messages",
            "Messages the dispatcher gave up on (marked failed), by channel",
            labels=["channel"],
        )
        for channel, count in sorted(figures.failed_by_channel.items()):
            failed.add_metric([channel], count)
        yield failed
        holders = lease_holders(session)
        held = GaugeMetricFamily(
            "fostercrm_lease_held",
            "1 for the process holding each live lease (the scheduler's is 'scheduler')",
            labels=["lease", "holder"],
        )
        expires = GaugeMetricFamily(
            "fostercrm_lease_expires_in_seconds",
            "Seconds until the live lease expires unless its holder renews it",
            labels=["lease"],
        )
        for lease in holders:
            held.add_metric([lease.name, lease.holder], 1)
            expires.add_metric([lease.name], lease.expires_in_seconds)
        yield held
        yield expires
        yield GaugeMetricFamily(
            "fostercrm_scheduler_running",
            "1 while some scheduler holds the lease, 0 when none does",
            value=int(any(lease.name == "scheduler" for lease in holders)),
        )


def _authorised() -> bool:
    token = state().settings.metrics_token
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@bp.get("/metrics")
def metrics():
    if not _authorised():
        return Response(
            "Not authorised\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        workers = CollectorRegistry()
        MultiProcessCollector(workers)
    else:
        workers = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    body = generate_latest(workers) + generate_latest(database)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
