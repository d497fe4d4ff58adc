"""`segbench assets fetch`: the real CLI against an HTTP server this test starts on 127.0.0.1 (never anything else)."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import assert_one_line_error, run_cli

BODY = b"\x7fELF\x02\x01\x01 a LiteRT benchmark_model build" * 1000
SHA = hashlib.sha256(BODY).hexdigest()


class _Server:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=30)


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    try:
        yield s
    finally:
        s.stop()


def _assets(tmp_path: Path, port: int, sha: str = SHA, url: str | None = None) -> Path:
    root = tmp_path / "device_assets"
    root.mkdir()
    url = url or f"http://127.0.0.1:{port}/binaries/{{version}}/android_arm64/benchmark_model"
    (root / "manifest.toml").write_text(f'''
[[tool]]
name = "TFLite benchmark_model"
binary = "benchmark_model"
runtime = "tflite"
version = "nightly"
abi = "arm64-v8a"
sha256 = ""
source = "https://example.invalid/"
get = "build it"

[[tool]]
name = "LiteRT benchmark_model"
binary = "benchmark_model"
runtime = "tflite"
variant = "litert"
version = "2.3.0"
abi = "arm64-v8a"
sha256 = "{sha}"
url = "{url}"
source = "https://example.invalid/"
get = "fetch it"
''')
    return root


def _fetch(assets: Path, *args: str):
    # The test server is on loopback: no proxy may be asked for it.
    env = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "http_proxy": "", "HTTP_PROXY": ""}
    return run_cli("assets", "fetch", *args, "--assets", str(assets), "--abi", "arm64-v8a", env=env, timeout=120)


def test_fetch_downloads_checks_and_then_uses_the_cached_file(server, tmp_path):
    server.files["/binaries/2.3.0/android_arm64/benchmark_model"] = BODY
    assets = _assets(tmp_path, server.port)
    r = _fetch(assets, "litert")
    assert r.code == 0, r.err
    target = assets / "arm64-v8a" / "litert" / "benchmark_model"
    assert target.read_bytes() == BODY and os.access(target, os.X_OK)
    assert "downloaded" in r.out and "checked" in r.out
    assert server.requests == ["/binaries/2.3.0/android_arm64/benchmark_model"]

    again = _fetch(assets)  # no TOOL: every tool with a url
    assert again.code == 0, again.err
    assert "already there" in again.out and len(server.requests) == 1  # no second download
    assert [p.name for p in target.parent.iterdir()] == ["benchmark_model"]

    target.write_bytes(b"a different build")  # a file of the wrong sha is replaced by the pinned one
    third = _fetch(assets, "litert")
    assert third.code == 0 and target.read_bytes() == BODY and len(server.requests) == 2


def test_a_sha256_mismatch_is_one_error_and_leaves_nothing(server, tmp_path):
    server.files["/binaries/2.3.0/android_arm64/benchmark_model"] = BODY
    assets = _assets(tmp_path, server.port, sha="0" * 64)
    r = _fetch(assets, "litert")
    assert_one_line_error(r, 1)
    assert "the manifest pins 000000000000" in r.err and "nothing was saved" in r.err
    assert list((assets / "arm64-v8a").rglob("*")) in ([], [assets / "arm64-v8a" / "litert"])


def test_offline_and_missing_files_are_one_error_each(server, tmp_path):
    assets = _assets(tmp_path, server.port)
    missing = _fetch(assets, "litert")
    assert_one_line_error(missing, 1)
    assert "HTTP 404" in missing.err
    server.stop()  # nothing listens there any more: as offline as a loopback test gets
    offline = _fetch(assets, "litert")
    assert_one_line_error(offline, 1)
    assert "cannot download http://127.0.0.1:" in offline.err
    assert not (assets / "arm64-v8a" / "litert" / "benchmark_model").exists()
    assert not [p for p in (assets / "arm64-v8a").rglob("*") if p.is_file()]


def test_bad_requests(server, tmp_path):
    assets = _assets(tmp_path, server.port)
    unknown = _fetch(assets, "tensorrt")
    assert_one_line_error(unknown, 2)
    assert "names no tool 'tensorrt'" in unknown.err and "litert" in unknown.err
    no_url = _fetch(assets, "benchmark_model")  # the classic tool: built or downloaded by hand
    assert_one_line_error(no_url, 1)
    assert "has no download url" in no_url.err and "build it" in no_url.err
    other_abi = run_cli("assets", "fetch", "--assets", str(assets), "--abi", "x86_64")
    assert_one_line_error(other_abi, 2)
    assert server.requests == []
