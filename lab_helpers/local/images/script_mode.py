"""Script mode training: what the sagemaker-training-toolkit does in a framework container, in the job's process.

A training job whose hyperparameters name ``sagemaker_program`` runs the learner's own script on the
scikit-learn or XGBoost framework image (the SDK's ``SKLearn``/``XGBoost`` estimators, or an
``Estimator`` with ``entry_point``).  The runtime has already unpacked ``sourcedir.tar.gz``
(``sagemaker_submit_directory``) into ``/opt/ml/code`` and staged the channels.  Here, as the
open-source ``aws/sagemaker-training-toolkit`` does (``environment.py``, ``mapping.py``,
``entry_point.py``, ``modules.py``):

* hyperparameters are read from ``hyperparameters.json``, each value JSON-decoded when it is JSON
  (the SDK JSON-encodes framework estimators' values) and kept as a string otherwise;
  ``sagemaker_*`` keys (and ``_tuning_objective_metric``) are the framework's, not the script's;
* the script gets the rest as command-line arguments, sorted by name: ``--name value`` (``-n value``
  for one-letter names; a dict becomes ``k=v,k2=v2``; other values ``str()``), and every part of
  the training environment as ``SM_*`` variables (``SM_HPS``, ``SM_HP_<NAME>``, ``SM_MODEL_DIR``,
  ``SM_CHANNELS``, ``SM_CHANNEL_<NAME>``, ``SM_OUTPUT_DATA_DIR``, ``SM_NUM_CPUS``, ``SM_TRAINING_ENV``
  ...): strings as they are, anything else as compact JSON;
* ``requirements.txt`` in the code is installed with pip before the script runs;
* a ``.py`` entry point runs as ``python <script> <args>`` from ``/opt/ml/code``; any other
  (``.sh``) as ``/bin/sh -c ./<script> <args>`` there.

Where the kit differs, and why:

* The script runs with the kit's interpreter and libraries (per-image Python environments are
  not emulated), in the job process itself (so it starts warm); ``python``/``python3`` started by
  the job (a ``.sh`` entry point, ``subprocess``) is the kit's interpreter too, and sees the job's
  ``/opt/ml`` (the runtime puts a ``sitecustomize`` on its ``PYTHONPATH``).
* ``requirements.txt`` goes into a folder of the job's own (``pip install --target``), put on
  ``sys.path`` and ``PYTHONPATH``; the kit's environment is never changed.  Requirements the
  kit's environment already satisfies are not installed again (as in the image, where pip
  finds them installed); pip's output is the job's log, and if pip fails the job fails with it.
* A source folder with ``setup.py`` is not pip-installed as a package: its ``requirements.txt``
  is installed and the entry point run as a script.
* Distributed training (MPI, parameter servers, several hosts) is not emulated: one host, ``algo-1``.

Compatible with Python 3.9 (the images' Python): it runs inside jobs.
"""

import importlib
import json
import os
import shlex
import subprocess
import sys
import traceback
import types

ML = "/opt/ml"
CODE_DIR = ML + "/code"
#: hyperparameters the toolkit keeps for itself (params.SAGEMAKER_HYPERPARAMETERS)
TOOLKIT_KEYS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_enable_cloudwatch_metrics",
                "sagemaker_region", "sagemaker_container_log_level", "sagemaker_job_name",
                "default_user_module_name", "_tuning_objective_metric", "sagemaker_s3_output")
#: SAGEMAKER_TRAINING_MODULE of each image (what SM_FRAMEWORK_MODULE shows)
FRAMEWORK_MODULES = {"sagemaker-scikit-learn": "sagemaker_sklearn_container.training:main",
                     "sagemaker-xgboost": "sagemaker_xgboost_container.training:main"}


class ScriptModeError(Exception):
    """A script-mode job failed; the message is its FailureReason, ``exit_code`` the process's status."""

    def __init__(self, reason, exit_code=1):
        super().__init__(reason)
        self.exit_code = exit_code


# --------------------------------------------------------------------------------------
# hyperparameters and the SM_* variables (the toolkit's mapping.py / environment.py rules)
# --------------------------------------------------------------------------------------


def decode_hyperparameters(raw):
    """Each value JSON-decoded when it is JSON (``"5"`` -> 5, ``'"abc"'`` -> "abc"), else kept as given."""
    decoded = {}
    for key, value in (raw or {}).items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def split_hyperparameters(hyperparameters):
    """(the script's hyperparameters, framework parameters, the toolkit's own ``sagemaker_*`` values)."""
    user, framework, toolkit = {}, {}, {}
    for key, value in hyperparameters.items():
        if key in TOOLKIT_KEYS:
            toolkit[key] = value
        elif key.startswith("sagemaker_"):
            framework[key] = value
        else:
            user[key] = value
    return user, framework, toolkit


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin1")
    return str(value)


