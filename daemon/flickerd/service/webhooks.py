"""Webhooks: POST a signed JSON event per job outcome, off the processing path.

Events (``event`` field): ``done``, ``rejected``, ``failed``, ``quarantined``, ``needs_review``.
Body (schema 1)::

    {"schema": 1, "event": "done", "delivery": "<uuid4>", "time": "2026-11-24T01:02:03Z",
     "folder": "renders", "job_id": 12, "file": "/renders/shot.mp4", "sha256": "…",
     "verdict": "generative_flicker", "route": "normalize+rife", "output": "/renders.fixed/shot.mp4",
     "report": "/renders.fixed/shot.mp4.report.json", "reason": null}

Headers: ``X-Flickerd-Event``, ``X-Flickerd-Delivery`` (the same on every retry, so a
receiver can drop repeats) and, with a secret, ``X-Flickerd-Signature: sha256=<hex>`` —
HMAC-SHA256 of the raw body. A sender thread delivers with a timeout and exponential
backoff; a dead endpoint only fills (and then trims) the bounded queue, it never blocks a job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import structlog

from flickerd.config_webhooks import EVENTS, WebhookConfig

__all__ = ["EVENTS", "WebhookConfig", "WebhookSender", "build_event", "sign", "verify_signature"]

SCHEMA = 1
MAX_BACKOFF_S = 60.0
QUEUE_LIMIT = 1000

log = structlog.get_logger("flickerd.webhooks")


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str | None) -> bool:
    """For receivers (and tests): constant-time check of ``X-Flickerd-Signature``."""
    return bool(header) and hmac.compare_digest(sign(body, secret), header)


def build_event(event: str, **fields: Any) -> dict[str, Any]:
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    body = {
        "schema": SCHEMA,
        "event": event,
        "delivery": str(uuid.uuid4()),
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for key in ("folder", "job_id", "file", "sha256", "verdict", "route", "output", "report", "reason"):
        body[key] = fields.get(key)
    return body


# Journal states that fire a webhook, and the event name they send.
JOB_EVENTS: Mapping[str, str] = {
    "done": "done", "rejected": "rejected", "failed": "failed", "quarantined": "quarantined", "review": "needs_review",
}


def job_event(job: Any, *, verdict: str | None = None) -> dict[str, Any] | None:
    """The event for a journal row (``journal.Job``) that reached a state people care about, else None."""
    event = JOB_EVENTS.get(getattr(job.state, "value", job.state))
    if event is None:
        return None
    return build_event(event, folder=job.folder, job_id=job.id, file=job.path, sha256=job.sha256, verdict=verdict,
                       route=job.route, output=job.output_path, report=job.report_path, reason=job.reason)


PostFn = Callable[[str, bytes, Mapping[str, str], float], int]


def _urllib_post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> int:
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (configured URL)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclass
class _Delivery:
    hook: WebhookConfig
    body: bytes
    event: str
    delivery: str
    attempt: int = 0
    due: float = field(default_factory=time.monotonic)


class WebhookSender:
    """One background thread delivering events for every configured hook."""

    def __init__(self, *, post: PostFn = _urllib_post, queue_limit: int = QUEUE_LIMIT) -> None:
        self._post = post
        self._queue: queue.Queue[_Delivery | None] = queue.Queue(maxsize=queue_limit)
        self._retry: list[_Delivery] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flickerd-webhooks", daemon=True)
        self._thread.start()
        self.delivered = 0
        self.dropped = 0

    def send(self, hooks: tuple[WebhookConfig, ...], event: dict[str, Any]) -> None:
        """Queue ``event`` for every hook subscribed to it; never blocks."""
        body = json.dumps(event, sort_keys=True).encode()
        for hook in hooks:
            if event["event"] not in hook.events:
                continue
            item = _Delivery(hook, body, event["event"], event["delivery"])
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.dropped += 1
                log.warning("webhook_dropped", url=hook.url, event_type=event["event"], why="queue full")

    def _attempt(self, item: _Delivery) -> bool:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "flickerd-webhook/1",
            "X-Flickerd-Event": item.event,
            "X-Flickerd-Delivery": item.delivery,
        }
        if item.hook.secret:
            headers["X-Flickerd-Signature"] = sign(item.body, item.hook.secret)
        try:
            status = self._post(item.hook.url, item.body, headers, item.hook.timeout_s)
        except (OSError, ValueError) as exc:
            status, why = 0, str(exc)
        else:
            why = f"HTTP {status}"
        if 200 <= status < 300:
            self.delivered += 1
            return True
        permanent = 400 <= status < 500 and status not in (408, 429)
        item.attempt += 1
        if permanent or item.attempt > item.hook.retries:
            log.warning("webhook_failed", url=item.hook.url, event_type=item.event, attempts=item.attempt, why=why)
            return True
        item.due = time.monotonic() + min(MAX_BACKOFF_S, item.hook.backoff_s * 2 ** (item.attempt - 1))
        self._retry.append(item)
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            due = [d for d in self._retry if d.due <= now]
            for d in due:
                self._retry.remove(d)
                self._attempt(d)
            wait = min((d.due for d in self._retry), default=now + 0.5) - time.monotonic()
            try:
                item = self._queue.get(timeout=max(0.01, min(0.5, wait)))
            except queue.Empty:
                continue
            if item is None:
                break
            self._attempt(item)

    def idle(self) -> bool:
        return self._queue.empty() and not self._retry

    def close(self, timeout_s: float = 5.0) -> None:
        """Give queued deliveries ``timeout_s`` to go out, then stop the thread."""
        deadline = time.monotonic() + timeout_s
        while not self.idle() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout=2)
