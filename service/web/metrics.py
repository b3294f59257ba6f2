"""Prometheus metrics of one web process, in a registry of its own (no module globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "optout_http_requests_total", "HTTP requests by route, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "optout_http_request_seconds", "HTTP request latency by route.",
            ["route", "method"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.checks = Counter(
            "optout_checks_total", "Recipients checked, by outcome.", ["outcome"], registry=self.registry,
        )
        self.suppressions = Counter(
            "optout_suppressions_created_total", "Suppressions created, by reason and source.",
            ["reason", "source"], registry=self.registry,
        )

        self.reads = Counter(
            "optout_reads_total", "Checks and listings, by the server that answered them (standby or primary).",
            ["server"], registry=self.registry,
        )
        self.standby_lag = Gauge(
            "optout_standby_lag_seconds", "How far the standby's replay was behind the primary's WAL at the last probe.",
            registry=self.registry,
        )

        self.outbox = Gauge(
            "optout_outbox_rows", "Rows of the outbox by kind and status (pending: still to send; dead: given up, "
            "shown to staff), read from the database at each scrape.",
            ["kind", "status"], registry=self.registry,
        )

        self.inbound = Gauge(
            "optout_inbound_messages", "Inbound messages waiting: queued for the worker, held for staff, failed "
            "(read from the database at each scrape).", ["status"], registry=self.registry,
        )
        self.inbound_oldest = Gauge(
            "optout_inbound_oldest_queued_seconds", "Age of the oldest inbound message still queued for the worker "
            "(0 when none is): a worker that stopped shows here.", registry=self.registry,
        )
        self.privacy_requests = Gauge(
            "optout_privacy_requests", "Open privacy requests received by mail: all open ones, those due within "
            "7 days, and those past their due date (GDPR Art. 12(3): one month).", ["state"], registry=self.registry,
        )

        self.campaigns_paused = Gauge(
            "optout_campaigns_paused", "Campaigns paused by their guardrail (complaints or hard bounces), waiting "
            "for an admin to resume them (read from the database at each scrape).", registry=self.registry,
        )
        self.worst_complaint_rate = Gauge(
            "optout_campaign_complaint_rate_worst_7d", "The highest complaint rate (a fraction of sent: 0.003 is "
            "0.3%) among the campaigns active in the last 7 days that have reached OPTOUT_GUARD_MIN_SENT.",
            registry=self.registry,
        )

    def set_waiting(self, row) -> None:
        """What waits for people or for the worker, from one row of `waiting_counts`."""
        for status in ("queued", "held", "failed"):
            self.inbound.labels(status).set(row[status])
        self.inbound_oldest.set(row["oldest_queued_seconds"] or 0)
        for state in ("open", "due_within_7_days", "overdue"):
            self.privacy_requests.labels(state).set(row[state])

    def set_outbox(self, counts: dict[tuple[str, str], int]) -> None:
        """Every kind and status gets a value, 0 included, so that an alert on dead rows has a series."""
        for kind in ("forward", "gateway", "confirmation", "self_service", "webhook"):
            for status in ("pending", "dead"):
                self.outbox.labels(kind, status).set(counts.get((kind, status), 0))

    def count_checks(self, results) -> None:
        blocked = len(results.blocked)
        self.checks.labels("allowed").inc(len(results) - blocked)
        self.checks.labels("blocked").inc(blocked)