def to_cmd_args(mapping):
    """``--name value`` pairs sorted by name (``-n`` for one letter); a dict value becomes ``k=v,k2=v2``."""
    args = []
    for key in sorted(mapping):
        name = _text(key)
        args.append(("--" if len(name) > 1 else "-") + name if name else "")
        value = mapping[key]
        if hasattr(value, "items"):
            args.append(",".join("{}={}".format(k, v) for k, v in sorted(value.items())))
        else:
            args.append(_text(value))
    return args


def to_env_vars(mapping):
    """``SM_<KEY>`` for each key: strings as they are, None as "", anything else as compact sorted JSON."""
    env = {}
    for key, value in mapping.items():
        if isinstance(value, bytes):
            text = value.decode("latin1")
        elif value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        env["SM_" + str(key).upper()] = text
    return env


def _read_json(path, default):
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def training_environment(image, ml=ML, environ=None):
    """The training environment of the job under ``ml``: program, arguments, SM_* variables and more.

    Returns a dict with ``program`` (the entry point's name), ``args`` (its command line),
    ``env`` (the variables to set: ``SM_*``, ``SAGEMAKER_JOB_NAME``, ``SAGEMAKER_REGION``,
    ``CURRENT_HOST``) and ``training_env`` (what ``SM_TRAINING_ENV`` holds).
    """
    environ = os.environ if environ is None else environ
    config_dir = ml + "/input/config"
    resource = _read_json(config_dir + "/resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"]})
    data_config = _read_json(config_dir + "/inputdataconfig.json", {})
    hyperparameters = decode_hyperparameters(_read_json(config_dir + "/hyperparameters.json", {}))
    user, framework, toolkit = split_hyperparameters(hyperparameters)
    program = environ.get("SAGEMAKER_PROGRAM") or toolkit.get("sagemaker_program")
    program = _text(program) if program is not None else None
    module_name = program[:-3] if program and program.endswith(".py") else program
    hosts = resource.get("hosts", ["algo-1"])
    current_host = resource.get("current_host", hosts[0])
    group = resource.get("current_group_name", "homogeneousCluster")
    groups = resource.get("instance_groups", [])
    channels = {name: "{}/input/data/{}".format(ml, name) for name in data_config}
    group_hosts = next((g["hosts"] for g in groups if g.get("instance_group_name") == group), [])
    args = to_cmd_args(user)
    env = {
        "hosts": hosts,
        "network_interface_name": resource.get("network_interface_name", "eth0"),
        "hps": user,
        "user_entry_point": program,
        "framework_params": framework,
        "resource_config": resource,
        "input_data_config": data_config,
        "output_data_dir": ml + "/output/data",
        "channels": sorted(channels),
        "current_host": current_host,
        "current_instance_type": resource.get("current_instance_type", "local"),
        "current_instance_group": group,
        "current_instance_group_hosts": group_hosts,
        "instance_groups": [g["instance_group_name"] for g in groups],
        "instance_groups_dict": {g["instance_group_name"]: g for g in groups},
        "distribution_instance_groups": [],
        "is_hetero": len(groups) > 1,
        "module_name": module_name,
        "log_level": toolkit.get("sagemaker_container_log_level", 20),
        "framework_module": environ.get("SAGEMAKER_TRAINING_MODULE", FRAMEWORK_MODULES.get(image)),
        "input_dir": ml + "/input",
        "input_config_dir": config_dir,
        "output_dir": ml + "/output",
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": ml + "/model",
        "module_dir": _text(toolkit.get("sagemaker_submit_directory", ml + "/code")),
        "user_args": args,
        "output_intermediate_dir": ml + "/output/intermediate",
    }
    training_env = dict(env)
    training_env.update({"hyperparameters": user, "additional_framework_parameters": framework,
                         "channel_input_dirs": channels, "job_name": environ.get("TRAINING_JOB_NAME"),
                         "master_hostname": hosts[0], "is_master": current_host == hosts[0],
                         "distribution_hosts": list(hosts)})
    for name in ("hps", "framework_params", "channels", "user_args"):
        training_env.pop(name)
    env["training_env"] = training_env
    for name, path in channels.items():
        env["channel_" + name] = path
    for key, value in user.items():
        env["hp_" + key] = value
    variables = to_env_vars(env)
    variables.update({"SAGEMAKER_JOB_NAME": _text(toolkit.get("sagemaker_job_name", "")),
                      "SAGEMAKER_REGION": _text(toolkit.get("sagemaker_region", environ.get("AWS_REGION", ""))),
                      "CURRENT_HOST": current_host})
    return {"program": program, "args": args, "env": variables, "training_env": training_env}


