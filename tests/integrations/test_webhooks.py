import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flickerd.errors import ConfigError
from flickerd.service.webhooks import EVENTS, WebhookConfig, WebhookSender, build_event, verify_signature

SECRET = "s3cret"


class Receiver:
    """A real HTTP server on loopback that records deliveries and fails the first N of them."""

    def __init__(self, fail_first: int = 0):
        self.accepted: list[dict] = []
        self.bad_signatures = 0
        self.requests = 0
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests += 1
                if not verify_signature(body, SECRET, self.headers.get("X-Flickerd-Signature")):
                    outer.bad_signatures += 1
                    self.send_response(401)
                elif outer.requests <= outer.fail_first:
                    self.send_response(503)
                else:
                    outer.accepted.append({"headers": dict(self.headers), "body": json.loads(body)})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail_first=2)
    yield r
    r.close()


def _wait(cond, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_every_event_arrives_once_signed_after_retries(receiver):
    hook = WebhookConfig(url=receiver.url, secret=SECRET, backoff_s=0.05)
    sender = WebhookSender()
    events = [build_event(e, folder="renders", job_id=i, file=f"/r/{i}.mp4") for i, e in enumerate(EVENTS)]
    for ev in events:
        sender.send((hook,), ev)
    assert _wait(lambda: len(receiver.accepted) == len(EVENTS))
    sender.close()
    got = [a["body"]["delivery"] for a in receiver.accepted]
    assert sorted(got) == sorted(e["delivery"] for e in events)  # each once
    assert {a["body"]["event"] for a in receiver.accepted} == set(EVENTS)
    assert all(a["headers"]["X-Flickerd-Event"] == a["body"]["event"] for a in receiver.accepted)
    assert receiver.requests == len(EVENTS) + 2 and receiver.bad_signatures == 0


def test_wrong_secret_is_refused_by_the_receiver(receiver):
    receiver.fail_first = 0
    sender = WebhookSender()
    sender.send((WebhookConfig(url=receiver.url, secret="wrong", retries=0),), build_event("done"))
    assert _wait(lambda: receiver.bad_signatures == 1)
    sender.close()
    assert receiver.accepted == []


def test_dead_endpoint_never_blocks():
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = WebhookConfig(url=f"http://127.0.0.1:{port}/", secret=SECRET, retries=3, backoff_s=0.05, timeout_s=0.5)
    sender = WebhookSender()
    t0 = time.monotonic()
    for i in range(50):
        sender.send((hook,), build_event("failed", job_id=i))
    assert time.monotonic() - t0 < 0.5
    sender.close(timeout_s=0.2)
    assert sender.delivered == 0


def test_event_filter_and_config_validation():
    hook = WebhookConfig.from_mapping({"url": "http://127.0.0.1:1/", "events": ["done"]}, "folders[0].webhooks[0]")
    assert hook.events == ("done",)
    with pytest.raises(ConfigError, match=r"folders\[0\].webhooks\[0\].events"):
        WebhookConfig.from_mapping({"url": "http://x/", "events": ["exploded"]}, "folders[0].webhooks[0]")
    with pytest.raises(ConfigError, match="url"):
        WebhookConfig.from_mapping({"url": "ftp://x/"}, "w")
    with pytest.raises(ConfigError, match="unknown key"):
        WebhookConfig.from_mapping({"url": "http://x/", "secrett": "a"}, "w")


def test_daemon_posts_signed_events_for_each_outcome(tmp_path, receiver):
    """``flickerd run --once`` with a webhook: a clean clip → done, a text file → quarantined."""
    from tests.service.helpers import Daemon, make_clip, write_config

    receiver.fail_first = 1  # the first delivery is retried
    cfg = write_config(tmp_path, folder_extra=f"""
[[folders.webhooks]]
url = "{receiver.url}"
secret = "{SECRET}"
backoff_s = 0.1
""")
    make_clip(tmp_path / "in" / "clean.mp4")
    (tmp_path / "in" / "notes.mp4").write_text("not a video at all\n" * 20)
    d = Daemon(tmp_path, "--once", config=cfg)
    assert d.wait(90) == 0, d.log()
    events = {a["body"]["file"].rsplit("/", 1)[-1]: a["body"] for a in receiver.accepted}
    assert set(events) == {"clean.mp4", "notes.mp4"}, receiver.accepted
    assert events["clean.mp4"]["event"] == "done" and events["clean.mp4"]["folder"] == "in"
    assert events["clean.mp4"]["verdict"] == "clean" and events["clean.mp4"]["report"].endswith("clean.report.json")
    assert events["notes.mp4"]["event"] == "quarantined" and events["notes.mp4"]["reason"] == "not_a_video"
    assert receiver.bad_signatures == 0 and len(receiver.accepted) == 2


def test_webhook_config_errors_name_the_key(tmp_path):
    from flickerd import config
    from flickerd.errors import ConfigError

    text = '[[folders]]\npath = "in"\n[[folders.webhooks]]\nurl = "gopher://x"\n'
    with pytest.raises(ConfigError, match=r"folders\[0\]\.webhooks\[0\]\.url"):
        config.loads(text, base_dir=tmp_path)
    ok = config.loads('[[folders]]\npath = "in"\noutput_codec = "ProRes"\n[[folders.webhooks]]\nurl = "http://127.0.0.1:9/"\n',
                      base_dir=tmp_path)
    assert ok.folders[0].webhooks[0].url == "http://127.0.0.1:9/" and ok.folders[0].output_codec == "prores"
    with pytest.raises(ConfigError, match=r"folders\[0\]\.output_codec"):
        config.loads('[[folders]]\npath = "in"\noutput_codec = "divx"\n', base_dir=tmp_path)
