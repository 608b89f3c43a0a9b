"""AWS calls from job code, answered by the kit's local services: the runtime's side of the bridge.

A SageMaker job's code may call AWS (boto3, the SageMaker SDK): list and write S3 objects, look
up a pipeline.  In local mode those calls must get the answers the notebook gets, from the same
local S3 folder and control plane, and must never reach the network.  A job process cannot
answer them itself (it must not open the control plane), so:

* the job side (:mod:`.jobsite.sitecustomize`, loaded by every Python process of the job)
  forwards each prepared botocore request over a Unix socket;
* here, :class:`Bridge` listens on that socket (a thread per connection) and answers each
  request with the cloud's router - the very callable that answers the notebook's requests
  (``cloud.py`` passes it in; ``jobs/`` does not import the layer above) - sending back status,
  headers and body for botocore in the job to parse.

:func:`environment` is what a SageMaker job finds in its environment for AWS: the region, role
credentials (harmless fake ones here), no instance metadata, no user AWS config, SDK telemetry off.
"""

import os
import shutil
import socketserver
import tempfile
import threading
import weakref
from pathlib import Path

from .jobsite import sitecustomize as job_side

SITE_DIR = str(Path(__file__).resolve().with_name("jobsite"))
SDK_CONFIG = str(Path(SITE_DIR) / "sagemaker-config.yaml")


def environment(region, socket_path=None, problem="local mode runs no AWS bridge here"):
    """The AWS part of a job's environment: with the bridge's socket, or why there is none (AWS calls fail)."""
    env = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "local-mode-job",
        "AWS_SECRET_ACCESS_KEY": "local-mode-job",
        "AWS_SESSION_TOKEN": "local-mode-job",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": SDK_CONFIG,
    }
    env[job_side.ENV_VAR] = socket_path or job_side.UNAVAILABLE + problem
    return env


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        """Read one forwarded request, send back the router's reply."""
        try:
            header, body = job_side.read_frame(self.request)
        except (OSError, ValueError):
            return
        reply, content = self.server.bridge.answer(header, body)
        try:
            job_side.send_frame(self.request, reply, content)
        except OSError:
            pass  # the job went away


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class Bridge:
    """Serves one runtime's jobs: each request they forward is answered by ``router``."""

    def __init__(self, router):
        self.router = router
        self.socket_path = None
        self.problem = None
        self._server = None
        self._lock = threading.Lock()

    def start(self):
        """Listen (once); returns the socket's path (``None``, and :attr:`problem` says why, if it cannot)."""
        with self._lock:
            if self._server is None:
                for base in dict.fromkeys([tempfile.gettempdir(), "/tmp"]):  # socket paths: ~100 bytes at most
                    try:
                        folder = tempfile.mkdtemp(prefix="lab-aws-", dir=base)  # mode 0700
                    except OSError as exc:
                        self.problem = f"no folder for its socket ({exc})"
                        continue
                    path = os.path.join(folder, "aws.sock")
                    try:
                        server = _Server(path, _Handler)
                    except OSError as exc:
                        shutil.rmtree(folder, ignore_errors=True)
                        self.problem = f"cannot listen on {path} ({exc})"
                        continue
                    server.bridge = self
                    threading.Thread(target=server.serve_forever, name="lab-aws-bridge", daemon=True).start()
                    weakref.finalize(self, _remove, server, folder)
                    self._server, self.socket_path, self.problem = server, path, None
                    break
            return self.socket_path

    def close(self):
        """Stop listening and remove the socket."""
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                _remove(self._server, os.path.dirname(self.socket_path))
                self._server = None

    def answer(self, header, body):
        """The router's reply to one forwarded request: ``(reply header, body)``."""
        from botocore.awsrequest import AWSPreparedRequest, HeadersDict

        request = AWSPreparedRequest(header["method"], header["url"], HeadersDict(header["headers"]), body,
                                     stream_output=False)
        if header.get("bucket_hint"):
            request.context = {"s3_redirect": {"bucket": header["bucket_hint"]}}
        try:
            response = self.router(request, event_name=header["event"])
            content = response.content
            headers = {str(k): str(v) for k, v in response.headers.items()}
            return {"status": response.status_code, "headers": headers}, content
        except Exception as exc:  # noqa: BLE001 - the job raises it, with the notebook's message
            return {"error": str(exc), "type": type(exc).__name__}, b""


def _remove(server, folder):
    server.server_close()
    shutil.rmtree(folder, ignore_errors=True)
