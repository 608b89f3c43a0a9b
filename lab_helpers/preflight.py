"""Pre-flight check: is this environment ready for the lesson, in local or remote mode?

    python -m lab_helpers check [--mode local|remote]

or, in notebook 00::

    from lab_helpers import preflight
    checks = preflight.run_checks()          # mode from LAB_MODE / Studio, as lab_helpers.session()
    print(preflight.format_checks(checks))

One line per check: ``✓`` passed, ``✗`` failed (with the fix on the next line), ``?`` could not be
checked (e.g. the caller may not call ``iam:SimulatePrincipalPolicy``) - a ``?`` is not a failure -
and ``!`` something to know that is not a failure (e.g. jobs are not isolated on this system).
The command exits 0 when no check failed, else 1.
"""

import importlib
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass

from .config import KIT_KERNEL, KIT_KERNEL_V3

OK, FAIL, UNKNOWN, NOTE = "ok", "fail", "unknown", "note"
SYMBOLS = {OK: "✓", FAIL: "✗", UNKNOWN: "?", NOTE: "!"}
#: The fix for a wrong environment: the kit's kernel, never a change to the environment that is running
#: (in SageMaker Studio that is the image's own, with SDK v3, which JupyterLab itself runs in).
SDK_FIX = (f"this is not the kit's environment: switch the notebook's kernel to '{KIT_KERNEL}' (Kernel → Change "
           "Kernel…), or run the check with the kit's Python (`.venv/bin/python -m lab_helpers check`); if that "
           "kernel isn't listed, run `python3 kit.py setup` in a terminal in the kit's folder (it builds the kit's "
           "own .venv and changes nothing else)")
PACKAGE_FIX = ("run `python3 kit.py setup` in a terminal in the kit's folder (it installs the kit's packages into its "
               f"own .venv), then use the kernel '{KIT_KERNEL}'")
#: Under SDK v3: which track's notebooks this environment runs, and the kernel of the other
TRACK_FIX = (f"the v3 track's notebooks (notebooks/v3/) run on the kernel '{KIT_KERNEL_V3}' (`python3 kit.py setup "
             f"--sdk 3`); for the v2 track's (notebooks/, the outline's code), use the kernel '{KIT_KERNEL}' "
             "(`python3 kit.py setup`)")
MIN_PYTHON = (3, 10)

#: What the lesson does in remote mode, as IAM actions the execution role must be allowed.
SAGEMAKER_ACTIONS = (
    "sagemaker:CreatePipeline",
    "sagemaker:StartPipelineExecution",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateModelPackage",
)
S3_ACTIONS = ("s3:PutObject", "s3:GetObject")
PERMISSION_FIX = ("attach AmazonSageMakerFullAccess to the execution role (IAM console > Roles), "
                  "or a policy allowing {action}")


@dataclass
class Check:
    name: str
    status: str          # OK, FAIL, UNKNOWN or NOTE
    detail: str = ""
    fix: str = ""

    @property
    def ok(self):
        return self.status != FAIL

    def line(self):
        text = f"{SYMBOLS[self.status]} {self.name}"
        if self.detail:
            text += f": {self.detail}"
        if self.status == FAIL and self.fix:
            text += f"\n    fix: {self.fix}"
        return text


def format_checks(checks):
    """The checks as text, one line each (plus a fix line under each ✗), and a result line."""
    lines = [c.line() for c in checks]
    failed = [c for c in checks if c.status == FAIL]
    unknown = [c for c in checks if c.status == UNKNOWN]
    if failed:
        lines.append(f"Result: {len(failed)} check(s) failed - fix the ✗ lines above and run the check again.")
    else:
        tail = f" ({len(unknown)} could not be checked: ?)" if unknown else ""
        lines.append(f"Result: ready{tail}.")
    return "\n".join(lines)


def exit_code(checks):
    return 0 if all(c.ok for c in checks) else 1


# --------------------------------------------------------------------------------------
# checks shared by both modes
# --------------------------------------------------------------------------------------


