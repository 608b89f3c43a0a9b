"""What each kind of job's container sees, and what SageMaker keeps of it afterwards.

For each job kind, a container object lays out the job's folder as the real container would see
it (``/opt/ml/input/config/*.json``, channels, processing inputs and outputs, the model for batch
transform), says what the job process runs (the spec :mod:`.jobmain` reads), and after a
successful run uploads what SageMaker uploads and returns the fields the Describe call then shows.

Training and batch transform on the framework images run in one of two modes, as the images
choose: *script mode* when the job names the learner's code (the ``sagemaker_program``
hyperparameter, or ``SAGEMAKER_PROGRAM`` in the model's environment) - its ``sourcedir.tar.gz`` is
unpacked into ``/opt/ml/code`` here, before the job starts (the runtime has the local S3), and
:mod:`..images.script_mode` / :mod:`..images.serving` run it - else the image's built-in algorithm
(XGBoost only; the scikit-learn image has none).  A training job on SageMaker's base Python image is a
``@step``/``@remote`` function: :mod:`..images.remote_function` runs the SDK's remote-function runner.
"""

import json
import re
import tarfile
import time
from pathlib import Path

from ...shapes import JOB_KINDS
from .. import images
from ..images import remote_function
from .staging import JobFailed, output_files, safe_extract, split

#: sitecustomize for Python processes a script-mode job starts (they see the job's /opt/ml too)
CHILD_SITE = str(Path(__file__).resolve().parent / "childsite")


def _under_opt_ml(path):
    """True for /opt/ml itself and paths below it (not for look-alikes such as /opt/ml-extra)."""
    return path == "/opt/ml" or path.startswith("/opt/ml/")


def _resolve_image(image, purpose):
    try:
        return images.resolve(image, purpose)
    except images.UnsupportedImage as exc:
        raise JobFailed(f"ClientError: {exc}") from None


def _run_mode(repo, purpose, program):
    try:
        return images.run_mode(repo, purpose, program)
    except images.UnsupportedImage as exc:
        raise JobFailed(f"ClientError: {exc}") from None


def hyperparameter(hps, key):
    """A hyperparameter as the framework reads it: JSON-decoded when it is JSON (the SDK encodes them so)."""
    value = hps.get(key)
    try:
        value = json.loads(value)
    except (TypeError, ValueError):
        pass
    return value if value is None else str(value)


def _container_path(ml, path):
    """The host path of a container path at or below /opt/ml; JobFailed for any other."""
    if not _under_opt_ml(path):
        raise JobFailed(f"ClientError: the code location {path} is not below /opt/ml, where the kit's local mode "
                        "can find it.")
    return ml / path[len("/opt/ml"):].strip("/") if path != "/opt/ml" else ml


#: SageMaker's ChannelName pattern (CreateTrainingJob); '.' and '..' match it but name no folder of their own
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9.\-_]{1,64}")


def channel_folder(ml, name):
    """/opt/ml/input/data/<name> on the host; JobFailed for a name that is not one folder's name."""
    if not isinstance(name, str) or not _CHANNEL_NAME.fullmatch(name) or name in (".", ".."):
        raise JobFailed(f"ClientError: the channel name {name!r} is refused: a ChannelName must match "
                        "[A-Za-z0-9.-_]{1,64} and be a folder name of its own (not '.' or '..').")
    return ml / "input" / "data" / name


def local_folder(root, local, what):
    """The host folder of a processing input's or output's LocalPath; JobFailed for a path that could leave ``root``."""
    parts = local.split("/") if isinstance(local, str) else None
    if not parts or parts[0] != "" or local == "/" or any(p in (".", "..") for p in parts[1:]) \
            or "" in parts[1:-1] or "\0" in local or len(local) > 256:
        raise JobFailed(f"ClientError: the {what} LocalPath {local!r} is refused: it must be an absolute container "
                        "path (at most 256 characters) without '.' or '..' segments, below '/', e.g. "
                        "/opt/ml/processing/input.")
    return root / local.strip("/")


def stage_code(staging, source, ml):
    """Unpack the code an s3:// or /opt/ml/... location names into /opt/ml/code."""
    if source.startswith("file://"):  # a SageMaker job reads its code from S3 only; a host path is not for a job
        raise JobFailed(f"ClientError: the code location '{source}' is a path on this machine. A SageMaker job reads "
                        "its code from S3: give an s3:// URI (the SDK uploads source_dir for you with a PipelineSession "
                        "or the kit's local session).")
    if source.startswith("/"):
        source = str(_container_path(ml, source))
    elif not source.startswith("s3://"):
        raise JobFailed(f"ClientError: the code location '{source}' is neither an s3:// URI nor a path.")
    staging.unpack_code(source, ml / "code")


