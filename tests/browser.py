"""A page as a person sees it: Debian's Chromium, headless, driven over its DevTools pipe.

`--remote-debugging-pipe` speaks the DevTools protocol (JSON, NUL-terminated) on the
browser's fds 3 (commands in) and 4 (replies and events out): no port, no WebSocket
library. The page is opened in a fresh profile; every request the page's own target
makes is recorded (`Network.requestWillBeSent`), so a test can assert that a report
reaches nothing but its own file and the `data:` pictures inside it. The browser's
own background traffic is switched off by flags and belongs to no page anyway.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,900",
]
HANG_S = 120.0  # a browser that says nothing for this long is hung (not slow): fail
# What a person sees, read after every picture has been decoded (or has failed to).
LOOK = """(async () => {
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  const box = e => e ? e.getBoundingClientRect().toJSON() : null;
  return {
    rows: [...document.querySelectorAll('tr.clip')].map(r => ({
      id: r.id, status: r.dataset.status, bad: r.classList.contains('bad'),
      text: r.innerText})),
    marks: [...document.querySelectorAll('#marks li.mark')].map(l => l.innerText),
    marks_class: document.querySelector('#marks')?.className ?? null,
    marks_box: box(document.querySelector('#marks')),
    viewport_height: window.innerHeight,
    images: [...document.images].map(i => ({cls: i.className, width: i.naturalWidth,
      height: i.naturalHeight})),
  };
})()"""


@dataclass
class Seen:
    look: dict[str, Any]
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


class Browser:
    def __init__(self) -> None:
        assert CHROMIUM, "chromium is not installed (requirements/apt-test.txt)"
        self.profile = tempfile.mkdtemp(prefix="proxx-chromium-")
        to_child, self._w = _pipe()
        self._r, from_child = _pipe()

        # bash (dash takes single-digit fds only) puts the pipe's ends at the fds the
        # protocol names, then becomes Chromium.
        moves = f"3<&{to_child} 4>&{from_child} {to_child}<&- {from_child}>&-"
        argv = [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe"]
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" {moves}', *argv, "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_child, from_child),
            process_group=0,
        )
        os.close(to_child)
        os.close(from_child)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        os.close(self._w)
        os.close(self._r)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own group: renderers too
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        if any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            return
        while True:
            event = self._read()
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._r], [], [], HANG_S)
            assert ready, f"chromium said nothing for {HANG_S} s"
            chunk = os.read(self._r, 1 << 20)
            assert chunk, f"chromium closed its pipe (exit {self.proc.poll()})"
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\0")
        message: dict[str, Any] = json.loads(line)
        return message


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are above fd 9: moving them to 3 and 4 cannot close either."""
    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends[0], ends[1]


def see(page: Path) -> Seen:
    """Open `page` in a fresh headless Chromium and read what a person would see."""
    browser = Browser()
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        browser.send("Network.enable", session)
        browser.send("Page.enable", session)
        browser.send("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired", session)
        value = browser.send(
            "Runtime.evaluate", session, expression=LOOK, awaitPromise=True, returnByValue=True
        )["result"]["value"]
        requests = [
            e["params"]["request"]["url"]
            for e in browser.events
            if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session
        ]
        return Seen(look=value, requests=requests)
    finally:
        browser.close()


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 820) -> None:
    """What README's picture is made with: `chromium --screenshot` of the page."""
    with tempfile.TemporaryDirectory(prefix="proxx-chromium-") as profile:
        subprocess.run(
            [
                str(CHROMIUM),
                *FLAGS[:-1],
                f"--window-size={width},{height}",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=HANG_S,
            stdin=subprocess.DEVNULL,
        )