def check_python(version_info=None):
    v = version_info or sys.version_info
    text = f"{v[0]}.{v[1]}.{v[2]}"
    if tuple(v[:2]) >= MIN_PYTHON:
        return Check("Python", OK, text)
    return Check("Python", FAIL, f"{text} (the kit needs ≥ {MIN_PYTHON[0]}.{MIN_PYTHON[1]})",
                 "use Python 3.11 (e.g. `python3.11 kit.py setup`, or the kit's environment.yml image)")


#: The SDK v3 packages whose classes the kit's v3 builders and session use (see :mod:`lab_helpers.pipelines_v3`).
V3_MODULES = ("sagemaker.core.workflow", "sagemaker.mlops.workflow", "sagemaker.train", "sagemaker.serve")


def _importable(name):
    """True when ``name`` can be imported here (its package is installed)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_sdk():
    """SDK 2.x with ``sagemaker.workflow``, or v3 with the parts the kit's v3 builders use; else the wrong environment."""
    where = f"in {sys.executable}"
    try:
        import sagemaker
    except ImportError as exc:
        return Check("SageMaker Python SDK", FAIL, f"not importable {where} ({exc})", SDK_FIX)
    version = str(getattr(sagemaker, "__version__", None) or _distribution_version("sagemaker"))
    if version.startswith("3"):
        missing = [name for name in V3_MODULES if not _importable(name)]
        if missing:
            return Check("SageMaker Python SDK", FAIL, f"{version} {where} is v3, which removed sagemaker.workflow, "
                         f"and lacks {', '.join(missing)} (the kit's v3 builders need them)", SDK_FIX)
        # The kit's helpers and builders run on v3, and so do the v3 track's notebooks; the v2 track's need v2.
        return Check("SageMaker Python SDK", NOTE, f"{version} (v3): the kit's helpers, pipeline builders and the v3 "
                     "track's notebooks run on it; the v2 track's notebooks (the outline's code) need SDK 2.x", TRACK_FIX)
    try:
        has_workflow = importlib.util.find_spec("sagemaker.workflow") is not None
    except (ImportError, ValueError):
        has_workflow = False
    if not has_workflow:
        return Check("SageMaker Python SDK", FAIL, f"{version} {where} has no sagemaker.workflow", SDK_FIX)
    return Check("SageMaker Python SDK", OK, f"{version} (v2, with sagemaker.workflow)")


def _distribution_version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def check_mode(mode):
    from . import config

    try:
        chosen = config.resolve_mode(mode)
    except ValueError as exc:
        return None, Check("mode", FAIL, str(exc).split(".")[0], "export LAB_MODE=local  (or remote)")
    return chosen, Check("mode", OK, f"{chosen} ({mode_source(mode)})")


def mode_source(mode=None):
    """Why the mode is what it is, in words a learner can act on."""
    from . import config

    if mode:
        return "chosen by the notebook's MODE or --mode"
    if os.environ.get("LAB_MODE"):
        return "set by LAB_MODE"
    if config.in_studio():
        return "the default in SageMaker Studio; LAB_MODE=local to run offline"
    return "the default outside SageMaker Studio; LAB_MODE=remote to use your AWS account"


# --------------------------------------------------------------------------------------
# local mode
# --------------------------------------------------------------------------------------


def _module_version(name):
    module = importlib.import_module(name)
    return str(getattr(module, "__version__", "?"))


def check_package(label, module, fix, prefix=None):
    try:
        version = _module_version(module)
    except Exception as exc:  # ImportError, or a broken native library
        return Check(label, FAIL, f"not importable ({type(exc).__name__}: {exc})", fix)
    if prefix and not version.startswith(prefix):
        return Check(label, FAIL, f"{version} (local mode needs {prefix}x)", fix)
    return Check(label, OK, version)


def check_lab_home():
    from . import config

    home = config.lab_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".preflight-", delete=True) as handle:
            handle.write(b"ok")
    except OSError as exc:
        return Check("LAB_HOME writable", FAIL, f"{home}: {exc.strerror or exc}",
                     "set LAB_HOME to a folder you can write, e.g. `export LAB_HOME=$HOME/.sagemaker-lab`")
    return Check("LAB_HOME writable", OK, str(home))


