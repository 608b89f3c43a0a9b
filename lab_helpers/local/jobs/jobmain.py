"""Entry point of a job process: ``python -m lab_helpers.local.jobs.jobmain <spec.json>``.

The runtime writes a spec (what to run, and which container paths map to which host
folders), starts this module in a fresh interpreter, and reads its output as the job's log.
Here we make ``/opt/ml/...`` this job's own folder - by confining the process in its own
namespaces where the system allows it (:mod:`.sandbox`: the real ``/opt/ml`` is then the job's
folder), else with the in-process path overlay - route its AWS calls to the kit
(:mod:`.jobsite.sitecustomize`), and then run what the image would run: a processing script,
the built-in XGBoost algorithm's training, or its batch-transform serving, (script mode) the
learner's training or inference script as the framework images' toolkits run them, or a ``@step``
function as the SDK's remote-function runner runs it on the base Python image.

Kept free of heavy imports (no SageMaker SDK): every job pays for what it imports.
"""

import json
import os
import sys
import traceback


_REASON_FILE = None  # set by main(): <job dir>/failure-reason, outside the container paths
_REASON_FD = None    # that file, opened before the job is confined (a confined job cannot see it)


def _write_reason(text):
    """Leave the failure reason beside the job's container folder, where the script can't clobber it."""
    if _REASON_FD is not None:
        try:
            os.ftruncate(_REASON_FD, 0)
            os.pwrite(_REASON_FD, text.encode("utf-8", "replace"), 0)
        except OSError:
            pass
        return
    if _REASON_FILE is None:
        return
    try:
        with open(_REASON_FILE, "w") as handle:
            handle.write(text)
    except OSError:
        pass


def run_script(spec):
    """Run a processing job's Python script as the container's ``python3 script args`` would."""
    from . import overlay

    script = spec["script"]
    host_script = overlay.translate(script)
    if not os.path.isfile(host_script):
        print(f"python3: can't open file '{script}': [Errno 2] No such file or directory", file=sys.stderr)
        _write_reason(f"ClientError: the job's entry point script {script} was not found in the container.")
        return 2
    with open(host_script, "rb") as handle:
        source = handle.read()
    os.chdir(spec.get("cwd", "/"))
    sys.argv = [script] + list(spec.get("argv", []))
    sys.path.insert(0, os.path.dirname(script))
    module = {"__name__": "__main__", "__file__": script, "__builtins__": __builtins__}
    try:
        code = compile(source, script, "exec")
        exec(code, module)  # noqa: S102 - running the job's script is the point
    except SystemExit as exc:
        status = exc.code
        if status is None or status == 0:
            return 0
        if isinstance(status, int):
            _write_reason(f"the script {script} exited with status {status}")
            return status
        print(status, file=sys.stderr)
        _write_reason(f"{status}")
        return 1
    except BaseException as exc:  # the script's own error: show it as the container would
        traceback.print_exc()
        summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        hint = _hint(exc)
        if hint:
            print(hint, file=sys.stderr)
        _write_reason(f"{summary}" + (f" ({hint})" if hint else ""))
        return 1
    return 0


def _hint(exc):
    """A line that explains a learner's error the traceback alone does not (or None)."""
    import pickle

    if isinstance(exc, pickle.UnpicklingError):
        return ("Hint: the built-in XGBoost algorithm pickles its model only in images 1.0-1 to 1.2-2; from 1.3-1 on "
                "it writes xgboost-model with Booster.save_model. Load it with xgboost.Booster(model_file=path), "
                "or train with the image version your script expects.")
    return None


def run_xgboost_training(spec):
    """Train with the built-in XGBoost algorithm of the spec's image version."""
    from ..images import xgboost as xgboost_algorithm

    return xgboost_algorithm.run_training("/opt/ml", spec.get("version"))


def run_xgboost_transform(spec):
    """Serve each input file through the XGBoost model, as batch transform does."""
    from ..images import xgboost as xgboost_algorithm

    try:
        total = 0
        for source, target in spec["files"]:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            n = xgboost_algorithm.transform_file(
                spec["model_dir"], source, target, spec.get("content_type", "text/csv"),
                spec.get("accept", "text/csv"),
            )
            print(f"transformed {source} -> {target}: {n} records")
            total += n
        print(f"batch transform complete: {len(spec['files'])} file(s), {total} records")
    except Exception as exc:
        traceback.print_exc()
        _write_reason("ClientError: " + "".join(traceback.format_exception_only(type(exc), exc)).strip())
        return 1
    return 0


