"""A local HTTP server on 127.0.0.1 for the downloader's tests: good images, redirects,
liars, slow and huge answers. One per test process, started on first use.

Routes (``GET``):
  /scene/<n>.png          test scene n of the generated shapes (object_detection.shapes)
  /scene/<n>.jpg|.gif     the same as JPEG or GIF
  /single/<n>.png|.jpg    one-shape scene n of the other generator (the classifier's
                          evaluation set, common/media/other_scenes.py)
  /redirect?to=<url>      302 to <url>
  /hops/<n>               n redirects in a row, then /scene/0.png
  /big.png                image/png, a valid PNG signature then 3 MB, Content-Length set
  /endless.png            image/png, chunked, no length, keeps sending
  /slow.png               waits 3 s before answering
  /trickle.png            a PNG signature, then a byte every 0.2 s for 10 s
  /tiny.png               a valid 4x4 PNG: the downloader takes it, the image services
                          refuse it (sides under 8 pixels)
  /text                   text/plain
  /liar.png               says image/png, sends HTML
  /missing.png            404
  /server-error.png       500
  /whoami.png             scene 0, with the Host header it got echoed in X-Seen-Host
"""
from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from services.object_detection import shapes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FORMATS = {"png": ("PNG", "image/png"), "jpg": ("JPEG", "image/jpeg"),
           "gif": ("GIF", "image/gif")}


def scene_bytes(index: int, extension: str = "png") -> bytes:
    """Test scene ``index`` encoded in a format."""
    buffer = io.BytesIO()
    shapes.scene("test", index).image.save(buffer, format=FORMATS[extension][0])
    return buffer.getvalue()


def _tiny_png() -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        path = urlsplit(self.path)
        try:
            route = _route(path.path)
            route(self, parse_qs(path.query), path.path)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the downloader hung up on purpose (a limit was reached)

    def send(self, status: int, body: bytes = b"", content_type: str = "text/plain",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def single_bytes(index: int, extension: str = "png") -> bytes:
    """One-shape scene ``index`` of the other generator, encoded in a format."""
    from services.image_classifier.data import other_scene
    buffer = io.BytesIO()
    other_scene(index).image.save(buffer, format=FORMATS[extension][0])
    return buffer.getvalue()


def _single(handler, _query, path):
    index, _, extension = path.rsplit("/", 1)[1].partition(".")
    handler.send(200, single_bytes(int(index), extension), FORMATS[extension][1])


def _scene(handler, _query, path):
    name = path.rsplit("/", 1)[1]
    index, _, extension = name.partition(".")
    handler.send(200, scene_bytes(int(index), extension), FORMATS[extension][1])


def _redirect(handler, query, _path):
    handler.send(302, headers={"Location": query["to"][0]})


def _hops(handler, _query, path):
    left = int(path.rsplit("/", 1)[1])
    target = f"/hops/{left - 1}" if left > 1 else "/scene/0.png"
    handler.send(302, headers={"Location": target})


def _big(handler, _query, _path):
    handler.send(200, PNG_SIGNATURE + b"\0" * 3_000_000, "image/png")


def _endless(handler, _query, _path):
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = PNG_SIGNATURE + b"\0" * 65536
    for _ in range(2000):  # bounded: 130 MB at most, the client stops long before
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def _slow(handler, _query, _path):
    time.sleep(3)
    handler.send(200, scene_bytes(0), "image/png")


def _trickle(handler, _query, _path):
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(PNG_SIGNATURE)
    for _ in range(50):
        time.sleep(0.2)
        handler.wfile.write(b"\0")
        handler.wfile.flush()


def _clip(handler, _query, _path):
    """A 6-frame H.264 MP4 (the video services' URL tests)."""
    from tests.helpers.videos import encode, moving_disc
    handler.send(200, encode(moving_disc(6), 6, "h264"), "video/mp4")


ROUTES = {
    "/clip.mp4": _clip,
    "/redirect": _redirect, "/big.png": _big, "/endless.png": _endless, "/slow.png": _slow,
    "/trickle.png": _trickle,
    "/text": lambda h, q, p: h.send(200, b"hello", "text/plain"),
    "/tiny.png": lambda h, q, p: h.send(200, _tiny_png(), "image/png"),
    "/liar.png": lambda h, q, p: h.send(200, b"<html>not an image</html>", "image/png"),
    "/missing.png": lambda h, q, p: h.send(404, b"no"),
    "/whoami.png": lambda h, q, p: h.send(200, scene_bytes(0), "image/png",
                                          {"X-Seen-Host": h.headers.get("Host", "")}),
    "/server-error.png": lambda h, q, p: h.send(500, b"oops"),
}


def _route(path: str):
    if path.startswith("/scene/"):
        return _scene
    if path.startswith("/hops/"):
        return _hops
    if path.startswith("/single/"):
        return _single
    return ROUTES.get(path, lambda h, q, p: h.send(404, b"no such route"))


class ImageServer:
    """The running server: ``url(path)`` gives a full URL on it."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="image-server")
        self.thread.start()

    def url(self, path: str) -> str:
        """``http://127.0.0.1:<port><path>``."""
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def allow_rule(self) -> str:
        """The allow-list entry for this server only (its address and port)."""
        return f"127.0.0.1:{self.port}"


_server: ImageServer | None = None
_lock = threading.Lock()


def image_server() -> ImageServer:
    """The process's image server (one, so services started with its port in their
    environment can be shared by every test module)."""
    global _server
    with _lock:
        if _server is None:
            _server = ImageServer()
        return _server
