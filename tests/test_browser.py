"""The lesson in a real browser: JupyterLab on the kit (local mode), notebooks run through its UI in headless Chromium.

JupyterLab starts on a temporary copy of ``solutions/`` (the tracked folder is never written), on a free
loopback port with a token, with the kit's ``python3`` kernel (this Python), ``LAB_MODE=local`` and a fresh
``LAB_HOME``, and with everything that would reach the network switched off (news, update check, extension
listings).  Chromium opens ``06_pipeline`` then ``07_monitoring`` at ``/lab/tree/...`` (one learner, one
LAB_HOME), chooses **Run → Run All Cells** and waits (at most :data:`RUN_TIMEOUT` s a notebook) until the
kernel is idle and no cell shows ``[*]``.  Then every code cell has run, no output is a traceback, no markdown
was typeset as math (a lesson's "$0.06 ... $0.12" must stay text), and in 07 the pipeline graph and the
timeline are images the browser decoded.  A small probe notebook first shows that these checks catch an
error, a math-typeset dollar amount and a cell that never ran; the markdown of every lesson notebook
(exercises and solutions) is also rendered once and checked for math.  In JupyterLab two ``$`` in one
paragraph are LaTeX even when each is escaped with a backslash, so a lesson keeps one dollar amount per paragraph.
Screenshots of each whole notebook go to ``tests/artifacts/browser/`` (git-ignored); their paths are printed.

Select it with ``-m browser`` (``python3 kit.py test -m browser``); it is part of the default suite.  It needs
Chromium and a matching chromedriver: on Debian/Ubuntu ``sudo apt-get install chromium chromium-driver`` (what
``.ci/run`` does); on macOS Google Chrome plus ``brew install --cask chromedriver``; or point ``LAB_CHROME``
and ``LAB_CHROMEDRIVER`` at the two programs.  Without them the test is skipped with that advice, except in
CI (``CI=true``), where a missing browser is a failure.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from notebook_helpers import ROOT, SOLUTIONS
from sdk_envs import kit as _kit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOKS = ["06_pipeline.ipynb", "07_monitoring.ipynb"]  # in this order: 07 also looks at 06's failed run
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
RUN_TIMEOUT = 300  # seconds for one notebook's Run All
START_TIMEOUT = 60  # seconds for JupyterLab to answer, a page to load
KERNEL_TIMEOUT = 180  # seconds for a kernel to start and the page to connect to it (a busy CI machine)
TOKEN = "kit-browser-test"
INSTALL_HINT = ("install Chromium and its driver: Debian/Ubuntu `sudo apt-get install chromium chromium-driver`; "
                "macOS: Google Chrome and `brew install --cask chromedriver`; or set LAB_CHROME and LAB_CHROMEDRIVER")
CHROME_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
                "/Applications/Chromium.app/Contents/MacOS/Chromium"]
# Headless, no first-run screens, nothing fetched in the background (updates, sync, safe-browsing lists).
CHROME_FLAGS = ["--headless=new", "--window-size=1400,1000", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio",
                "--hide-scrollbars", "--no-proxy-server"]
PROXY_VARIABLES = ["http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
SENTINEL = "The sentinel, real math: $x^2$."  # typeset last: MathJax is done with the notebook
# JupyterLab without network: no news feed, no update check, no extension listings from PyPI.
LAB_FLAGS = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
             "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
# User settings: every cell stays in the page (no windowing), no question about news.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _in_ci():
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason):
    """Skip with how to install what is missing; in CI fail instead (CI installs the browser, so it must be there)."""
    if _in_ci():
        pytest.fail(f"CI=true but {reason}: .ci/run installs it with apt-get; see its output", pytrace=False)
    pytest.skip(f"{reason}: {INSTALL_HINT}")


def find_browser():
    """The Chrome/Chromium program and its chromedriver (LAB_CHROME / LAB_CHROMEDRIVER, else the PATH), or skip."""
    chrome = os.environ.get("LAB_CHROME") or next(filter(None, (shutil.which(n) for n in CHROME_NAMES)), None)
    driver = os.environ.get("LAB_CHROMEDRIVER") or shutil.which("chromedriver")
    if not chrome or not Path(chrome).is_file():
        _unavailable("no Chromium or Chrome found")
    if not driver or not Path(driver).is_file():
        _unavailable("no chromedriver found")
    return chrome, driver


def _kernelspec():
    """The notebook metadata naming the kit's kernel, as the lesson notebooks carry it."""
    kit = _kit()
    return {"name": kit.KERNEL_NAME, "display_name": kit.KERNEL_DISPLAY_NAME, "language": "python"}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """One JupyterLab server (kit.py's command) and one headless Chromium looking at it."""

    def __init__(self, base, chrome, chromedriver):
        self.base = Path(base)
        self.root = self.base / "notebooks"  # a copy: JupyterLab autosaves into it
        shutil.copytree(SOLUTIONS, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.base / "jupyterlab.log"
        self.server = self.driver = None
        try:
            self._start_server()
            self._start_browser(chrome, chromedriver)
        except Exception as error:
            log = self.log_tail()
            self.close()  # whatever did start
            raise RuntimeError(f"{type(error).__name__}: {error}\n{log}") from error

    # -- the server ------------------------------------------------------------------------------
    def _start_server(self):
        kit = _kit()
        env_dir = self.base / "kit-env"
        kit.write_kernel_spec(env_dir, sys.executable)  # the kit's kernel: this Python, as kit.py lab registers it
        for name, values in LAB_SETTINGS.items():
            path = self.base / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        command, env = kit.lab_command([f"--port={self.port}", *LAB_FLAGS], env_dir, sys.executable, self.root)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.update(HOME=str(self.base / "home"), LAB_MODE="local", LAB_HOME=str(self.base / "lab-home"),
                   JUPYTER_CONFIG_DIR=str(self.base / "jupyter-config"),
                   JUPYTER_RUNTIME_DIR=str(self.base / "jupyter-runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(self.base / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.base / "workspaces"))
        with open(self.log_path, "wb") as log:
            self.server = subprocess.Popen(command, env=env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.api("status")
                return
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT} s") from None
                time.sleep(0.25)

    def api(self, path, method="GET"):
        """JSON from the server's REST API (``path`` after /api/)."""
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def session_of(self, name):
        """The server's kernel session of notebook ``name``, or None."""
        return next((s for s in self.api("sessions") if s["path"] == name), None)

    def log_tail(self, chars=6000):
        """The end of JupyterLab's log (stdout and stderr)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""
        return f"--- JupyterLab log ({self.log_path}) ---\n{text[-chars:]}"

    # -- the browser -----------------------------------------------------------------------------
    def _start_browser(self, chrome, chromedriver):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = chrome
        for flag in CHROME_FLAGS:
            options.add_argument(flag)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # Chromium's own sandbox refuses to run as root (CI machines)
        options.add_argument(f"--user-data-dir={self.base / 'chrome-profile'}")
        # The driver's path given explicitly: Selenium Manager never runs, so nothing is downloaded.
        service = Service(executable_path=chromedriver, log_output=str(self.base / "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(START_TIMEOUT)
        self.driver.set_script_timeout(START_TIMEOUT)

    def js(self, script, *args):
        """Run JavaScript in the page and return its result."""
        return self.driver.execute_script(script, *args)

    def wait(self, what, condition, timeout=START_TIMEOUT, every=0.5):
        """Poll ``condition()`` until it returns something true; fail after ``timeout`` s saying ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what}")
            time.sleep(every)

    def open_notebook(self, name):
        """Open ``name`` at /lab/tree/, accept the kit's kernel if JupyterLab asks, and wait until the kernel is
        idle and the page connected to it; return the session."""
        from selenium.webdriver.common.by import By

        self.driver.get(f"{self.url}/lab/tree/{name}?reset&token={TOKEN}")
        self.wait(f"{name} to show its cells", lambda: self.js(
            "return document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').length"))

        def kernel_idle():
            dialogs = self.driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog")
            if dialogs:  # "Select Kernel" when the kernel list arrived after the notebook: take the preferred one
                assert _kit().KERNEL_DISPLAY_NAME in dialogs[0].text, f"unexpected dialog: {dialogs[0].text}"
                dialogs[0].find_element(By.CSS_SELECTOR, ".jp-mod-accept").click()
                return False
            return self.connected_session(name)

        session = self.wait(f"the kernel of {name} to start and the page to connect to it", kernel_idle,
                            timeout=KERNEL_TIMEOUT)
        assert session["kernel"]["name"] == _kit().KERNEL_NAME
        return session

    def connected_session(self, name):
        """The session of ``name`` once its kernel is idle and the page holds a connection to it, else None."""
        session = self.session_of(name)
        kernel = session["kernel"] if session else {}
        ready = kernel.get("execution_state") == "idle" and kernel.get("connections", 0) > 0
        return session if ready else None

    def run_all(self, name, timeout=RUN_TIMEOUT):
        """Run → Run All Cells through the menus, then wait until no cell is queued and the kernel is idle."""
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.XPATH, "//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='Run']").click()
        item = "li.lm-Menu-item[data-command='runmenu:run-all']"
        self.wait("the Run menu to open", lambda: self.driver.find_elements(By.CSS_SELECTOR, item), every=0.1)[0].click()
        self.wait("Run All Cells to start", lambda: any(p != "[ ]:" for p in self.prompts()), timeout=30, every=0.2)
        settled = []

        def done():
            session = self.session_of(name)
            assert session is not None, f"the kernel of {name} is gone"
            idle = "[*]:" not in self.prompts() and session["kernel"]["execution_state"] == "idle"
            settled.append(idle)
            return len(settled) >= 3 and all(settled[-3:])  # idle three polls in a row: not between two cells

        self.wait(f"Run All Cells in {name} to finish", done, timeout=timeout, every=1)

    def prompts(self):
        """The input prompts of the open notebook's code cells: ``[3]:`` ran, ``[*]:`` running, ``[ ]:`` not run."""
        return self.js("return [...document.querySelectorAll("
                       "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]"
                       ".map(e => e.textContent.trim())")

    def report(self, name):
        """What the open notebook ``name`` shows: one entry per cell (kind, prompt, outputs, images, math), with
        each cell's source from the file (the page's editors hold only the lines in view)."""
        import nbformat

        cells = self.js(REPORT_JS)
        sources = [cell.source for cell in nbformat.read(self.root / name, as_version=4).cells]
        assert len(sources) == len(cells), f"the page shows {len(cells)} cells, {name} has {len(sources)}"
        for cell, source in zip(cells, sources):
            cell["source"] = source
        return cells

    def show(self, name):
        """Open ``name`` without running it; once its last cell (the sentinel) is typeset, report what it shows."""
        self.open_notebook(name)  # JupyterLab starts a kernel for it anyway: let it connect (see stop_kernel)
        self.wait(f"the math in the last cell of {name} to be typeset",
                  lambda: self.js("const cells = document.querySelectorAll("
                                  "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');"
                                  "return cells[cells.length - 1].querySelectorAll('mjx-container').length"))
        return self.report(name)

    def stop_kernel(self, name):
        """Shut down the kernel of notebook ``name`` (frees memory before the next notebook), once the page is
        connected to it.

        A kernel shut down while it starts leaves the page's WebSocket handshake unanswered: the server waits
        60 s (its ``kernel_info_timeout``) for a reply that never comes, and Chromium opens no other WebSocket
        to the same server meanwhile (one handshake at a time per host, RFC 6455 4.1), so the next notebook's
        kernel cannot connect for that minute.
        """
        session = self.wait(f"the kernel of {name} to be connected before it is stopped",
                            lambda: self.connected_session(name), timeout=KERNEL_TIMEOUT)
        self.api(f"sessions/{session['id']}", method="DELETE")
        self.wait(f"the session of {name} to end", lambda: self.session_of(name) is None)

    def screenshot(self, path):
        """The whole open notebook as one PNG: the notebook area scrolled page by page, then stitched."""
        from io import BytesIO

        from PIL import Image
        from selenium.webdriver.common.by import By

        scroller = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
        element = self.driver.find_element(By.CSS_SELECTOR, scroller)
        total, page = self.js(f"const s = document.querySelector('{scroller}'); return [s.scrollHeight, s.clientHeight]")
        total = min(total, 40 * page)  # a bound, should a notebook ever be endless
        pieces = []
        for top in range(0, total, page - 4):  # pages overlap a little: see below
            self.js(f"document.querySelector('{scroller}').scrollTop = arguments[0]", top)
            time.sleep(0.2)
            actual = self.js(f"return document.querySelector('{scroller}').scrollTop")
            pieces.append((actual, Image.open(BytesIO(element.screenshot_as_png))))
        scale = pieces[0][1].height / page
        sheet = Image.new("RGB", (pieces[0][1].width, int(total * scale)), "white")
        for top, image in reversed(pieces):  # each page's top row (the toolbar's shadow) under the page before
            sheet.paste(image, (0, int(top * scale)))
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(path)
        self.js(f"document.querySelector('{scroller}').scrollTop = 0")
        return path

    @contextmanager
    def explained(self, label):
        """On failure: a screenshot of the window, and JupyterLab's log in the message."""
        try:
            yield
        except Exception as error:
            shot = ARTIFACTS / f"{label}-failure.png"
            try:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                self.driver.save_screenshot(str(shot))
            except Exception as screenshot_error:  # the browser may be what failed
                shot = f"(no screenshot: {screenshot_error})"
            pytest.fail(f"{label}: {error}\nscreenshot: {shot}\n{self.log_tail()}", pytrace=False)

    def close(self):
        """Stop the browser and the server (always: fixture finalizer)."""
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:
                pass
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait(5)


# One entry per cell of the open notebook, read from the page as the learner sees it.
REPORT_JS = """
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
return [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].map((cell, index) => ({
  index,
  kind: cell.classList.contains('jp-CodeCell') ? 'code' : cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw',
  prompt: (cell.querySelector('.jp-InputPrompt') || {textContent: ''}).textContent.trim(),
  outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
    mime: o.dataset.mimeType || '', text: o.innerText.slice(0, 4000)})),
  images: [...cell.querySelectorAll('.jp-OutputArea-output img')].map(i => ({
    complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
  math: cell.querySelectorAll('.jp-RenderedMarkdown mjx-container, .jp-RenderedMarkdown .MathJax').length,
  markdown: cell.querySelector('.jp-RenderedMarkdown') ? cell.querySelector('.jp-RenderedMarkdown').innerText : '',
}));
"""


def problems(cells, ran=True):
    """What is wrong in a notebook: markdown typeset as math, tracebacks, and (``ran``) code cells that did not run."""
    found = []
    for cell in cells:
        where = cell.get("where") or f"cell {cell['index'] + 1} ({cell['source'][:80]!r})"
        if ran and cell["kind"] == "code" and not (cell["prompt"].startswith("[") and cell["prompt"][1:-2].isdigit()):
            found.append(f"{where} did not run (prompt {cell['prompt']!r}): an earlier cell failed")
        for output in cell["outputs"]:
            if "Traceback" in output["text"] or output["mime"] == "application/vnd.jupyter.error":
                found.append(f"{where} shows an error ({output['mime']}):\n{output['text'][-1500:]}")
        if cell["math"]:
            lines = [line for line in cell["source"].splitlines() if "$" in line]
            found.append(f"{where}: markdown typeset as math ({cell['math']} formula(s): two '$' in one paragraph "
                         "are LaTeX in JupyterLab, even written '\\$'), from these lines:\n  " + "\n  ".join(lines))
        if "\\$" in cell["markdown"]:
            found.append(f"{where}: a raw '\\$' shows in the rendered markdown")
    return found


def images_of(cells, call):
    """The decoded images in the outputs of the code cells whose source calls ``call``."""
    chosen = [c for c in cells if c["kind"] == "code" and f"{call}(" in c["source"]]
    assert chosen, f"no code cell calls {call}(...)"
    return [image for cell in chosen for image in cell["images"] if image["complete"] and image["width"] > 0]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    """JupyterLab on a copy of the solutions and Chromium, for the whole module; both always stopped."""
    chrome, chromedriver = find_browser()
    for module, package in (("selenium", "selenium"), ("jupyterlab", "jupyterlab"), ("PIL", "pillow")):
        try:
            __import__(module)
        except ImportError:
            _unavailable(f"the Python package {package} is not installed (python3 kit.py test installs it)")
    patch = pytest.MonkeyPatch()  # the driver and the server are on loopback: never through a proxy
    for variable in PROXY_VARIABLES:
        patch.delenv(variable, raising=False)
    request.addfinalizer(patch.undo)
    try:
        instance = Lab(tmp_path_factory.mktemp("browser"), chrome, chromedriver)
    except Exception as error:
        pytest.fail(f"could not start JupyterLab and Chromium: {error}", pytrace=False)
    request.addfinalizer(instance.close)
    return instance


def _run_in_browser(lab, name):
    """Open ``name``, run all its cells through the UI, screenshot it, stop its kernel; return the page's report."""
    label = Path(name).stem
    with lab.explained(label):
        lab.open_notebook(name)
        started = time.monotonic()
        lab.run_all(name)
        seconds = time.monotonic() - started
        cells = lab.report(name)
        shot = lab.screenshot(ARTIFACTS / f"{label}.png")
        print(f"\n{name}: Run All Cells took {seconds:.0f} s in the browser; screenshot: {shot}")
        lab.stop_kernel(name)
    return cells


# --------------------------------------------------------------------------- tests


def test_a_missing_browser_skips_with_the_install_hint_but_fails_in_ci(tmp_path, monkeypatch):
    """No chromedriver: outside CI a skip that says how to install it; under CI=true a failure."""
    monkeypatch.setenv("LAB_CHROME", sys.executable)  # any existing file will do here
    monkeypatch.setenv("LAB_CHROMEDRIVER", str(tmp_path / "no-chromedriver"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        find_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but no chromedriver found"):
        find_browser()
    monkeypatch.setenv("LAB_CHROMEDRIVER", sys.executable)
    assert find_browser() == (sys.executable, sys.executable)


def test_checks_catch_an_error_math_and_a_cell_that_did_not_run(lab):
    """A probe notebook: the checks below must find its traceback, its typeset dollars and its skipped cell."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = _kernelspec()
    nb.cells = [
        nbformat.v4.new_markdown_cell("It costs $1 and then $2 more."),
        nbformat.v4.new_markdown_cell("One dollar sign alone is text: $1 only."),
        nbformat.v4.new_code_cell("import sys, warnings\nprint('to stderr', file=sys.stderr)\nwarnings.warn('careful')"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\n"
                                  "fig, ax = plt.subplots(figsize=(2, 1))\nax.plot([0, 1])\nplt.close(fig)\nfig"),
        nbformat.v4.new_code_cell("raise ValueError('probe')"),
        nbformat.v4.new_code_cell("print('never')"),
    ]
    nbformat.write(nb, lab.root / "probe.ipynb")
    cells = _run_in_browser(lab, "probe.ipynb")
    found = problems(cells)
    assert any("cell 1 " in p and "typeset as math" in p for p in found), found
    assert not any(p.startswith("cell 2 ") or p.startswith("cell 3 ") for p in found), (
        f"a single dollar sign and a warning on stderr are fine: {found}")
    assert any(p.startswith("cell 5 ") and "ValueError" in p for p in found), found
    assert any(p.startswith("cell 6 ") and "did not run" in p for p in found), found
    assert len(images_of(cells, "subplots")) == 1, cells[3]


def test_every_lesson_notebooks_markdown_renders_dollars_as_text(lab):
    """The markdown of every lesson notebook (exercises and solutions) in JupyterLab: none of it typeset as math.

    The distinct markdown cells go into one notebook (a markdown cell renders on its own), with a sentinel
    cell of real math last: once that is typeset MathJax is done, and it proves the check would see math.
    """
    import nbformat

    origins = {}  # markdown source -> the first notebook and cell number it comes from
    for folder in (ROOT / "notebooks", SOLUTIONS):
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            for number, cell in enumerate(nbformat.read(path, as_version=4).cells, 1):
                if cell.cell_type == "markdown":
                    origins.setdefault(cell.source, f"{folder.name}/{path.name}, cell {number}")
    assert origins, "no lesson notebooks found"
    sheet = nbformat.v4.new_notebook()
    sheet.metadata["kernelspec"] = _kernelspec()
    sheet.cells = [nbformat.v4.new_markdown_cell(source) for source in [*origins, SENTINEL]]
    nbformat.write(sheet, lab.root / "markdown-check.ipynb")
    with lab.explained("markdown-check"):
        cells = lab.show("markdown-check.ipynb")
    lab.stop_kernel("markdown-check.ipynb")
    assert cells[-1]["math"] == 1, f"the sentinel's math was not typeset: {cells[-1]}"
    for cell in cells[:-1]:
        cell["where"] = origins[cell["source"]]
    found = problems(cells[:-1], ran=False)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solution_runs_in_jupyterlab(lab, name):
    """Run All Cells in the browser: every cell runs, no traceback, no math-typeset markdown; 07 draws its pictures."""
    assert (lab.root / name).is_file(), f"solutions/{name} is missing"
    cells = _run_in_browser(lab, name)
    found = problems(cells)
    assert not found, f"{name} in JupyterLab:\n" + "\n".join(found)
    if name.startswith("07_"):
        assert images_of(cells, "draw_pipeline"), "the pipeline graph did not render as an image"
        assert images_of(cells, "plot_timeline"), "the timeline did not render as an image"