def _script_mode(run, spec):
    """Run a script-mode job's in-job side; its ScriptModeError becomes the failure reason."""
    from ..images import script_mode

    try:
        return run(spec)
    except script_mode.ScriptModeError as exc:
        _write_reason(str(exc))
        return exc.exit_code or 1


def run_script_training(spec):
    """Run the learner's training script as the framework image's training toolkit does (script mode)."""
    from ..images import script_mode

    return _script_mode(script_mode.run_training, spec)


def run_script_transform(spec):
    """Serve each input through the learner's inference script as the image's inference toolkit does."""
    from ..images import serving

    return _script_mode(serving.run_transform, spec)


def run_lambda(spec):
    """Run one invocation of a Lambda function's Python handler, as Lambda's Python runtime does."""
    from ..images import lambda_python

    return lambda_python.run(spec)


def run_remote_function(spec):
    """Run a @step / @remote function as the SDK's job_driver.sh does on the base Python image."""
    from ..images import remote_function

    try:
        return remote_function.run(spec)
    except remote_function.RemoteFunctionJobError as exc:
        _write_reason(str(exc))
        return 1


KINDS = {
    "script": run_script,
    "xgboost-training": run_xgboost_training,
    "xgboost-transform": run_xgboost_transform,
    "script-training": run_script_training,
    "script-transform": run_script_transform,
    "lambda": run_lambda,
    "remote-function": run_remote_function,
}


def _confine(spec):
    """Enter the job's namespaces if the spec asks for it; returns the mapping left for the overlay."""
    global _REASON_FD
    if not spec.get("sandbox"):
        return spec["mapping"], False
    from . import sandbox

    _REASON_FD = os.open(_REASON_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        leftover, notes = sandbox.enter(spec["sandbox"], spec["mapping"], on_error=_write_reason)
    except sandbox.SandboxError as exc:
        print(f"[sandbox] the job is not confined ({exc.strerror or exc}): it runs with the path overlay, "
              "not isolated from other jobs or your files, with the network reachable", file=sys.stderr)
        return spec["mapping"], False
    for note in notes:
        print(f"[sandbox] {note}", file=sys.stderr)
    return leftover, True


def _as_seen_inside(spec):
    """Host paths of a script-mode spec as the confined job sees them.

    Inside the namespaces ``LAB_HOME`` is hidden: the job's container folders are at their container
    paths (``/opt/ml/...``), its other folders under its private ``/tmp``; the kit's own files are
    where they are on the host (read-only).
    """
    job_dir = os.path.dirname(_REASON_FILE)
    reverse = sorted(((host, virtual) for virtual, host in spec["mapping"].items()), key=lambda hv: -len(hv[0]))
    seen = {}
    for key, path in (spec.get("host") or {}).items():
        if isinstance(path, str):
            for host, virtual in reverse:
                if path == host or path.startswith(host + os.sep):
                    path = virtual + path[len(host):]
                    break
            else:
                if path.startswith(job_dir + os.sep):
                    path = "/tmp/" + os.path.relpath(path, job_dir)
        seen[key] = path
    return seen


def main(argv=None):
    """Read the spec, confine the job (or install the path overlay), run what the image runs; returns the exit code."""
    global _REASON_FILE
    argv = sys.argv[1:] if argv is None else argv
    spec_path = os.path.abspath(argv[0])
    _REASON_FILE = os.path.join(os.path.dirname(spec_path), "failure-reason")
    with open(spec_path) as handle:
        spec = json.load(handle)
    from . import overlay
    from .jobsite import sitecustomize as aws_calls

    aws_calls.add_kit_site()  # on an image's environment: what the image does not list comes from the kit
    aws_calls.install()
    os.environ.update(spec.get("env", {}))
    mapping, confined = _confine(spec)
    if confined and spec.get("host"):
        spec["host"] = _as_seen_inside(spec)
    if mapping:
        overlay.install(mapping)
    return KINDS[spec["kind"]](spec)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)