# --------------------------------------------------------------------------------------
# requirements.txt, into the job's own folder
# --------------------------------------------------------------------------------------

_OPTIONS_WITH_VALUE = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
                       "-c", "--constraint", "-r", "--requirement", "-e", "--editable")
#: options after which pip has something to install
_INSTALLS = ("-r", "--requirement", "-e", "--editable")


def _logical_lines(text):
    """The requirement file's lines: continuations joined, comments and blank lines dropped."""
    lines, pending = [], ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = pending + raw
        pending = ""
        if line.lstrip().startswith("#"):
            continue
        line = line.split(" #", 1)[0].strip()
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def _already_satisfied(line):
    """``name==version`` when the kit's environment satisfies this requirement line, "" when its marker
    excludes it, else None (pip must install it)."""
    try:
        from importlib import metadata

        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        return None
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return None
    if requirement.url or requirement.extras:
        return None
    if requirement.marker is not None and not requirement.marker.evaluate():
        return ""
    try:
        version = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return None
    if requirement.specifier.contains(version, prereleases=True):
        return "{}=={}".format(requirement.name, version)
    return None


def plan_requirements(text):
    """(pip arguments, whether pip has anything to install, the requirements already satisfied)."""
    pip_args, satisfied, pending = [], [], False
    for line in _logical_lines(text):
        if line.startswith("-"):
            tokens = shlex.split(line)
            pip_args.extend(tokens)
            pending = pending or any(t.split("=", 1)[0] in _INSTALLS for t in tokens)
            continue
        found = _already_satisfied(line)
        if found is None:
            pip_args.append(line)
            pending = True
        elif found:
            satisfied.append(found)
    return pip_args, pending, satisfied


def install_requirements(code_dir, host_code_dir, target, error="InstallRequirementsError"):
    """pip-install ``requirements.txt`` of ``code_dir`` into the host folder ``target``; True if there was one.

    Raises :class:`ScriptModeError` with pip's message when pip fails.
    """
    path = code_dir.rstrip("/") + "/requirements.txt"
    if not os.path.isfile(path):
        return False
    install_requirements_file(path, host_code_dir, target, error)
    return True


def install_requirements_file(path, cwd, target, error="InstallRequirementsError"):
    """pip-install the requirements file ``path`` (from ``cwd``) into the host folder ``target``, not the kit's.

    Raises :class:`ScriptModeError` with pip's message when pip fails.
    """
    name = os.path.basename(path)
    with open(path) as handle:
        pip_args, pending, satisfied = plan_requirements(handle.read())
    print("Installing dependencies from {} into the job's own folder (not the image's environment)".format(name),
          flush=True)
    for found in satisfied:
        print("Requirement already satisfied (in the image's environment): {}".format(found), flush=True)
    if not pending:
        return
    command = [sys.executable, "-m", "pip", "install", "--target", target, "--disable-pip-version-check",
               "--no-input", "--no-warn-script-location"] + pip_args
    env = dict(os.environ)
    env.pop("LAB_HELPERS_OVERLAY", None)
    env.pop("PYTHONSTARTUP", None)
    code, lines = stream(command, cwd, env)
    if code != 0:
        errors = [line for line in lines if line.startswith("ERROR")] or lines[-3:]
        raise ScriptModeError('AlgorithmError: {}:\nExitCode {}\nErrorMessage "{}"\nCommand "{}"'.format(
            error, code, "\n".join(errors).strip(), "python3 -m pip install -r " + name), exit_code=1)
    importlib.invalidate_caches()
    _warn_if_shadowed(target)


def _warn_if_shadowed(target):
    """A package pip put in the job's folder that the job process has loaded already keeps the kit's version."""
    try:
        names = sorted(n for n in os.listdir(target) if not n.endswith((".dist-info", ".egg-info", ".pth"))
                       and not n.startswith(("_", ".")) and n != "bin")
    except OSError:
        return
    for name in names:
        module = name[:-3] if name.endswith(".py") else name
        if module in sys.modules:
            print("Note: {} is already loaded in the job's process, from the kit's environment; the version "
                  "requirements.txt installed takes effect only in processes the job starts.".format(module),
                  flush=True)


def stream(command, cwd, env):
    """Run ``command``; its output becomes the job's log as it comes.  Returns (exit code, output lines)."""
    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1)
    lines = []
    for line in proc.stdout:
        line = line.rstrip("\n")
        print(line, flush=True)
        lines.append(line)
    return proc.wait(), lines


# --------------------------------------------------------------------------------------
# the job's process: python / python3 on PATH, PYTHONPATH, the image's packages
# --------------------------------------------------------------------------------------