def _script_host(job_dir, code_host, repo):
    """Host paths the in-job side of script mode needs for the processes it starts."""
    return {"code": str(code_host), "private": str(job_dir / "private"), "child_site": CHILD_SITE,
            "image_packages": images.IMAGE_PACKAGES.get(repo)}


def regex_metrics(definitions, lines):
    """FinalMetricDataList from the request's MetricDefinitions: each metric's last match in the log."""
    now = time.time()
    metrics = []
    for definition in definitions or []:
        try:
            pattern = re.compile(definition["Regex"])
        except (re.error, KeyError, TypeError):
            continue
        value = None
        for line in lines:
            match = pattern.search(line)
            if match:
                try:
                    value = float(match.group(1) if match.groups() else match.group(0))
                except (ValueError, IndexError):
                    continue
        if value is not None:
            metrics.append({"MetricName": definition["Name"], "Value": value, "Timestamp": now})
    return metrics


_METRIC_LINE = re.compile(r"^\[(\d+)\]((?:#011[\w-]+:[-+0-9.eE]+)+)")


def final_metrics(lines):
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


class Training:
    """CreateTrainingJob: the built-in XGBoost algorithm, or the learner's script (script mode), on the channels."""

    def __init__(self, runtime):
        self.runtime = runtime

    def image(self, request):
        """The image URI the job runs."""
        return request["AlgorithmSpecification"].get("TrainingImage", "")

    def initial_fields(self, now):
        """Fields of a training job that has just started."""
        return {"SecondaryStatus": "Starting", "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}]}

    def prepare(self, name, request, job_dir):
        """Lay out /opt/ml (config, channels) and return the job process's spec."""
        ml = job_dir / "container" / "opt" / "ml"
        repo, version = _resolve_image(self.image(request), "training")
        hps = request.get("HyperParameters") or {}
        mode = _run_mode(repo, "training", hyperparameter(hps, "sagemaker_program"))
        (ml / "input" / "config").mkdir(parents=True)
        (ml / "model").mkdir()
        (ml / "output" / "data").mkdir(parents=True)
        channels = {}
        default_mode = request["AlgorithmSpecification"].get("TrainingInputMode", "File")
        for channel in request.get("InputDataConfig", []):
            source = channel["DataSource"].get("S3DataSource")
            if not source:
                raise JobFailed("ClientError: only S3 data sources are supported by the kit's local mode.")
            self.runtime.staging.download(source["S3Uri"], channel_folder(ml, channel.get("ChannelName")),
                                          source.get("S3DataType"))
            info = {"TrainingInputMode": channel.get("InputMode", default_mode),
                    "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                    "RecordWrapperType": channel.get("RecordWrapperType", "None")}
            if channel.get("ContentType"):
                info["ContentType"] = channel["ContentType"]
            channels[channel["ChannelName"]] = info
        (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
        (ml / "input" / "config" / "inputdataconfig.json").write_text(json.dumps(channels))
        instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
        (ml / "input" / "config" / "resourceconfig.json").write_text(json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "current_group_name": "homogeneousCluster",
             "current_instance_type": instance_type,
             "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": instance_type,
                                  "hosts": ["algo-1"]}],
             "network_interface_name": "eth0"}))
        if mode == "script":
            spec = self._script_spec(name, request, hps, job_dir, ml, repo, version)
        elif mode == "remote-function":
            spec = self._remote_function_spec(name, request, job_dir, ml)
        else:
            env = {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
            env.update(TRAINING_JOB_NAME=name, TRAINING_JOB_ARN=self.runtime.arn(JOB_KINDS["TrainingJob"], name))
            spec = {"kind": "xgboost-training", "version": version, "mapping": {"/opt/ml": str(ml)}, "env": env}
        self.runtime.transition(name, "Training", "Training image download completed. Training in progress.")
        return spec

    def _script_spec(self, name, request, hps, job_dir, ml, repo, version):
        """Script mode: unpack sourcedir.tar.gz into /opt/ml/code; the spec of the toolkit's run."""
        source = hyperparameter(hps, "sagemaker_submit_directory")
        if source:
            stage_code(self.runtime.staging, source, ml)
        else:
            (ml / "code").mkdir(exist_ok=True)
        env = {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
        env.update({"TRAINING_JOB_NAME": name, "TRAINING_JOB_ARN": self.runtime.arn(
            JOB_KINDS["TrainingJob"], name), "AWS_REGION": self.runtime.account.region})
        return {"kind": "script-training", "image": repo, "version": version, "mapping": {"/opt/ml": str(ml)},
                "host": _script_host(job_dir, ml / "code", repo), "env": env}

    def _remote_function_spec(self, name, request, job_dir, ml):
        """The base Python image: the SDK's remote-function runner (:mod:`..images.remote_function`)."""
        algorithm = request["AlgorithmSpecification"]
        refused = remote_function.check_entrypoint(algorithm.get("ContainerEntrypoint"))
        if refused:
            raise JobFailed(refused)
        env = {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
        env.update({"TRAINING_JOB_NAME": name, "TRAINING_JOB_ARN": self.runtime.arn(
            JOB_KINDS["TrainingJob"], name), "AWS_REGION": self.runtime.account.region})
        host = _script_host(job_dir, job_dir / "private" / "work", None)
        host["work"] = host["code"]
        return {"kind": "remote-function", "mapping": {"/opt/ml": str(ml)}, "host": host, "env": env,
                "argv": [str(a) for a in algorithm.get("ContainerArguments") or []]}

    def finish(self, name, request, job_dir, lines, started):
        """Upload model.tar.gz (and output.tar.gz); the Completed job's fields."""
        ml = job_dir / "container" / "opt" / "ml"
        self.runtime.transition(name, "Uploading", "Uploading generated training model")
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/") + "/" + name + "/output"
        bucket, prefix = split(output)
        model_key = f"{prefix}/model.tar.gz"
        self.runtime.staging.upload_tar(ml / "model", bucket, model_key)
        if any((ml / "output" / "data").iterdir()):
            self.runtime.staging.upload_tar(ml / "output" / "data", bucket, f"{prefix}/output.tar.gz")
        seconds = max(1, int(round(time.time() - started)))
        hps = request.get("HyperParameters") or {}
        if hyperparameter(hps, "sagemaker_program"):
            metrics = regex_metrics(request["AlgorithmSpecification"].get("MetricDefinitions"), lines)
        else:
            metrics = final_metrics(lines)
        return {"SecondaryStatus": "Completed", "ModelArtifacts": {"S3ModelArtifacts": f"s3://{bucket}/{model_key}"},
                "FinalMetricDataList": metrics, "TrainingTimeInSeconds": seconds,
                "BillableTimeInSeconds": seconds, "transition": ("Completed", "Training job completed")}

    def ended_fields(self, status, reason=None):
        """SecondaryStatus follows the status; a failure is also a status transition."""
        fields = {"SecondaryStatus": status}
        if reason is not None:
            fields["transition"] = (status, reason[:200])
        return fields


class Processing:
    """CreateProcessingJob: a Python script with the request's inputs and outputs."""

    def __init__(self, runtime):
        self.runtime = runtime

    def image(self, request):
        """The image URI the job runs."""
        return (request.get("AppSpecification") or {}).get("ImageUri", "")

    def initial_fields(self, now):
        """Nothing beyond the common fields."""
        return {}

    def prepare(self, name, request, job_dir):
        """Stage the inputs, make the output folders, and return the script's spec."""
        app = request.get("AppSpecification", {})
        root = job_dir / "container"
        _resolve_image(self.image(request), "processing")
        command = list(app.get("ContainerEntrypoint") or [])
        program = Path(command[0]).name if command else ""
        if program not in ("python", "python3") and not re.fullmatch(r"python3\.\d+", program):
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
                raise JobFailed(f"ClientError: input {item.get('InputName')} is not an S3 input; "
                                "local mode supports S3 inputs only.")
            local = s3_input["LocalPath"]
            folder = local_folder(root, local, f"input {item.get('InputName')!r}")
            if not _under_opt_ml(local):
                mapping.setdefault(local, str(folder))
            self.runtime.staging.download(s3_input["S3Uri"], folder, s3_input.get("S3DataType"))
        for item in self._outputs(request):
            local = item["S3Output"]["LocalPath"]
            folder = local_folder(root, local, f"output {item.get('OutputName')!r}")
            if not _under_opt_ml(local):
                mapping.setdefault(local, str(folder))
            folder.mkdir(parents=True, exist_ok=True)
        config = root / "opt" / "ml" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "processingjobconfig.json").write_text(json.dumps(request, default=str))
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
        env = {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
        return {"kind": "script", "mapping": mapping, "script": script, "argv": argv,
                "python_options": options, "env": env, "cwd": "/"}

    @staticmethod
    def _outputs(request):
        return (request.get("ProcessingOutputConfig") or {}).get("Outputs", [])

    def finish(self, name, request, job_dir, lines, started):
        """Upload each output folder to its S3 URI; the Completed job's fields."""
        root = job_dir / "container"
        for item in self._outputs(request):  # every output is checked before any is uploaded
            output_files(local_folder(root, item["S3Output"]["LocalPath"], f"output {item.get('OutputName')!r}"))
        for item in self._outputs(request):
            folder = local_folder(root, item["S3Output"]["LocalPath"], f"output {item.get('OutputName')!r}")
            self.runtime.staging.upload_dir(folder, item["S3Output"]["S3Uri"])
        return {"ExitMessage": ""}

    def ended_fields(self, status, reason=None):
        """A failed processing job's ExitMessage is its reason."""
        return {"ExitMessage": reason[:1024]} if reason is not None else {}


class Transform:
    """CreateTransformJob: the model's serving container (algorithm or script mode) over the inputs, one output each."""

    def __init__(self, runtime):
        self.runtime = runtime

    def _container(self, request):
        model = self.runtime.store.get("model", request["ModelName"].lower())
        return model.get("PrimaryContainer") or model["Containers"][0]

    def image(self, request):
        """The image URI of the model's container."""
        return self._container(request).get("Image", "")

    def initial_fields(self, now):
        """Nothing beyond the common fields."""
        return {}

    def prepare(self, name, request, job_dir):
        """Unpack the model, stage the input, and return the serving spec."""
        ml = job_dir / "container" / "opt" / "ml"
        container = self._container(request)
        repo, version = _resolve_image(container.get("Image", ""), "inference")
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
            bucket, key = split(model_uri)
            try:
                path = self.runtime.s3.object_path(bucket, key)
            except ValueError as exc:
                raise JobFailed(f"ClientError: {exc}") from None
            if not path.is_file():
                raise JobFailed(f"ClientError: the model artifact {model_uri} does not exist (local file {path}).")
            try:
                with tarfile.open(path) as tar:
                    safe_extract(tar, ml / "model", f"the model artifact {model_uri}")
            except tarfile.TarError as exc:
                raise JobFailed(f"ClientError: the model artifact {model_uri} is not a tar.gz archive: {exc}") from None
        source = transform_input["DataSource"]["S3DataSource"]
        in_dir = ml / "transform" / "input"
        self.runtime.staging.download(source["S3Uri"], in_dir, source.get("S3DataType"))
        files = sorted(p.relative_to(in_dir).as_posix() for p in in_dir.rglob("*") if p.is_file())
        (ml / "transform" / "output").mkdir(parents=True)
        env = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
        pairs = [["/opt/ml/transform/input/" + f, "/opt/ml/transform/output/" + f + ".out"] for f in files]
        program = env.get("SAGEMAKER_PROGRAM", "")
        if not program and not images.SUPPORTED[repo]["algorithm"] and (ml / "model" / "code" / "inference.py").is_file():
            program = "inference.py"  # the inference toolkit's default module
        if _run_mode(repo, "inference", program) == "script":
            return self._script_spec(request, env, job_dir, ml, repo, version, program, pairs)
        return {"kind": "xgboost-transform", "mapping": {"/opt/ml": str(ml)}, "model_dir": "/opt/ml/model",
                "files": pairs,
                "content_type": transform_input.get("ContentType", "text/csv"),
                "accept": request["TransformOutput"].get("Accept") or "text/csv",
                "env": env}

    def _script_spec(self, request, env, job_dir, ml, repo, version, program, pairs):
        """Script mode: find (or unpack) the model's code; the spec of the inference toolkit's run."""
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if submit.startswith(("s3://", "file://")):
            stage_code(self.runtime.staging, submit, ml)
            code_dir = "/opt/ml/code"
        elif submit:
            code_dir = submit.rstrip("/") or "/"
            _container_path(ml, code_dir)
        else:
            code_dir = "/opt/ml/model/code"
        transform_input = request["TransformInput"]
        strategy = request.get("BatchStrategy") or "MultiRecord"
        max_payload = request.get("MaxPayloadInMB", 6)
        env.update({str(k): str(v) for k, v in (request.get("Environment") or {}).items()})
        env.update({"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(max_payload),
                    "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if strategy == "SingleRecord" else "MULTI_RECORD",
                    "SM_MODEL_DIR": "/opt/ml/model", "AWS_REGION": self.runtime.account.region})
        return {"kind": "script-transform", "image": repo, "version": version, "mapping": {"/opt/ml": str(ml)},
                "model_dir": "/opt/ml/model", "code_dir": code_dir, "program": program, "files": pairs,
                "content_type": transform_input.get("ContentType"),
                "accept": request["TransformOutput"].get("Accept"),
                "split_type": transform_input.get("SplitType", "None"), "batch_strategy": strategy,
                "max_payload_mb": max_payload, "assemble_with": request["TransformOutput"].get("AssembleWith", "None"),
                "host": _script_host(job_dir, _container_path(ml, code_dir), repo), "env": env}

    def finish(self, name, request, job_dir, lines, started):
        """Upload the .out files to the output path; nothing more to record."""
        out_dir = job_dir / "container" / "opt" / "ml" / "transform" / "output"
        self.runtime.staging.upload_dir(out_dir, request["TransformOutput"]["S3OutputPath"])
        return {}

    def ended_fields(self, status, reason=None):
        """Nothing beyond the common fields."""
        return {}


#: job kind key (shapes.JOB_KINDS) -> its container
CONTAINERS = {"TrainingJob": Training, "ProcessingJob": Processing, "TransformJob": Transform}
