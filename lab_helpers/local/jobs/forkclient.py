"""The runtime's side of the fork server (see :mod:`lab_helpers.local.jobs.forkserver`)."""

import itertools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path


def enabled():
    """True where jobs can be forked from a warm server (POSIX, and LAB_FORK_SERVER is not 0)."""
    return os.name == "posix" and hasattr(os, "fork") and os.environ.get("LAB_FORK_SERVER", "1") != "0"


class ForkServer:
    """Starts the server once (in the background), then launches jobs through it."""

    def __init__(self):
        self.preload = []  # more modules the server imports before it forks anything
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._proc = None
        self._ready = threading.Event()
        self._pids = {}
        self._exits = {}
        self._ids = itertools.count(1)
        self._failed = False

    def start(self):
        """Start the server if it is not running (returns at once; imports happen in the background)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            env = dict(os.environ)
            package_root = str(Path(__file__).resolve().parents[3])
            env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            self._ready.clear()
            from . import imageenvs

            light = ["--light"] if imageenvs.lesson_ready() else []  # their jobs fork from the images' own servers
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "lab_helpers.local.jobs.forkserver", *light, *self.preload],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, cwd=package_root, start_new_session=True,
            )
            threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()

    def also_preload(self, *modules):
        """Have the server import ``modules`` too before it forks (effective when it starts)."""
        self.preload += [m for m in modules if m not in self.preload]

    def preload_now(self, *modules):
        """Have the running server import ``modules`` now, before its next fork (in its own process)."""
        if not modules:
            return
        with self._lock:
            if self._proc is None:
                return
            try:
                self._proc.stdin.write((json.dumps({"preload": list(modules)}) + "\n").encode())
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    def start_forked(self):
        """Become a fork server's client by forking this (warm, single-threaded) process as the server.

        For a process that already has the job libraries loaded, e.g. an execution runner forked from
        another fork server: the server is ready at once, with nothing to import.
        """
        from . import forkserver

        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            requests_r, requests_w = os.pipe()
            replies_r, replies_w = os.pipe()
            sys.stdout.flush()  # nothing buffered may reach the server's reply pipe
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the server: requests on stdin, replies on stdout
                code = 0
                try:
                    os.dup2(requests_r, 0)
                    os.dup2(replies_w, 1)
                    for fd in (requests_r, requests_w, replies_r, replies_w):
                        os.close(fd)
                    forkserver.serve(preload=())
                except BaseException:  # noqa: BLE001 - the client sees the server end
                    code = 1
                finally:
                    os._exit(code)
            os.close(requests_r)
            os.close(replies_w)
            self._ready.clear()
            self._failed = False
            self._proc = _ForkedServer(pid, os.fdopen(requests_w, "wb"), os.fdopen(replies_r, "rb"))
            threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()

    def _read(self, proc):
        for raw in proc.stdout:
            message = json.loads(raw)
            with self._cond:
                if message.get("ready"):
                    self._ready.set()
                elif "pid" in message and "id" in message:
                    self._pids[message["id"]] = message["pid"]
                elif "exit" in message:
                    self._exits[message["exit"]] = message["code"]
                self._cond.notify_all()
        with self._cond:  # the server ended: nothing more will arrive
            self._failed = True
            self._ready.set()
            self._cond.notify_all()

    def launch(self, argv, cwd, env, log_path, timeout=120, entry=None):
        """Fork a job process (or ``entry``'s ``main(argv)``); returns its pid, or None if the server is not usable."""
        self.start()
        if not self._ready.wait(timeout) or self._failed:
            return None
        request_id = next(self._ids)
        request = {"id": request_id, "argv": argv, "cwd": str(cwd), "env": env, "log": str(log_path)}
        if entry:
            request["entry"] = entry
        with self._lock:
            try:
                self._proc.stdin.write((json.dumps(request) + "\n").encode())
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                return None
        with self._cond:
            self._cond.wait_for(lambda: request_id in self._pids or self._failed, timeout)
            return self._pids.pop(request_id, None)

    def poll(self, pid):
        """The job's exit code, or None while it runs."""
        with self._cond:
            if pid in self._exits:
                return self._exits.pop(pid)
            if self._failed:
                return -9
            return None

    def wait_exit(self, pid, timeout):
        """Wait up to ``timeout`` s for the job to exit; its exit code, or None if it still runs."""
        with self._cond:
            self._cond.wait_for(lambda: pid in self._exits or self._failed, timeout)
        return self.poll(pid)


class _ForkedServer:
    """The handle of a server made by ``start_forked``: what ForkServer uses of a ``Popen``."""

    def __init__(self, pid, stdin, stdout):
        self.pid, self.stdin, self.stdout = pid, stdin, stdout
        self._code = None

    def poll(self):
        """The server's exit status, or None while it runs."""
        if self._code is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return -1
            if done:
                self._code = os.waitstatus_to_exitcode(status)
        return self._code


class SocketForkServer(ForkServer):
    """A client of the machine-wide warm server of another Python environment (an image's, see :mod:`.imageenvs`).

    The server (``forkserver --listen``) runs that environment's interpreter; every process on the
    machine that has jobs for it connects to the same one (starting it if none runs), so the notebook,
    each execution's runner and each test session find it warm.  Its socket's name depends on the
    interpreter and on the kit's code, so a changed kit gets a fresh server.
    """

    def __init__(self, python, extra_env=None):
        super().__init__()
        self.python = python
        self.extra_env = dict(extra_env or {})
        self.path = _socket_path(python)

    def start(self):
        """Connect in the background (starting the server if none answers); returns at once."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            self._proc = _Pending()
            self._ready.clear()
            self._failed = False
        threading.Thread(target=self._connect, daemon=True).start()

    def _connect(self):
        import fcntl
        import time

        handle = None
        try:
            sock = _try_connect(self.path)
            if sock is None:
                with open(self.path + ".lock", "w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # one process starts the server; the others wait for it
                    sock = _try_connect(self.path)
                    if sock is None:
                        proc = self._spawn()
                        deadline = time.monotonic() + 120
                        while not os.path.exists(self.path) and proc.poll() is None and time.monotonic() < deadline:
                            time.sleep(0.02)  # the socket appears once the server has loaded the libraries
                        sock = _try_connect(self.path)
            if sock is not None:
                handle = _SocketHandle(sock)
        except OSError:
            handle = None
        with self._lock:
            self._proc = handle or _Ended()
        if handle is None:
            with self._cond:
                self._failed = True
                self._ready.set()
                self._cond.notify_all()
            return
        try:
            self._read(handle)
        finally:  # the server ended: the next launch connects again (or starts a new one)
            handle.close()

    def _spawn(self):
        package_root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ, **self.extra_env)
        # OpenMP threads (xgboost) sleep rather than spin while they wait: on a busy machine spinning threads of a
        # job fight its other threads and other processes for the cores (training took seconds, not 0.2 s)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.Popen(
            [self.python, "-m", "lab_helpers.local.jobs.forkserver", "--listen", self.path, "--idle", "600"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env, cwd=package_root, start_new_session=True,
        )
        threading.Thread(target=proc.wait, daemon=True).start()  # no zombie once it ends
        return proc


#: The most bytes a Unix socket's path may have (``sun_path`` holds 108, its last a NUL)
_MAX_SOCKET_PATH = 107


def _socket_path(python):
    """<image envs>/forks/<hash>.sock: one per interpreter, state of the kit's code, PYTHONPATH and mount namespace.

    The sockets live beside the image environments whose servers they reach (:func:`.imageenvs.root`, shared by
    every ``LAB_HOME``); where that path would be longer than a Unix socket's path may be, or the folder cannot be
    made, in ``$TMPDIR/lab-forks-<uid>/`` (or ``/tmp/lab-forks-<uid>/``) instead.
    """
    import hashlib

    package = Path(__file__).resolve().parents[2]
    root = str(package.parent)
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != root]
    stamp = [str(python), str(package), *extra]  # PYTHONPATH: what the server would load at its start
    for name in ("mnt", "user"):  # the server's jobs see the files its clients see: one server per namespace
        try:
            stamp.append(os.readlink(f"/proc/self/ns/{name}"))
        except OSError:
            pass
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        stamp.append(f"{path}:{stat.st_mtime_ns}:{stat.st_size}")
    name = hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:20] + ".sock"
    from . import imageenvs

    folder = imageenvs.root() / "forks"
    if len(os.fsencode(folder / name)) <= _MAX_SOCKET_PATH:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return str(folder / name)
        except OSError:
            pass  # not writable here: the temporary folder below
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"lab-forks-{os.getuid()}"
    if len(str(folder)) > 70:  # too long a path for a socket (see _MAX_SOCKET_PATH)
        folder = Path("/tmp") / f"lab-forks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return str(folder / name)


def _try_connect(path):
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        return sock
    except OSError:
        sock.close()
        return None


class _SocketHandle:
    """A connection to a socket server: what ForkServer uses of a ``Popen``."""

    def __init__(self, sock):
        self.sock = sock
        self.stdin = sock.makefile("wb")
        self.stdout = sock.makefile("rb")
        self.pid = None

    def poll(self):
        """None while connected."""
        return None if self.sock.fileno() != -1 else 0

    def close(self):
        """Close the connection."""
        for item in (self.stdin, self.stdout, self.sock):
            try:
                item.close()
            except OSError:
                pass


class _Pending:
    """Connecting: counts as running."""

    stdin = None

    def poll(self):
        """None: not ended."""
        return None


class _Ended:
    """A connection that could not be made: counts as ended (the next start tries again)."""

    stdin = None

    def poll(self):
        """The connection's end."""
        return 1


_SHARED = None
_SHARED_LOCK = threading.Lock()
_BY_PYTHON = {}


def shared():
    """The process's one fork server (requests carry their own env and cwd, so one serves every session)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = ForkServer()
        return _SHARED


def for_python(python, extra_env=None):
    """The process's client of the warm server of interpreter ``python`` (an image's environment)."""
    with _SHARED_LOCK:
        if python not in _BY_PYTHON:
            _BY_PYTHON[python] = SocketForkServer(python, extra_env)
        return _BY_PYTHON[python]
