"""A real Chromium against a real JupyterLab, for the browser tests of the notebook widgets.

``LabSession`` starts JupyterLab on 127.0.0.1 (free port, random token, private Jupyter
folders) on a temporary copy of a notebook, drives Debian's Chromium with playwright,
waits for the kernel, runs every cell, takes screenshots into
``build/test-artifacts/browser/`` and shuts everything down again, kernels included.

Playwright is imported lazily so that this module can be imported (and the tests
skipped with a reason) on a machine without it; see :func:`unavailable`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Locator, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts" / "browser"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
# Kernel start and the first widget render take tens of seconds on a loaded 2-core machine.
DEFAULT_TIMEOUT_S = 120.0

# Lab settings for a quiet, predictable page: every cell stays in the DOM (no windowing),
# no news or update toasts over the notebook, no autosave into the copy.
_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

_JS_NOTEBOOK_READY = """(name) => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.content || !w.sessionContext || !w.context) return false;
  if (!w.context.path.endsWith(name)) return false;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle' || kernel.connectionStatus !== 'connected') return false;
  window.__labNotebook = w;
  return true;
}"""

_JS_KERNEL_IDLE = """() => {
  const w = window.__labNotebook;
  const kernel = w && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}"""

_JS_RUN_ALL = """() => {
  window.__labRunAll = {done: false, ok: null, error: null};
  window.jupyterapp.shell.activateById(window.__labNotebook.id);
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    (ok) => { window.__labRunAll.done = true; window.__labRunAll.ok = ok; },
    (err) => { window.__labRunAll.done = true; window.__labRunAll.error = String(err); });
}"""

_JS_ERRORS = """() => {
  const found = [];
  for (const cell of window.__labNotebook.content.widgets) {
    if (cell.model.type !== 'code') continue;
    for (const out of cell.model.outputs.toJSON()) {
      if (out.output_type === 'error') found.push(out.ename + ': ' + out.evalue);
    }
  }
  return found;
}"""


class LabError(RuntimeError):
    """JupyterLab or the browser did not do what the harness asked in time."""


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need the playwright Python package (pip install playwright)"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def artifact_name(test_name: str) -> str:
    """A file-name-safe form of a test's name (parametrised ids included)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")


