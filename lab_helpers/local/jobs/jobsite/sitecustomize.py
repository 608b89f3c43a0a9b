"""The job's side of the AWS bridge: botocore in a job process asks the kit, not the network.

Every job process has this folder first on its ``PYTHONPATH``, so Python imports this module as
``sitecustomize`` when it starts - in the job's own process and in every Python process the job
starts (``python3 other.py``, ``pip``, a ``multiprocessing`` spawn).  It then:

* adds one handler to botocore's built-in ``before-send`` handlers, as soon as botocore is
  imported (an import hook: a process that never imports botocore pays nothing).  The handler
  sends each prepared request - method, URL, headers, body and the event name, which names the
  service and the operation - over the Unix socket named by ``$LAB_AWS_BRIDGE`` to the kit's
  process, which answers it with the same local services the notebook uses, and hands botocore
  that reply to parse: a job gets the notebook's answers, and its requests never reach a socket
  of the network;
* in a job that runs on its image's own environment, appends the kit's site-packages
  (``$LAB_KIT_SITE``) to ``sys.path``: the image's libraries win, and what the image does not
  list (boto3, ...) comes from the kit (:func:`add_kit_site`);
* runs the ``sitecustomize`` that this one hides, if there is one further down ``sys.path``.

The runtime's side is :mod:`lab_helpers.local.jobs.aws_bridge`.  Imported as a module of the
package (the fork server and :mod:`..jobmain` do that), nothing runs until :func:`install`.
Standard library only, Python 3.9+: job processes run what an AWS image runs.
"""

import io
import json
import os
import struct
import sys

ENV_VAR = "LAB_AWS_BRIDGE"
UNAVAILABLE = "unavailable: "  # the variable's value when the kit could not open a bridge (then AWS calls fail)
_MARK = "_lab_aws_bridge"
_HEAD = struct.Struct("!IQ")  # header length, body length


class LocalModeError(RuntimeError):
    """A request the kit's local AWS does not serve (e.g. a service it does not emulate)."""


class BridgeError(ConnectionError):
    """The kit's process did not answer (it ended, or the job's bridge socket is gone)."""


# --------------------------------------------------------------------------------------------
# frames: a JSON header and a body, both ways
# --------------------------------------------------------------------------------------------
def send_frame(sock, header, body=b""):
    """Send one frame: the lengths, the JSON ``header``, then ``body`` (bytes)."""
    raw = json.dumps(header).encode("utf-8")
    sock.sendall(_HEAD.pack(len(raw), len(body)) + raw)
    if body:
        sock.sendall(body)


def _read_exactly(sock, count):
    chunks, left = [], count
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise BridgeError("the kit's process closed the AWS bridge mid-reply")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(sock):
    """Read one frame: ``(header dict, body bytes)``."""
    head_length, body_length = _HEAD.unpack(_read_exactly(sock, _HEAD.size))
    header = json.loads(_read_exactly(sock, head_length).decode("utf-8"))
    return header, _read_exactly(sock, body_length)


# --------------------------------------------------------------------------------------------
# the before-send handler
# --------------------------------------------------------------------------------------------
class _Raw(io.BytesIO):
    """The ``raw`` body botocore reads a reply from (``read()`` and ``stream()``)."""

    def stream(self, amt=64 * 1024, decode_content=False):  # noqa: ARG002 - botocore's signature
        """Yield the body in chunks of ``amt`` bytes."""
        while True:
            chunk = self.read(amt)
            if not chunk:
                break
            yield chunk


def _body_bytes(body):
    if body is None:
        return b""
    if hasattr(body, "read"):
        body = body.read()
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def forward(request, event_name=None, **_):
    """botocore ``before-send`` handler: the kit's answer to ``request`` (None outside a job)."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return None
    if path.startswith(UNAVAILABLE):
        raise BridgeError(f"the kit's AWS bridge is not available to this job ({path[len(UNAVAILABLE):]}); job code "
                          "reaches AWS only through the kit that runs the job.")
    import _socket  # the C socket type: a job that patches socket.socket (a test's guard) does not reach it

    header = {"event": event_name or "", "method": request.method, "url": request.url,
              "headers": [[str(k), v.decode("latin-1") if isinstance(v, bytes) else str(v)]
                          for k, v in request.headers.items()]}
    hint = ((getattr(request, "context", None) or {}).get("s3_redirect") or {}).get("bucket")
    if isinstance(hint, str):
        header["bucket_hint"] = hint
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
        except OSError as exc:
            raise BridgeError(f"the kit's AWS bridge ({path}) is not reachable: {exc}. Job code reaches AWS only "
                              "through the kit that runs the job.") from None
        send_frame(sock, header, _body_bytes(request.body))
        reply, body = read_frame(sock)
    finally:
        sock.close()
    if "error" in reply:
        raise (LocalModeError if reply.get("type") == "LocalModeError" else BridgeError)(reply["error"])
    from botocore.awsrequest import AWSResponse

    return AWSResponse(request.url, reply["status"], reply["headers"], _Raw(body))


setattr(forward, _MARK, True)


# --------------------------------------------------------------------------------------------
# putting the handler in place
# --------------------------------------------------------------------------------------------
def _add_to(handlers_module):
    handlers = handlers_module.BUILTIN_HANDLERS
    if not any(getattr(spec[1], _MARK, False) for spec in handlers if len(spec) > 1):
        handlers.append(("before-send", forward))


class _BotocoreHook:
    """A meta-path finder that adds the handler once ``botocore.handlers`` is imported."""

    _lab_aws_bridge = True

    def find_spec(self, name, path=None, target=None):
        """Let the other finders find ``botocore.handlers``; wrap its loader."""
        if name != "botocore.handlers":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _add_to(module)

        spec.loader.exec_module = exec_module
        return spec


def add_kit_site():
    """Put the kit's site-packages (``$LAB_KIT_SITE``) last on ``sys.path`` (idempotent)."""
    for path in os.environ.get("LAB_KIT_SITE", "").split(os.pathsep):
        if path and path not in sys.path:
            sys.path.append(path)


def install():
    """Answer this process's botocore requests through the bridge (idempotent)."""
    module = sys.modules.get("botocore.handlers")
    if module is not None:
        _add_to(module)
    elif not any(getattr(finder, _MARK, False) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BotocoreHook())


def _chain():
    """Run the ``sitecustomize`` this one hides (one later on sys.path), as Python would have."""
    import importlib.util
    from importlib.machinery import PathFinder

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


if __name__ == "sitecustomize":
    add_kit_site()
    install()
    _chain()
