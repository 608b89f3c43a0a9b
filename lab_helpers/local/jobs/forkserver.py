"""A warm process that forks job processes: jobs start in milliseconds, not seconds.

Each SageMaker job runs in a process of its own (as in a container).  Started cold, a job
process spends 1-3 s importing numpy, pandas, scikit-learn and xgboost before it does ~0.1 s
of work on the abalone data.  The fork server imports them once, then forks a fresh child
per job: the child is a new process (own memory, own file descriptors, its own namespaces or
/opt/ml overlay), with the libraries already loaded.

Protocol (JSON lines on stdin/stdout):
    -> {"id": 1, "argv": [...], "cwd": "...", "env": {...}, "log": "..."}
    <- {"id": 1, "pid": 1234}                 the child started
    <- {"exit": 1234, "code": 0}              the child ended (code: exit status, or -signal)

The server is single-threaded (forking a threaded process is unsafe), reaps its children
itself, and exits when its stdin closes - i.e. when the process that started it ends.
Set ``LAB_FORK_SERVER=0`` to start every job cold instead.

An image's own Python environment (:mod:`.imageenvs`) gets a server of its own, run by that
environment's interpreter and shared by every process on the machine: ``--listen <socket>`` makes
the server answer the same protocol on each connection to a Unix socket (each connection hears only
of its own children), and end once no one has used it for ``--idle`` seconds.

A request may name another ``entry`` module whose ``main(argv)`` the child runs instead of the
job entry point: the pipeline engine forks its execution runners this way (warm, in milliseconds),
and a runner, itself warm, forks a server of its own for its jobs (``ForkServer.start_forked``).
"""

import importlib
import json
import os
import select
import sys

PRELOAD = (
    "numpy",
    "pandas",
    "sklearn.impute",
    "sklearn.preprocessing",
    "sklearn.pipeline",
    "xgboost",
    "lab_helpers.local.jobs.overlay",
    "lab_helpers.local.jobs.sandbox",
    "lab_helpers.local.jobs.jobsite.sitecustomize",
    "lab_helpers.local.jobs.jobmain",
    "lab_helpers.local.images.xgboost",
)


#: what the kit's own server loads when the lesson's images have environments of their own (their jobs run
#: there): the kit's modules only, so the execution runners it forks start without the job libraries
LIGHT_PRELOAD = tuple(name for name in PRELOAD if name.startswith("lab_helpers."))


def _child(request, close_fds=()):
    """In the forked child: become the job process, then exit with its status."""
    code = 1
    try:
        for fd in close_fds:  # the server's sockets are not the job's
            try:
                os.close(fd)
            except OSError:
                pass
        os.setpgrp()  # its own process group, so a stop can signal the job and anything it starts
        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        if "numpy" in sys.modules:  # a fresh process would not share the server's random state
            sys.modules["numpy"].random.seed()
        # what the child becomes: a job (jobmain) unless the request names another entry module
        # (an execution runner): the server only knows module names, so it imports nothing above it
        entry = importlib.import_module(request.get("entry") or "lab_helpers.local.jobs.jobmain")
        code = entry.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report anything, then exit
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def _send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _import(names):
    for name in names:
        try:
            module = importlib.import_module(name)
            if callable(getattr(module, "preload", None)):  # a module may warm its own caches
                module.preload()
        except Exception:  # noqa: BLE001 - a missing optional library only makes that job slower
            pass


def serve(preload=PRELOAD):
    """Import the job libraries (and ``preload``) once, then fork a child per request until stdin closes.

    A request ``{"preload": [module, ...]}`` imports more modules first (what the coming jobs all need).
    """
    _import(preload)
    _send({"ready": True, "pid": os.getpid()})
    stdin = sys.stdin.buffer
    buffered = b""
    children = set()
    while True:
        readable, _, _ = select.select([stdin], [], [], 0.02)
        if readable:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                break
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                if not line.strip():
                    continue
                request = json.loads(line)
                if "preload" in request:
                    _import(request["preload"])
                    continue
                pid = os.fork()
                if pid == 0:
                    _child(request)
                children.add(pid)
                _send({"id": request["id"], "pid": pid})
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                _send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
    for pid in children:  # our parent is gone: let running jobs finish, do not leave zombies
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _socket_send(conn, message):
    try:
        conn.sendall((json.dumps(message) + "\n").encode())
        return True
    except OSError:
        return False


def listen(path, idle=300.0, preload=PRELOAD):
    """Serve the protocol on each connection to the Unix socket ``path``; end after ``idle`` s unused."""
    import socket
    import time

    _import(preload)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    scratch = f"{path}.{os.getpid()}"
    server.bind(scratch)
    server.listen(16)
    os.replace(scratch, path)  # clients see the socket only once the libraries are loaded
    own = os.stat(path).st_ino
    conns = {}  # fd -> [socket, buffered bytes]
    owner = {}  # child pid -> the connection that asked for it
    last_used = time.monotonic()
    while True:
        readable, _, _ = select.select([server] + [c[0] for c in conns.values()], [], [], 0.02)
        for sock in readable:
            if sock is server:
                conn, _ = server.accept()
                conns[conn.fileno()] = [conn, b""]
                _socket_send(conn, {"ready": True, "pid": os.getpid()})
                continue
            entry = conns[sock.fileno()]
            chunk = sock.recv(65536)
            if not chunk:
                del conns[sock.fileno()]
                sock.close()
                continue
            entry[1] += chunk
            while b"\n" in entry[1]:
                line, entry[1] = entry[1].split(b"\n", 1)
                if not line.strip():
                    continue
                request = json.loads(line)
                if "preload" in request:  # more modules every coming job needs
                    _import(request["preload"])
                    continue
                pid = os.fork()
                if pid == 0:
                    _child(request, [server.fileno()] + list(conns))
                owner[pid] = sock
                _socket_send(sock, {"id": request["id"], "pid": pid})
        for pid in list(owner):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                asker = owner.pop(pid)
                if asker.fileno() != -1:  # still connected
                    _socket_send(asker, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})
        if conns or owner:
            last_used = time.monotonic()
            continue
        try:
            replaced = os.stat(path).st_ino != own
        except OSError:
            replaced = True
        if replaced or time.monotonic() - last_used > idle:
            break
    server.close()
    try:
        if os.stat(path).st_ino == own:
            os.unlink(path)
    except OSError:
        pass


if __name__ == "__main__":
    if sys.argv[1:2] == ["--listen"]:
        listen(sys.argv[2], float(sys.argv[4]) if sys.argv[3:4] == ["--idle"] else 300.0)
    elif sys.argv[1:2] == ["--light"]:
        serve(LIGHT_PRELOAD + tuple(sys.argv[2:]))
    else:
        serve(PRELOAD + tuple(sys.argv[1:]))
