"""Headless Chromium driven over the DevTools protocol on a pipe (no extra library).

`--remote-debugging-pipe` makes Chromium read commands on fd 3 and write answers and events
on fd 4, as NUL-terminated JSON. That is enough to open a page, record every request it
makes (Network.requestWillBeSent), collect console and CSP errors, and read the DOM.
"""

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Chromium's own background traffic (updates, sign-in, time) is cut, and whatever is left
# goes to a proxy on a closed loopback port: nothing leaves the machine. Loopback
# addresses bypass proxies, so the page still reaches the server under test.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    """What one page load did."""

    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, CSP
    html: str = ""
    text: str = ""
    ready: bool = False  # whether ready_js became true before the timeout


class Chromium:
    """One headless browser; `visit` opens a page in a fresh tab."""

    def __init__(self, executable: str, profile_dir: Path, closed_port: int) -> None:
        self.log_path = profile_dir / "chromium.log"
        log = self.log_path.open("wb")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            *FLAGS,
            f"--user-data-dir={profile_dir}",
            f"--proxy-server=http://127.0.0.1:{closed_port}",
        ]
        # bash puts our pipe ends on fds 3 and 4 (dash takes one-digit fds only).
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}',
                executable,
                *args,
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_browser, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._messages.put(json.loads(message))
        self._messages.put(None)

    def _send(self, method: str, session: str | None = None, **params: Any) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _pump(self, until: float, visit: PageVisit | None, wanted: int | None = None) -> Any:
        """Handle events until the answer to `wanted` arrives (or until the deadline)."""
        while (left := until - time.monotonic()) > 0:
            try:
                message = self._messages.get(timeout=left)
            except queue.Empty:
                break
            if message is None:
                raise RuntimeError("Chromium closed the DevTools pipe")
            if wanted is not None and message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"DevTools error: {message['error']}")
                return message.get("result", {})
            if visit is not None:
                _record(message, visit)
        if wanted is not None:
            raise TimeoutError(f"no DevTools answer to command {wanted}")
        return None

    def call(
        self, method: str, session: str | None = None, visit: PageVisit | None = None, **params: Any
    ) -> Any:
        return self._pump(time.monotonic() + 30, visit, self._send(method, session, **params))

    def visit(
        self,
        url: str,
        ready_js: str,
        timeout: float = 30.0,
        *,
        width: int | None = None,
        screenshot: Path | None = None,
    ) -> PageVisit:
        """Open `url`, wait until `ready_js` is true (bounded), and report what happened;
        optionally in a window `width` CSS pixels wide, saving the whole page as a PNG."""
        visit = PageVisit()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Network", "Log", "Runtime", "Page"):
            self.call(f"{domain}.enable", session, visit)
        if width is not None:
            self.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                visit,
                width=width,
                height=800,
                deviceScaleFactor=1,
                mobile=width < 600,
            )
        self.call("Page.navigate", session, visit, url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.call("Runtime.evaluate", session, visit, expression=ready_js)
            if answer["result"].get("value") is True:
                visit.ready = True
                break
            self._pump(time.monotonic() + 0.25, visit)
        # Let late requests (fonts, images, workers) show up before reading the record.
        self._pump(time.monotonic() + 1.0, visit)
        for attribute, expression in (
            ("html", "document.documentElement.outerHTML"),
            ("text", "document.body.innerText"),
        ):
            answer = self.call("Runtime.evaluate", session, visit, expression=expression)
            setattr(visit, attribute, answer["result"].get("value", ""))
        if screenshot is not None:
            size = self.call("Page.getLayoutMetrics", session, visit)["cssContentSize"]
            page = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            shot = self.call(
                "Page.captureScreenshot",
                session,
                visit,
                format="png",
                clip=page,
                captureBeyondViewport=True,
            )
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        self.call("Target.closeTarget", targetId=target)
        return visit

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_browser)


def _record(message: dict[str, Any], visit: PageVisit) -> None:
    method = message.get("method")
    params = message.get("params", {})
    if method == "Network.requestWillBeSent":
        visit.requests.append(params["request"]["url"])
    elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
        visit.errors.append(f"{params['entry']['source']}: {params['entry']['text']}")
    elif method == "Runtime.exceptionThrown":
        visit.errors.append(f"exception: {params['exceptionDetails'].get('text')}")
    elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
        visit.errors.append(f"console: {params['args']}")