def _children_of(server_pid: int) -> list[int]:
    """Processes that the server launched (kernels carry ``JPY_PARENT_PID=<server pid>``)."""
    marker = f"JPY_PARENT_PID={server_pid}".encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class LabServer:
    """A JupyterLab server on loopback with private Jupyter folders.

    Args:
        root: The folder Lab serves (the notebook copy lives here).
        state: A folder for Jupyter's config, data, runtime, settings and workspaces.
        env: Extra environment variables for the server and its kernels.
        timeout_s: How long to wait for the server to answer.
    """

    def __init__(
        self,
        root: Path,
        state: Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.root = root
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = state / "lab.log"
        dirs = {
            "JUPYTER_CONFIG_DIR": state / "config",
            "JUPYTER_DATA_DIR": state / "data",
            "JUPYTER_RUNTIME_DIR": state / "runtime",
            "JUPYTERLAB_SETTINGS_DIR": state / "settings",
            "JUPYTERLAB_WORKSPACES_DIR": state / "workspaces",
            "IPYTHONDIR": state / "ipython",
        }
        for folder in dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        for rel, values in _LAB_SETTINGS.items():
            target = dirs["JUPYTERLAB_SETTINGS_DIR"] / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER"))}
        environ.update({k: str(v) for k, v in dirs.items()})
        environ["PYTHONUNBUFFERED"] = "1"
        environ.update(env or {})
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={self.token}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        if os.geteuid() == 0:
            command.append("--allow-root")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=root, env=environ, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log (for error messages)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def request(self, method: str, path: str, timeout_s: float = 10.0) -> tuple[int, Any]:
        """Call the server's REST API with the token; returns the status and decoded JSON."""
        req = urllib.request.Request(  # noqa: S310 (a loopback URL built here)
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
                body = resp.read()
                status: int = resp.status
        except urllib.error.HTTPError as exc:
            return exc.code, None
        return status, json.loads(body) if body else None

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError(f"JupyterLab exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/api/status", timeout_s=5)[0] == 200:
                    return
            time.sleep(0.5)
        raise LabError(f"JupyterLab did not answer within {timeout_s:.0f} s:\n{self.log_tail()}")

    def kernel_pids(self) -> list[int]:
        """Live kernel processes started by this server."""
        return [pid for pid in _children_of(self.pid) if _alive(pid)]

    def stop(self) -> None:
        """Shut down: the REST shutdown, then SIGTERM/SIGKILL, then any leftover kernel."""
        pid = self.pid
        kernels = self.kernel_pids()
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.request("POST", "/api/shutdown", timeout_s=10)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        leftovers = set(kernels) | set(_children_of(pid))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            live = [p for p in leftovers if _alive(p)]
            if not live:
                break
            for p in live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, sig)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(_alive(p) for p in live):
                time.sleep(0.1)


class LabSession:
    """A notebook open in JupyterLab in a headless Chromium, ready for a test to drive.

    Use as a context manager. On an exception inside the ``with`` block a screenshot
    ``<name>-failure.png`` is kept before everything is shut down.

    Args:
        notebook: The notebook to open; Lab works on a copy in ``workdir``.
        workdir: A temporary folder owned by the test (e.g. pytest's ``tmp_path``).
        name: The test's name, the prefix of every screenshot.
        env: Extra environment variables for the server and its kernels.
        timeout_s: Default timeout of every wait (kernel start, renders, expectations).
    """

    def __init__(
        self,
        notebook: Path,
        workdir: Path,
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.source = notebook
        self.workdir = workdir
        self.name = artifact_name(name)
        self.env = dict(env or {})
        self.timeout_s = timeout_s
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.screenshots: list[Path] = []
        self._server: LabServer | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None

    # --- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> LabSession:
        try:
            self.start()
        except BaseException:
            self._keep_failure_screenshot()
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._keep_failure_screenshot()
        self.close()

    def start(self) -> None:
        """Start Lab and the browser, open the notebook and wait until its kernel is idle."""
        from playwright.sync_api import expect, sync_playwright

        for stale in ARTIFACTS.glob(f"{self.name}-*.png"):
            stale.unlink()
        root = self.workdir / "lab"
        root.mkdir(parents=True, exist_ok=True)
        self.notebook = root / self.source.name
        shutil.copyfile(self.source, self.notebook)
        self._server = LabServer(root, self.workdir / "jupyter", env=self.env)

        timeout_ms = self.timeout_s * 1000
        expect.set_options(timeout=timeout_ms)
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        context = self._browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(timeout_ms)
        page = context.new_page()
        page.on("dialog", self._on_dialog)
        page.on("console", lambda msg: self._on_console(msg.type, msg.text))
        self._page = page
        page.goto(
            f"{self._server.url}/lab/tree/{self.notebook.name}?reset&token={self._server.token}"
        )
        self.wait_kernel_idle(first=True)
        self.screenshot("opened")

    def close(self) -> None:
        """Close the browser and shut the server and its kernels down."""
        if self._browser is not None:
            with contextlib.suppress(Exception):
                self._browser.close()
            self._browser = None
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                self._playwright.stop()
            self._playwright = None
        if self._server is not None:
            self._server.stop()

    # --- what a test uses -------------------------------------------------------------

    @property
    def page(self) -> Page:
        """The browser page showing the notebook."""
        if self._page is None:
            raise LabError("the session is not started")
        return self._page

    @property
    def server(self) -> LabServer:
        """The JupyterLab server."""
        if self._server is None:
            raise LabError("the session is not started")
        return self._server

    def wait_kernel_idle(self, *, first: bool = False, timeout_s: float | None = None) -> None:
        """Wait until the notebook's kernel is connected and idle."""
        timeout_ms = (timeout_s or self.timeout_s) * 1000
        try:
            if first:
                self.page.wait_for_function(
                    _JS_NOTEBOOK_READY, arg=self.notebook.name, timeout=timeout_ms, polling=250
                )
            else:
                self.page.wait_for_function(_JS_KERNEL_IDLE, timeout=timeout_ms, polling=250)
        except Exception as exc:
            raise LabError(
                f"the kernel of {self.notebook.name} was not idle in time ({exc});"
                f" server log:\n{self.server.log_tail()}"
            ) from exc

    def run_all(self, *, timeout_s: float | None = None) -> None:
        """Run every cell (``notebook:run-all-cells``) and wait until the kernel is idle again.

        Raises:
            LabError: The run did not finish in time, or a cell ended with an error
                (its name and message are in the exception).
        """
        timeout_ms = (timeout_s or self.timeout_s) * 1000
        self.page.evaluate(_JS_RUN_ALL)
        try:
            self.page.wait_for_function(
                "() => window.__labRunAll.done", timeout=timeout_ms, polling=250
            )
        except Exception as exc:
            raise LabError(f"the cells did not finish running in time ({exc})") from exc
        self.wait_kernel_idle(timeout_s=timeout_s)
        state: dict[str, Any] = self.page.evaluate("() => window.__labRunAll")
        errors = self.errors()
        if errors or state.get("error") or state.get("ok") is False:
            raise LabError(f"running all cells failed: {errors or state}")

    def errors(self) -> list[str]:
        """``ename: evalue`` of every error output in the open notebook."""
        found: list[str] = self.page.evaluate(_JS_ERRORS)
        return found

    def pending_widgets(self) -> Locator:
        """Widget outputs that have not rendered yet (Lab's placeholder text)."""
        return self.page.get_by_text("Loading widget...")

    def screenshot(self, step: str, target: Locator | None = None) -> Path:
        """Save ``build/test-artifacts/browser/<test>-<step>.png`` (``target`` scrolled in view)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{artifact_name(step)}.png"
        if target is not None:
            with contextlib.suppress(Exception):
                target.scroll_into_view_if_needed(timeout=5000)
        self.page.screenshot(path=str(path))
        self.screenshots.append(path)
        return path

    # --- internals --------------------------------------------------------------------

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        with contextlib.suppress(Exception):
            dialog.dismiss()

    def _on_console(self, kind: str, text: str) -> None:
        if kind == "error":
            self.console_errors.append(text)

    def _keep_failure_screenshot(self) -> None:
        if self._page is None:
            return
        with contextlib.suppress(Exception):
            self.screenshot("failure")
