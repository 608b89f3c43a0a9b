"""The Docker-free container runtime: SageMaker jobs as host processes.

Where the SDK's local mode would run ``docker compose``, the kit gives every job a private
folder that plays the container's file system, lays it out as the real container sees it,
and runs the job in a fresh host Python process:

    LAB_HOME/jobs/<job name>/container/opt/ml/...     the job's /opt/ml (config, channels, model, output)
    LAB_HOME/jobs/<job name>/container/<LocalPath>    processing inputs/outputs declared outside /opt/ml

Inside the job process, the kit's path overlay (:mod:`lab_helpers.local.overlay`) makes
``/opt/ml/...`` (and every declared container path) resolve to that folder, so scripts that
hard-code ``/opt/ml`` paths run unmodified, as any user, and two jobs never see each other's
files.  Inputs are copied from the local S3 folder before the job starts; outputs are copied
back when it ends (``S3UploadMode: EndOfJob``), and only when it succeeded.

Differences from AWS: one instance only (``InstanceCount`` > 1 runs once), instance types
are not emulated, ``Pipe``/``FastFile`` input modes behave like ``File``, and a
subprocess that a job script starts does not see the path overlay.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from . import forkclient, images
from .sagemaker_api import ApiError, validation

LOG_GROUPS = {
    "training": "/aws/sagemaker/TrainingJobs",
    "processing": "/aws/sagemaker/ProcessingJobs",
    "transform": "/aws/sagemaker/TransformJobs",
}
_METRIC_LINE = re.compile(r"^\[(\d+)\]((?:#011[\w-]+:[-+0-9.eE]+)+)")


def _under_opt_ml(path):
    """True for /opt/ml itself and paths below it (not for look-alikes such as /opt/ml-extra)."""
    return path == "/opt/ml" or path.startswith("/opt/ml/")


def split_s3(uri):
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise validation(f"'{uri}' is not an s3:// URI.")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def relative_key(prefix, key):
    """Where an object lands under a channel/LocalPath, as SageMaker places S3Prefix inputs."""
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    if prefix == "" or prefix.endswith("/"):
        return key[len(prefix):]
    if key.startswith(prefix + "/"):
        return key[len(prefix) + 1:]
    return key[len(prefix.rsplit("/", 1)[0]) + 1:] if "/" in prefix else key


class JobFailed(Exception):
    """The job failed; the message is the FailureReason."""


class Runtime:
    def __init__(self, cloud):
        self.cloud = cloud
        self.store = cloud.store
        self.s3 = cloud.s3
        self.jobs_dir = cloud.home / "jobs"
        self.stop_check = None  # set by the engine while an execution runs
        self.forks = forkclient.shared() if forkclient.enabled() else None

    # -- shared ---------------------------------------------------------------------------
    def check_image(self, image, purpose):
        try:
            images.resolve(image, purpose)
        except images.UnsupportedImage as exc:
            raise validation(str(exc)) from None

    def echo(self, line):
        self.cloud.log_sink(line)

    def _prepare_dir(self, name):
        job_dir = self.jobs_dir / name
        if job_dir.exists():
            shutil.rmtree(job_dir)
        (job_dir / "container" / "opt" / "ml").mkdir(parents=True)
        return job_dir

    def _stage(self, uri, dest, data_type="S3Prefix"):
        """Copy the objects an S3 input names into ``dest``; returns how many."""
        bucket, prefix = split_s3(uri)
        if data_type not in ("S3Prefix", None):
            raise JobFailed(f"ClientError: S3DataType {data_type} is not supported by the kit's local mode; use S3Prefix.")
        keys = self.s3.list_keys(bucket, prefix)
        if not keys:
            raise JobFailed(
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
                f"Please ensure that the bucket exists in the selected region ({self.cloud.region}), "
                "that objects exist under that S3 prefix. In local mode that is the folder "
                f"{self.s3.path_for(bucket, prefix)}."
            )
        dest.mkdir(parents=True, exist_ok=True)
        for key in keys:
            target = dest / relative_key(prefix, key)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.s3.path_for(bucket, key), target)
        return len(keys)

    def _upload_dir(self, source, uri):
        bucket, prefix = split_s3(uri)
        prefix = prefix.rstrip("/")
        count = 0
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            key = f"{prefix}/{path.relative_to(source).as_posix()}" if prefix else path.relative_to(source).as_posix()
            self.s3.put_file(bucket, key, path)
            count += 1
        return count

    def _launch(self, job_dir, spec, group, stream):
        """Run the job process; stream its output into the log store and the notebook; return (code, lines)."""
        spec_path = job_dir / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        env = dict(os.environ)
        env.update(spec.get("env", {}))
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("PYTHONSTARTUP", None)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        lines = []

        def emit(line):
            lines.append(line)
            self.store.append_log(group, stream, line)
            self.echo(line)

        pid = None
        if self.forks is not None:
            log_path = job_dir / "output.log"
            pid = self.forks.launch([str(spec_path)], job_dir, env, log_path)
        if pid is not None:
            return self._follow_forked(pid, log_path, emit), lines
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab_helpers.local.jobmain", str(spec_path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(job_dir), env=env, bufsize=1, text=True, errors="replace", start_new_session=True,
        )

        def pump():
            for line in proc.stdout:
                emit(line.rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                if self.stop_check and self.stop_check():
                    self._terminate(proc.pid, proc.wait)
                    reader.join(5)
                    raise JobStopped()
                time.sleep(0.05)
        except BaseException:
            if proc.poll() is None:
                self._terminate(proc.pid, proc.wait)
            raise
        reader.join()
        return proc.returncode, lines

    def _follow_forked(self, pid, log_path, emit):
        """Tail a forked job's log file until it exits; returns its exit code."""
        code = None
        position = 0
        pending = ""
        try:
            while True:
                if code is None:
                    code = self.forks.poll(pid)
                if log_path.exists():
                    with open(log_path, "r", errors="replace") as handle:
                        handle.seek(position)
                        chunk = handle.read()
                        position = handle.tell()
                    pending += chunk
                    *complete, pending = pending.split("\n")
                    for line in complete:
                        emit(line)
                if code is not None:
                    if pending:
                        emit(pending)
                    return code
                if self.stop_check and self.stop_check():
                    self._terminate(pid, lambda timeout: self.forks.wait_exit(pid, timeout))
                    raise JobStopped()
                time.sleep(0.02)
        except BaseException:
            if code is None:
                self._terminate(pid, lambda timeout: self.forks.wait_exit(pid, timeout))
            raise

    @staticmethod
    def _terminate(pid, wait):
        """SIGTERM the job's process group (as `docker stop` does), SIGKILL after 10 s."""
        import signal

        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            try:
                if wait(timeout=grace) is not None:
                    return
            except subprocess.TimeoutExpired:
                continue

    def _failure_reason(self, job_dir, code, lines, prefix="AlgorithmError"):
        reason_file = job_dir / "failure-reason"
        failure = job_dir / "container" / "opt" / "ml" / "output" / "failure"
        for f in (failure, reason_file):
            if f.exists() and f.read_text().strip():
                text = f.read_text().strip()
                if text.startswith(("ClientError", "AlgorithmError")):
                    return text[:1024]
                return f"{prefix}: {text} (exit code {code})"[:1024]
        tail = " | ".join(l for l in lines[-3:] if l.strip())
        return f"{prefix}: the job's process exited with code {code}. Last log lines: {tail}"[:1024]

    def _job_env(self, request):
        return {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}

    def _record(self, kind, name, arn, doc):
        self.store.put(kind, name.lower(), arn, {k: v for k, v in doc.items() if v is not None})

    def _header(self, what, name, image):
        self.echo(f"── {what} {name} · image {image.rsplit('/', 1)[-1]} · running as a host process")

    # -- training ---------------------------------------------------------------------------
    def run_training(self, name, arn, request):
        now = time.time()
        image = request["AlgorithmSpecification"].get("TrainingImage", "")
        doc = dict(request)
        doc.update(TrainingJobArn=arn, TrainingJobStatus="InProgress", SecondaryStatus="Starting",
                   CreationTime=now, LastModifiedTime=now, TrainingStartTime=now,
                   SecondaryStatusTransitions=[{"Status": "Starting", "StartTime": now,
                                                "StatusMessage": "Preparing the instances for training"}])
        doc.pop("Tags", None)
        self._record("training_job", name, arn, doc)
        stream = f"{name}/algo-1-{int(now)}"
        self._header("TrainingJob", name, image)
        job_dir = self._prepare_dir(name)
        ml = job_dir / "container" / "opt" / "ml"
        try:
            try:
                _, version = images.resolve(image, "training")
            except images.UnsupportedImage as exc:
                raise JobFailed(f"ClientError: {exc}") from None
            hps = request.get("HyperParameters") or {}
            if "sagemaker_program" in hps:
                raise JobFailed(
                    "ClientError: script mode (an entry_point script in the XGBoost framework container) is not "
                    "supported by the kit's local mode; use the built-in algorithm (no entry_point)."
                )
            (ml / "input" / "config").mkdir(parents=True)
            (ml / "model").mkdir()
            (ml / "output" / "data").mkdir(parents=True)
            channels = {}
            for channel in request.get("InputDataConfig", []):
                source = channel["DataSource"].get("S3DataSource")
                if not source:
                    raise JobFailed("ClientError: only S3 data sources are supported by the kit's local mode.")
                self._stage(source["S3Uri"], ml / "input" / "data" / channel["ChannelName"], source.get("S3DataType"))
                info = {"TrainingInputMode": channel.get("InputMode", request["AlgorithmSpecification"].get("TrainingInputMode", "File")),
                        "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                        "RecordWrapperType": channel.get("RecordWrapperType", "None")}
                if channel.get("ContentType"):
                    info["ContentType"] = channel["ContentType"]
                channels[channel["ChannelName"]] = info
            (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
            (ml / "input" / "config" / "inputdataconfig.json").write_text(json.dumps(channels))
            (ml / "input" / "config" / "resourceconfig.json").write_text(json.dumps(
                {"current_host": "algo-1", "hosts": ["algo-1"], "current_group_name": "homogeneousCluster",
                 "current_instance_type": request.get("ResourceConfig", {}).get("InstanceType", "local"),
                 "network_interface_name": "eth0"}))
            self._transition(name, "Training", "Training image download completed. Training in progress.")
            code, lines = self._launch(job_dir, {"kind": "xgboost-training", "version": version,
                                                  "mapping": {"/opt/ml": str(ml)}},
                                       LOG_GROUPS["training"], stream)
            if code != 0:
                raise JobFailed(self._failure_reason(job_dir, code, lines))
            self._transition(name, "Uploading", "Uploading generated training model")
            bucket, prefix = split_s3(request["OutputDataConfig"]["S3OutputPath"].rstrip("/") + "/" + name + "/output")
            model_key = f"{prefix}/model.tar.gz"
            self._tar_to_s3(ml / "model", bucket, model_key)
            if any((ml / "output" / "data").iterdir()):
                self._tar_to_s3(ml / "output" / "data", bucket, f"{prefix}/output.tar.gz")
            metrics = _final_metrics(lines)
            end = time.time()
            self._update("training_job", name, TrainingJobStatus="Completed", SecondaryStatus="Completed",
                         ModelArtifacts={"S3ModelArtifacts": f"s3://{bucket}/{model_key}"},
                         TrainingEndTime=end, LastModifiedTime=end, FinalMetricDataList=metrics,
                         TrainingTimeInSeconds=max(1, int(round(end - now))),
                         BillableTimeInSeconds=max(1, int(round(end - now))), transition=("Completed", "Training job completed"))
        except JobStopped:
            self._update("training_job", name, TrainingJobStatus="Stopped", SecondaryStatus="Stopped",
                         TrainingEndTime=time.time(), LastModifiedTime=time.time())
            raise
        except JobFailed as exc:
            end = time.time()
            self.echo(f"   ✗ {exc}")
            self._update("training_job", name, TrainingJobStatus="Failed", SecondaryStatus="Failed",
                         FailureReason=str(exc), TrainingEndTime=end, LastModifiedTime=end,
                         transition=("Failed", str(exc)[:200]))

    def _transition(self, name, status, message):
        self._update("training_job", name, SecondaryStatus=status, transition=(status, message))

    def _update(self, kind, name, transition=None, **fields):
        def change(doc):
            doc.update({k: v for k, v in fields.items() if v is not None})
            if transition:
                now = time.time()
                history = doc.setdefault("SecondaryStatusTransitions", [])
                if history and "EndTime" not in history[-1]:
                    history[-1]["EndTime"] = now
                history.append({"Status": transition[0], "StartTime": now, "StatusMessage": transition[1]})
                if transition[0] in ("Completed", "Failed", "Stopped"):
                    history[-1]["EndTime"] = now
            return doc

        self.store.update(kind, name.lower(), change)

    def _tar_to_s3(self, folder, bucket, key):
        """Pack ``folder`` as a .tar.gz object - written whole or not at all."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=str(self.jobs_dir), prefix=".partial-", suffix=".tar.gz")
        os.close(fd)
        try:
            with tarfile.open(tmp, "w:gz") as tar:
                for path in sorted(folder.iterdir()):
                    tar.add(str(path), arcname=path.name)
            self.s3.put_file(bucket, key, Path(tmp))
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    # -- processing -------------------------------------------------------------------------
    def run_processing(self, name, arn, request):
        now = time.time()
        app = request.get("AppSpecification", {})
        image = app.get("ImageUri", "")
        doc = dict(request)
        doc.pop("Tags", None)
        doc.update(ProcessingJobArn=arn, ProcessingJobStatus="InProgress", CreationTime=now,
                   LastModifiedTime=now, ProcessingStartTime=now)
        self._record("processing_job", name, arn, doc)
        stream = f"{name}/algo-1-{int(now)}"
        self._header("ProcessingJob", name, image)
        job_dir = self._prepare_dir(name)
        root = job_dir / "container"
        try:
            try:
                images.resolve(image, "processing")
            except images.UnsupportedImage as exc:
                raise JobFailed(f"ClientError: {exc}") from None
            command = list(app.get("ContainerEntrypoint") or [])
            if not command or Path(command[0]).name not in ("python", "python3") and not re.fullmatch(r"python3\.\d+", Path(command[0]).name):
                raise JobFailed(
                    f"ClientError: the entry point {command or '(none)'} is not a Python command. The kit's local "
                    "mode runs Python scripts only (e.g. SKLearnProcessor, or ScriptProcessor with command=['python3'])."
                )
            options = [a for a in command[1:] if a.startswith("-")]
            rest = [a for a in command[1:] if not a.startswith("-")]
            if not rest:
                raise JobFailed(f"ClientError: the entry point {command} names no script to run.")
            script, argv = rest[0], rest[1:] + list(app.get("ContainerArguments") or [])
            mapping = {"/opt/ml": str(root / "opt" / "ml")}
            for item in request.get("ProcessingInputs", []):
                s3_input = item.get("S3Input")
                if not s3_input:
                    raise JobFailed(f"ClientError: input {item.get('InputName')} is not an S3 input; local mode supports S3 inputs only.")
                local = s3_input["LocalPath"]
                if not _under_opt_ml(local):
                    mapping.setdefault(local, str(root / local.lstrip("/")))
                self._stage(s3_input["S3Uri"], root / local.lstrip("/"), s3_input.get("S3DataType"))
            outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs", [])
            for item in outputs:
                local = item["S3Output"]["LocalPath"]
                if not _under_opt_ml(local):
                    mapping.setdefault(local, str(root / local.lstrip("/")))
                (root / local.lstrip("/")).mkdir(parents=True, exist_ok=True)
            (root / "opt" / "ml" / "config").mkdir(parents=True, exist_ok=True)
            (root / "opt" / "ml" / "config" / "processingjobconfig.json").write_text(json.dumps(request, default=str))
            (root / "opt" / "ml" / "config" / "resourceconfig.json").write_text(json.dumps(
                {"current_host": "algo-1", "hosts": ["algo-1"]}))
            spec = {"kind": "script", "mapping": mapping, "script": script, "argv": argv,
                    "python_options": options, "env": self._job_env(request), "cwd": "/"}
            code, lines = self._launch(job_dir, spec, LOG_GROUPS["processing"], stream)
            if code != 0:
                raise JobFailed(self._failure_reason(job_dir, code, lines))
            for item in outputs:
                self._upload_dir(root / item["S3Output"]["LocalPath"].lstrip("/"), item["S3Output"]["S3Uri"])
            end = time.time()
            self._update("processing_job", name, ProcessingJobStatus="Completed", ProcessingEndTime=end,
                         LastModifiedTime=end, ExitMessage="")
        except JobStopped:
            self._update("processing_job", name, ProcessingJobStatus="Stopped", ProcessingEndTime=time.time())
            raise
        except JobFailed as exc:
            end = time.time()
            self.echo(f"   ✗ {exc}")
            self._update("processing_job", name, ProcessingJobStatus="Failed", FailureReason=str(exc),
                         ExitMessage=str(exc)[:1024], ProcessingEndTime=end, LastModifiedTime=end)

    # -- batch transform --------------------------------------------------------------------
    def run_transform(self, name, arn, request):
        now = time.time()
        doc = dict(request)
        doc.pop("Tags", None)
        doc.update(TransformJobArn=arn, TransformJobStatus="InProgress", CreationTime=now,
                   LastModifiedTime=now, TransformStartTime=now)
        self._record("transform_job", name, arn, doc)
        model = self.store.get("model", request["ModelName"].lower())
        container = model.get("PrimaryContainer") or model["Containers"][0]
        image = container.get("Image", "")
        self._header("TransformJob", name, image)
        stream = f"{name}/i-local-{int(now)}"
        job_dir = self._prepare_dir(name)
        ml = job_dir / "container" / "opt" / "ml"
        try:
            try:
                images.resolve(image, "inference")
            except images.UnsupportedImage as exc:
                raise JobFailed(f"ClientError: {exc}") from None
            transform_input = request["TransformInput"]
            if transform_input.get("SplitType", "None") not in ("Line", "None"):
                raise JobFailed(f"ClientError: SplitType {transform_input['SplitType']} is not supported locally; use Line.")
            processing = request.get("DataProcessing") or {}
            if processing.get("JoinSource", "None") != "None" or processing.get("InputFilter", "$") != "$" \
                    or processing.get("OutputFilter", "$") != "$":
                raise JobFailed("ClientError: DataProcessing (input/output filters, JoinSource) is not supported locally.")
            model_uri = container.get("ModelDataUrl")
            (ml / "model").mkdir(parents=True)
            if model_uri:
                bucket, key = split_s3(model_uri)
                path = self.s3.path_for(bucket, key)
                if not path.is_file():
                    raise JobFailed(f"ClientError: the model artifact {model_uri} does not exist (local file {path}).")
                with tarfile.open(path) as tar:
                    tar.extractall(ml / "model")
            source_uri = transform_input["DataSource"]["S3DataSource"]["S3Uri"]
            in_dir = ml / "transform" / "input"
            out_dir = ml / "transform" / "output"
            self._stage(source_uri, in_dir, transform_input["DataSource"]["S3DataSource"].get("S3DataType"))
            files = sorted(p.relative_to(in_dir).as_posix() for p in in_dir.rglob("*") if p.is_file())
            spec = {"kind": "xgboost-transform", "mapping": {"/opt/ml": str(ml)}, "model_dir": "/opt/ml/model",
                    "files": [["/opt/ml/transform/input/" + f, "/opt/ml/transform/output/" + f + ".out"] for f in files],
                    "content_type": transform_input.get("ContentType", "text/csv"),
                    "accept": request["TransformOutput"].get("Accept") or "text/csv",
                    "env": {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}}
            out_dir.mkdir(parents=True)
            code, lines = self._launch(job_dir, spec, LOG_GROUPS["transform"], stream)
            if code != 0:
                raise JobFailed(self._failure_reason(job_dir, code, lines))
            self._upload_dir(out_dir, request["TransformOutput"]["S3OutputPath"])
            end = time.time()
            self._update("transform_job", name, TransformJobStatus="Completed", TransformEndTime=end, LastModifiedTime=end)
        except JobStopped:
            self._update("transform_job", name, TransformJobStatus="Stopped", TransformEndTime=time.time())
            raise
        except JobFailed as exc:
            end = time.time()
            self.echo(f"   ✗ {exc}")
            self._update("transform_job", name, TransformJobStatus="Failed", FailureReason=str(exc),
                         TransformEndTime=end, LastModifiedTime=end)


class JobStopped(Exception):
    """The job was stopped (StopPipelineExecution) while it ran."""


def _final_metrics(lines):
    """FinalMetricDataList from the last evaluation log line, e.g. ``[49]#011train-rmse:1.2#011validation-rmse:2.1``."""
    last = None
    for line in lines:
        match = _METRIC_LINE.match(line.strip())
        if match:
            last = match.group(2)
    if not last:
        return []
    now = time.time()
    metrics = []
    for part in filter(None, last.split("#011")):
        metric, _, value = part.partition(":")
        data, _, name = metric.partition("-")
        metrics.append({"MetricName": f"{data}:{name}", "Value": float(value), "Timestamp": now})
    return metrics