def check_control_plane():
    """Whether local mode's control-plane database (LAB_HOME/control-plane.sqlite3) is readable and sound."""
    import sqlite3

    from . import config
    from .local.store import fault

    path = config.lab_home() / "control-plane.sqlite3"
    if not path.exists():
        return Check("control plane", OK, f"{path} not created yet (the first run creates it)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        message = str(fault(path, exc))
        return Check("control plane", FAIL, message.split(". ")[0], message[len(message.split(". ")[0]) + 2:])
    if not result or result[0] != "ok":
        return Check("control plane", FAIL, f"{path} is corrupt ({result[0] if result else 'no answer'})",
                     f"move it aside (mv '{path}' '{path}.corrupt') and run again: local mode starts with an "
                     "empty control plane; LAB_HOME/s3 is kept")
    return Check("control plane", OK, str(path))


def check_fork_server():
    posix = os.name == "posix" and hasattr(os, "fork")
    if not posix:
        return Check("fork server", OK, "not available on this OS: jobs start cold (slower, still works)")
    if os.environ.get("LAB_FORK_SERVER", "1") == "0":
        return Check("fork server", OK, "available (POSIX), switched off by LAB_FORK_SERVER=0: jobs start cold")
    return Check("fork server", OK, "available (POSIX): jobs start warm")


NOT_ISOLATED = ("jobs are not isolated from each other or from your files (a job can read and write "
                "whatever you can, LAB_HOME included) and job code can use the network")


def check_job_isolation():
    """Whether local-mode jobs run confined (Linux namespaces) or as plain processes; never a ✗."""
    from .local.jobs import sandbox

    if not sys.platform.startswith("linux"):
        return Check("job isolation", NOTE, f"none on {sys.platform}: {NOT_ISOLATED} (Linux namespaces are "
                                           "needed for that; on this system jobs see /opt/ml through the "
                                           "kit's in-process path overlay)")
    if not sandbox.enabled():
        return Check("job isolation", NOTE, f"switched off by LAB_SANDBOX=0: {NOT_ISOLATED}")
    available, how = sandbox.available()
    if not available:
        return Check("job isolation", NOTE, f"not available here ({how}): {NOT_ISOLATED}")
    return Check("job isolation", OK, f"jobs run in a private namespace ({how}): each writes only its own "
                 "folder, /tmp and its copy of the Python environment, cannot see LAB_HOME or other jobs, "
                 "and has no network")


def local_checks():
    return [
        check_package("xgboost", "xgboost", PACKAGE_FIX, prefix="1.7."),
        check_package("scikit-learn", "sklearn", PACKAGE_FIX),
        check_package("pandas", "pandas", PACKAGE_FIX),
        check_lab_home(),
        check_control_plane(),
        check_fork_server(),
        check_job_isolation(),
        Check("Docker", OK, "not needed in local mode"),
    ]


# --------------------------------------------------------------------------------------
# remote mode
# --------------------------------------------------------------------------------------


def _error_text(exc):
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', exc)}"


def _simulate(iam, role_arn, actions, resources):
    """{action: decision} from iam:SimulatePrincipalPolicy, or raise what the call raised."""
    decisions = {}
    paginator_kwargs = dict(PolicySourceArn=role_arn, ActionNames=list(actions), ResourceArns=list(resources))
    response = iam.simulate_principal_policy(**paginator_kwargs)
    for result in response.get("EvaluationResults", []):
        decisions[result["EvalActionName"]] = result["EvalDecision"]
    return decisions


def permission_checks(boto_session, role_arn, bucket):
    """One line per action the lesson needs; ``?`` lines where the caller may not simulate."""
    region = boto_session.region_name
    groups = [(SAGEMAKER_ACTIONS, ["*"])]
    if bucket:
        groups.append((S3_ACTIONS, [f"arn:aws:s3:::{bucket}/*"]))
    groups.append((("iam:PassRole",), [role_arn]))
    try:
        iam = boto_session.client("iam", region_name=region)
    except Exception as exc:
        iam, client_error = None, exc
    checks = []
    for actions, resources in groups:
        try:
            if iam is None:
                raise client_error
            decisions = _simulate(iam, role_arn, actions, resources)
            problem = None
        except Exception as exc:  # AccessDenied for the caller, or a service that does not implement it
            decisions, problem = {}, _error_text(exc)
        on = "" if resources == ["*"] else f" on {resources[0]}"
        for action in actions:
            name = f"permission {action}"
            decision = decisions.get(action)
            if decision == "allowed":
                checks.append(Check(name, OK, f"allowed{on}"))
            elif decision is not None:
                checks.append(Check(name, FAIL, f"{decision}{on}", PERMISSION_FIX.format(action=action)))
            else:
                why = problem or "no result"
                checks.append(Check(name, UNKNOWN, f"could not be checked (iam:SimulatePrincipalPolicy: {why})"))
    return checks


def remote_checks():
    import boto3

    from . import sessions

    checks = []
    boto_session = boto3.Session()
    if boto_session.region_name is None and os.environ.get("AWS_REGION"):
        boto_session = boto3.Session(region_name=os.environ["AWS_REGION"])
    region = boto_session.region_name
    if region:
        checks.append(Check("region", OK, region))
    else:
        checks.append(Check("region", FAIL, "none configured",
                            "export AWS_DEFAULT_REGION=us-east-1  (or `aws configure`, or run in SageMaker Studio)"))
        return checks  # nothing else can be asked without a region

    credentials_ok = False
    try:
        if boto_session.get_credentials() is None:
            raise LookupError("no credentials found")
        identity = boto_session.client("sts", region_name=region).get_caller_identity()
        checks.append(Check("credentials", OK, f"{identity['Arn']} (account {identity['Account']})"))
        credentials_ok = True
    except Exception as exc:
        checks.append(Check("credentials", FAIL, _error_text(exc) if hasattr(exc, "response") else str(exc),
                            "run `aws configure` (or set AWS_PROFILE / AWS_ACCESS_KEY_ID), or run in SageMaker "
                            "Studio - or use local mode: `export LAB_MODE=local`"))
    if not credentials_ok:
        return checks

    role_arn = None
    try:
        from .sdk import sdk_class

        sm_session = sdk_class("Session")(boto_session=boto_session, default_bucket=os.environ.get("LAB_BUCKET") or None)
    except Exception as exc:
        checks.append(Check("SageMaker session", FAIL, str(exc), SDK_FIX))
        return checks
    try:
        role_arn = sessions._remote_role(sm_session)
        source = "LAB_ROLE_ARN" if os.environ.get("LAB_ROLE_ARN") else "Studio"
        checks.append(Check("execution role", OK, f"{role_arn} (from {source})"))
    except sessions.LabSetupError as exc:
        message = str(exc)
        checks.append(Check("execution role", FAIL, message.split(".")[0],
                            message[len(message.split(".")[0]) + 1:].strip() or message))

    bucket = None
    try:
        bucket = sm_session.default_bucket()
        checks.append(Check("default bucket", OK, f"s3://{bucket} (exists or created)"))
    except Exception as exc:
        checks.append(Check("default bucket", FAIL, _error_text(exc),
                            "allow s3:CreateBucket/s3:ListBucket for the SDK's default bucket "
                            "(sagemaker-<region>-<account>), or set LAB_BUCKET to a bucket you can write"))

    if role_arn:
        checks.extend(permission_checks(boto_session, role_arn, bucket))
    else:
        checks.append(Check("permissions", UNKNOWN, "could not be checked without an execution role"))
    return checks


# --------------------------------------------------------------------------------------


def run_checks(mode=None):
    """All checks for ``mode`` (``"local"``/``"remote"``; default from LAB_MODE / Studio) as a list of Check."""
    from .sessions import quiet_sdk

    quiet_sdk()
    chosen, mode_check = check_mode(mode)
    checks = [mode_check, check_python(), check_sdk()]
    if chosen == "local":
        checks.extend(local_checks())
    elif chosen == "remote":
        try:
            checks.extend(remote_checks())
        except Exception as exc:  # never a traceback from a check
            checks.append(Check("remote checks", FAIL, f"{type(exc).__name__}: {exc}",
                                "read the message; see docs/instructor-guide.md (Errors)"))
    return checks


def main(mode=None, out=None):
    """Print the checks; return the exit code (0 when no ✗)."""
    checks = run_checks(mode)
    print(format_checks(checks), file=out or sys.stdout)
    return exit_code(checks)
