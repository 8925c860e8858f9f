"""Open a local HTML file in headless chromium and watch it through the DevTools protocol
(test helper).

:func:`inspect_page` loads the file, collects console errors, uncaught exceptions, log errors
and every request the page makes, evaluates a script in the page, and takes a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def chromium_binary() -> str | None:
    """Path of Debian's chromium (or another chromium/chrome) if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageReport:
    """What the page did while loading."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    evaluation: object = None
    screenshot: bytes = b""


class _Session:
    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise TimeoutError(f"no {method} within {timeout} s")

    def drain(self, seconds: float) -> None:
        self.ws.settimeout(0.2)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.events.append(json.loads(self.ws.recv()))
            except Exception:  # websocket timeout: nothing more arrived
                continue
        self.ws.settimeout(30)

    def close(self) -> None:
        self.ws.close()


def _stop_process_group(process: subprocess.Popen) -> None:
    """Stop chromium and every helper process it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def inspect_page(html: Path, script: str, *, width: int = 1280, height: int = 2000, timeout: float = 60) -> PageReport:
    """Load ``html`` from disk in headless chromium and report what happened.

    Parameters
    ----------
    html
        The file to open (``file://`` URL).
    script
        A JavaScript expression evaluated after the load event; its JSON value is returned.
    width, height
        Viewport size of the screenshot (CSS pixels).
    """
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("chromium is not installed; run PROBEKIT_SETUP_BROWSER=1 bash scripts/setup.sh")
    url = html.resolve().as_uri()
    report = PageReport()
    # chromium's helper processes may still touch the profile while it is removed
    with tempfile.TemporaryDirectory(prefix="probekit-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.exists() and port_file.read_text().strip()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chromium did not start (exit code {process.poll()})")
                time.sleep(0.1)
            port = int(port_file.read_text().splitlines()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                pages = [t for t in json.load(response) if t.get("type") == "page"]
            session = _Session(pages[0]["webSocketDebuggerUrl"])
            try:
                for domain in ("Runtime", "Log", "Network", "Page"):
                    session.call(f"{domain}.enable")
                session.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
                session.events.clear()
                session.call("Page.navigate", url=url)
                session.wait_for("Page.loadEventFired", timeout)
                session.drain(1.0)
                value = session.call("Runtime.evaluate", expression=script, returnByValue=True, awaitPromise=True)
                report.evaluation = value.get("result", {}).get("value")
                shot = session.call("Page.captureScreenshot", format="png")
                report.screenshot = base64.b64decode(shot["data"])
                session.drain(0.5)
            finally:
                session.close()
        finally:
            _stop_process_group(process)
    for event in session.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            report.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            report.console_errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            report.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            report.requests.append(params.get("request", {}).get("url", ""))
    return report
