"""Take docs/desk.png: the desk over the seeded data, as the README shows it.

    .venv/bin/python scripts/desk-screenshot.py [out.png]

Seeds a fresh SQLite database in a temporary directory, serves it on a loopback port and
photographs the top of `/` in headless Chromium (scripts/ensure-chromium.sh), offline.
Compress the result with `pngquant` when it is installed.
"""

import base64
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser import Chromium, find_chromium
from tests.server import HOST, Server, run_cli

WIDTH, HEIGHT = 1200, 760


def main(out: Path) -> None:
    executable = find_chromium()
    if executable is None:
        sys.exit("Chromium is missing: sudo bash scripts/ensure-chromium.sh")
    with tempfile.TemporaryDirectory() as directory, socket.socket() as closed:
        closed.bind((HOST, 0))
        url = f"sqlite:///{directory}/claims.db"
        run_cli(["seed"], url).check_returncode()
        server = Server(url, Path(directory) / "server.log")
        browser = Chromium(executable, Path(directory), closed.getsockname()[1])
        try:
            target = browser.call("Target.createTarget", url="about:blank")["targetId"]
            session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            browser.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=WIDTH,
                height=HEIGHT,
                deviceScaleFactor=1,
                mobile=False,
            )
            browser.call("Emulation.setScrollbarsHidden", session, hidden=True)
            browser.call("Page.navigate", session, url=server.base_url + "/")
            for _ in range(100):
                ready = browser.call(
                    "Runtime.evaluate", session, expression="document.readyState === 'complete'"
                )
                if ready["result"].get("value") is True:
                    break
                time.sleep(0.1)
            shot = browser.call("Page.captureScreenshot", session, format="png")
            out.write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()
            server.stop()
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/desk.png"))