def prepare_process(host, code_dir=CODE_DIR):
    """Make children of the job run the kit's Python and see /opt/ml, the code and the requirements.

    ``host`` (from the job's spec): host paths ``code`` (the code folder), ``private`` (the job's
    own folder), ``child_site`` (the sitecustomize folder) and ``image_packages`` (stand-ins for
    the image's own Python packages, or None).  Returns the requirements folder (a host path).
    """
    private = host["private"]
    packages = os.path.join(private, "python-packages")
    bin_dir = os.path.join(private, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    os.makedirs(packages, exist_ok=True)  # on sys.path from now on: a missing folder would be cached as such
    for name in ("python", "python3"):
        wrapper = os.path.join(bin_dir, name)
        with open(wrapper, "w") as handle:
            handle.write('#!/bin/sh\nexec {} "$@"\n'.format(shlex.quote(sys.executable)))
        os.chmod(wrapper, 0o755)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    extra = [p for p in (host.get("child_site"), packages, host["code"], host.get("image_packages")) if p]
    current = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(extra + ([current] if current else []))
    sys.path.insert(0, code_dir)
    sys.path.insert(1, packages)
    if host.get("image_packages"):
        sys.path.append(host["image_packages"])
    return packages


def _list_code(code_dir):
    try:
        return ", ".join(sorted(os.listdir(code_dir))) or "nothing"
    except OSError:
        return "nothing"


def _script_failed(code, message, command):
    return ScriptModeError('AlgorithmError: ExecuteUserScriptError:\nExitCode {}\nErrorMessage "{}"\nCommand "{}", '
                           'exit code: {}'.format(code, message, command, code), exit_code=code)


def run_program(path, argv):
    """Run the Python script at ``path`` in this process as ``python path argv...`` would; returns 0.

    Raises :class:`ScriptModeError` (ExecuteUserScriptError, as the toolkit reports it) when the
    script raises or exits with a non-zero status.
    """
    name = os.path.basename(path)
    command = " ".join(["python3", name] + [shlex.quote(a) for a in argv])
    with open(path, "rb") as handle:
        source = handle.read()
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    sys.argv = [name] + list(argv)
    try:
        exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - running the job's script is the point
    except SystemExit as exc:
        status = exc.code
        if status is None or status == 0:
            return 0
        if isinstance(status, int):
            raise _script_failed(status, "the script exited with status {}".format(status), command)
        print(status, file=sys.stderr, flush=True)
        raise _script_failed(1, str(status), command)
    except BaseException as exc:  # the script's own error: show it as the container would
        traceback.print_exc()
        sys.stderr.flush()
        summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise _script_failed(1, summary, command)
    return 0


def run_command(name, argv, host_code_dir):
    """Run a non-Python entry point as ``/bin/sh -c "./name args"`` from the code folder; returns 0."""
    command = "./{} {}".format(name, " ".join(shlex.quote(a) for a in argv)).strip()
    path = os.path.join(host_code_dir, name)
    os.chmod(path, 0o755)
    code, lines = stream(["/bin/sh", "-c", command], host_code_dir, dict(os.environ))
    if code != 0:
        tail = "\n".join(line for line in lines[-5:] if line.strip())
        raise _script_failed(code, tail, "/bin/sh -c " + shlex.quote(command))
    return 0


def run_training(spec):
    """A script-mode training job: install requirements.txt, set SM_*, run the entry point; returns 0."""
    info = training_environment(spec.get("image"))
    program = info["program"]
    print("Invoking the user's training script (script mode, {} {})".format(spec.get("image"), spec.get("version")),
          flush=True)
    path = CODE_DIR + "/" + program
    if not os.path.isfile(path):
        message = "python3: can't open file '{}': [Errno 2] No such file or directory".format(path)
        print(message, file=sys.stderr, flush=True)
        reason = _script_failed(2, message, "python3 " + program)
        raise ScriptModeError("{} (the entry point {} is not in the source directory, which holds: {})".format(
            reason, program, _list_code(CODE_DIR)), exit_code=2)
    packages = prepare_process(spec["host"])
    install_requirements(CODE_DIR, spec["host"]["code"], packages)
    os.makedirs(ML + "/output/intermediate", exist_ok=True)
    os.environ.update(info["env"])
    python = program.endswith(".py")
    shown = (["python3", program] if python else ["/bin/sh", "-c", "./" + program]) + info["args"]
    print("Invoking script with the following command:\n\n{}\n".format(" ".join(shlex.quote(a) for a in shown)),
          flush=True)
    print("Environment variables:\n\n" + "\n".join(
        "{}={}".format(k, v) for k, v in sorted(info["env"].items()) if k != "SM_TRAINING_ENV") + "\n", flush=True)
    os.chdir(CODE_DIR)
    if python:
        return run_program(path, info["args"])
    return run_command(program, info["args"], spec["host"]["code"])
