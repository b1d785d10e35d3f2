"""Opening a rendered HTML report in headless Chromium, as a reader's browser would.

Uses Debian's ``chromium`` package (``.ci/run`` installs it). Each run gets a fresh
profile folder and Chromium's network log, so a test can check that the page asked for
nothing but itself; host names resolve to nothing, so no request leaves the machine.
:func:`require_chromium` skips a test, with the reason, when no Chromium is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
TIMEOUT_SECONDS = 120


def chromium() -> str | None:
    """Path of the Chromium executable, or None when none is installed."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The Chromium executable; skips the calling test when there is none."""
    found = chromium()
    if found is None:
        pytest.skip(
            "headless Chromium is not installed (Debian: apt-get install -y chromium; "
            ".ci/run installs it)"
        )
    return found


@dataclass(frozen=True)
class BrowserRun:
    """What Chromium produced for one page: its DOM after loading, the screenshot, and the
    URLs the page asked the network for."""

    dom: str
    screenshot: Path | None
    requested_urls: tuple[str, ...]


def _page_requests(net_log: Path) -> tuple[str, ...]:
    """URLs that the page (a ``file://`` document) asked the network for.

    Read from Chromium's network log: a ``URL_REQUEST_START_JOB`` event whose network
    isolation key is the ``file://`` page's. Chromium's own background requests carry other
    keys and are left out.
    """
    text = net_log.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"
    log = json.loads(text)
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = {
        event["params"]["url"]
        for event in log.get("events", [])
        if event.get("type") == start_job
        and "file://" in str((event.get("params") or {}).get("network_isolation_key", ""))
    }
    return tuple(sorted(urls))


def _run(executable: str, arguments: list[str], workdir: Path) -> subprocess.CompletedProcess:
    profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
    command = [executable, *FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def open_in_browser(
    page: Path,
    *,
    workdir: Path,
    screenshot: Path | None = None,
    window: tuple[int, int] = (1280, 2000),
) -> BrowserRun:
    """Load ``page`` in headless Chromium: its DOM after loading (``--dump-dom``), a PNG
    screenshot when ``screenshot`` is given, and every URL the page led Chromium to ask for
    (from ``--log-net-log``)."""
    executable = require_chromium()
    url = page.resolve().as_uri()
    net_log = workdir / "net-log.json"
    dumped = _run(executable, ["--dump-dom", f"--log-net-log={net_log}", url], workdir)
    if dumped.returncode != 0 or "<html" not in dumped.stdout:
        raise AssertionError(
            f"chromium --dump-dom failed (exit {dumped.returncode}): {dumped.stderr[-2000:]}"
        )
    if screenshot is not None:
        width, height = window
        shot = _run(
            executable,
            [f"--screenshot={screenshot}", f"--window-size={width},{height}", url],
            workdir,
        )
        if shot.returncode != 0 or not screenshot.exists():
            raise AssertionError(
                f"chromium --screenshot failed (exit {shot.returncode}): {shot.stderr[-2000:]}"
            )
    return BrowserRun(
        dom=dumped.stdout,
        screenshot=screenshot,
        requested_urls=_page_requests(net_log),
    )
