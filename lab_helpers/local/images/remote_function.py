"""SageMaker's base Python image running the SDK's remote-function runner: ``@step`` and ``@remote`` jobs.

A ``@step`` function (``sagemaker.workflow.function_step``) becomes a training job on the base Python
image (``sagemaker-base-python-310:1.0``) whose entry point is the SDK's own ``job_driver.sh``, from the
channel ``sagemaker_remote_function_bootstrap`` the SDK uploaded with ``bootstrap_runtime_environment.py``
and ``runtime_environment_manager.py``.  The SDK also uploaded the cloudpickled function and arguments
(``<s3 root>/<pipeline>/<step>/<build time>/function|arguments``, each ``payload.pkl`` + ``metadata.json``
with its SHA-256).  Here, in the job's process, :func:`run` does what ``job_driver.sh`` does, step by step:

1. runs the staged ``bootstrap_runtime_environment.py`` (the SDK's file, from the channel): the Python
   version check, the workspace, ``pre_execution_commands``/``pre_execution_script``, the dependencies,
   ``/opt/ml/input/sm_training.env``; then takes that file's variables into the environment;
2. changes into ``sagemaker_remote_function_workspace`` and runs the SDK's
   ``sagemaker.remote_function.invoke_function`` with the container arguments: it reads the function and
   arguments from S3, resolves ``DelayedReturn`` arguments (earlier steps' ``results``), calls the function,
   and writes ``<s3 root>/<pipeline>/<execution id>/<step>/results`` (and ``results.json``,
   ``{"Result": ..., "Exception": null}``, when a later step or condition reads the result); an
   exception goes to ``.../exception`` and ``/opt/ml/output/failure``, and the job fails with it.

Where the kit differs from AWS, and why:

* The function runs on the kit's own Python and libraries, not in the image's Python 3.10 (the SDK
  picks the base Python image only on Python 3.8 and 3.10; the kit runs 3.11, and the bootstrap's
  version check compares the job's Python with the notebook's, which here are the same).
* Dependencies (``dependencies="requirements.txt"``, and the ``sagemaker>=2.256.0,<3.0.0`` the SDK always
  adds) are never installed into the kit's environment: requirements the kit already satisfies are
  reported as satisfied, any other is ``pip install --target``-ed into the job's own folder and put on
  ``sys.path`` (offline, that needs a local wheel or index, as in script mode).  The SDK's ``pip install
  -U`` into the image's Python is what this replaces.  A conda ``environment.yml`` or ``job_conda_env``
  fails the job: local mode creates no conda environments.
* The SDK makes the job's folders writable with ``sudo chmod`` when the user is not root; the job's
  folders here are its own already, so that step only logs.
* ``mpirun``/``torchrun``/Spark variants of ``job_driver.sh`` (``@remote(use_torchrun=...)``,
  ``spark_config``) are refused: one host, no distribution.

Compatible with Python 3.9 (the images' Python): it runs inside jobs.  The SDK is imported only in the job.
"""

import os
import shlex
import sys
import traceback
import types

CHANNEL = "/opt/ml/input/data/sagemaker_remote_function_bootstrap"
#: ``sagemaker.remote_function.job.JOBS_CONTAINER_ENTRYPOINT``: the entry point every remote-function job has
ENTRYPOINT = ["/bin/bash", CHANNEL + "/job_driver.sh"]
ENV_FILE = "/opt/ml/input/sm_training.env"
WORKSPACE = "sagemaker_remote_function_workspace"
#: the SDK's base Python image: its repository (``sagemaker-base-python`` + Python version) and tag
BASE_PYTHON = "sagemaker-base-python"
DEFAULT_PY_VERSION = "310"


class RemoteFunctionJobError(Exception):
    """The job cannot run as asked; the message is its FailureReason."""


def image_uri(region):
    """SageMaker's base Python image in ``region``, named as the SDK names it (Python 3.10)."""
    from sagemaker.image_uris import get_base_python_image_uri

    return get_base_python_image_uri(region=region, py_version=DEFAULT_PY_VERSION)


#: what a remote-function job imports (the SDK): an execution with @step steps loads it once for all its jobs
PRELOAD = ("sagemaker.remote_function.invoke_function",)


def job_preload(definition):
    """:data:`PRELOAD` when a pipeline definition has a @step (remote-function) step, else ``()``."""
    def walk(steps):
        for step in steps or []:
            args = step.get("Arguments") or {}
            yield args.get("AlgorithmSpecification") or {}
            yield from walk(args.get("IfSteps"))
            yield from walk(args.get("ElseSteps"))

    found = any(isinstance(spec, dict) and spec.get("ContainerEntrypoint") == ENTRYPOINT
                for spec in walk(definition.get("Steps")))
    return PRELOAD if found else ()


def check_entrypoint(entrypoint):
    """ClientError text unless ``entrypoint`` is the SDK's remote-function entry point (else None)."""
    if list(entrypoint or []) == ENTRYPOINT:
        return None
    return ("ClientError: the kit's local mode runs SageMaker's base Python image only as the SDK's remote-function "
            "runner (a @step or @remote function, ContainerEntrypoint {}); this job's entry point is {}.".format(
                ENTRYPOINT, list(entrypoint or []) or "(none)"))


# --------------------------------------------------------------------------------------
# the bootstrap: the SDK's staged script, with the two steps that cannot apply here replaced
# --------------------------------------------------------------------------------------


def _load(name, path):
    """Load the staged file ``path`` as module ``name`` (read through ``open``, which sees the job's /opt/ml)."""
    with open(path) as handle:
        source = handle.read()
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - the SDK's own runtime script
    return module


def _install_dependencies(manager_module, packages):
    """The replacement of ``RuntimeEnvironmentManager.bootstrap``: nothing goes into the kit's environment."""
    from . import script_mode

    error = manager_module.RuntimeEnvironmentError

    def bootstrap(self, local_dependencies_file, client_python_version, conda_env=None):
        if conda_env or not local_dependencies_file.endswith(".txt"):
            raise error("the kit's local mode does not create or update conda environments ({}): give the "
                        "function's dependencies as a requirements.txt, or run this step in remote mode.".format(
                            conda_env or os.path.basename(local_dependencies_file)))
        try:
            script_mode.install_requirements_file(local_dependencies_file, os.getcwd(), packages)
        except script_mode.ScriptModeError as exc:  # the bootstrap prefixes its own error name
            raise error(str(exc).replace("AlgorithmError: ", "", 1)) from None

    return bootstrap


def _skip_chmod(self, dirs, new_permission):
    print("INFO: not running 'sudo chmod -R {} {}': the job's folders are its own in local mode".format(
        new_permission, " ".join(dirs)), flush=True)


def bootstrap(argv, packages):
    """Run the SDK's staged bootstrap script with ``argv``; returns its exit code."""
    manager = _load("runtime_environment_manager", CHANNEL + "/runtime_environment_manager.py")
    manager.RuntimeEnvironmentManager.bootstrap = _install_dependencies(manager, packages)
    manager.RuntimeEnvironmentManager.change_dir_permission = _skip_chmod
    script = _load("bootstrap_runtime_environment", CHANNEL + "/bootstrap_runtime_environment.py")
    try:
        script.main(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def source_env(path=ENV_FILE):
    """Take the ``export NAME='value'`` lines the bootstrap wrote into this process's environment."""
    if not os.path.isfile(path):
        return
    with open(path) as handle:
        for line in handle:
            words = shlex.split(line)
            if len(words) == 2 and words[0] == "export" and "=" in words[1]:
                key, _, value = words[1].partition("=")
                os.environ[key] = value


def invoke(argv):
    """``python -m sagemaker.remote_function.invoke_function argv...`` in this process; returns its exit code."""
    from sagemaker.remote_function import invoke_function

    try:
        invoke_function.main(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


# --------------------------------------------------------------------------------------
# job_driver.sh, step by step
# --------------------------------------------------------------------------------------


def _refuse_variants():
    with open(ENTRYPOINT[1]) as handle:
        driver = handle.read()
    for word, what in (("torchrun", "torchrun"), ("mpirun", "mpirun"), ("smspark-submit", "Spark")):
        if word in driver:
            raise RemoteFunctionJobError(
                "ClientError: this remote function runs with {} on several processes or hosts, which the kit's "
                "local mode does not emulate (one host, one process); run it in remote mode.".format(what))


def run(spec):
    """A remote-function training job: bootstrap, then invoke the stored function; returns the exit code."""
    from . import script_mode

    argv = list(spec.get("argv") or [])
    _refuse_variants()
    packages = script_mode.prepare_process(spec["host"], code_dir=spec["host"]["work"])
    os.makedirs(spec["host"]["work"], exist_ok=True)
    os.chdir(spec["host"]["work"])
    cache = os.environ.get("SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY", "/opt/ml/cache")
    os.environ["CONDA_PKGS_DIRS"] = cache + "/sm_remotefunction_user_dependencies_cache/conda/pkgs"
    os.environ["PIP_CACHE_DIR"] = cache + "/sm_remotefunction_user_dependencies_cache/pip"
    print("INFO: CONDA_PKGS_DIRS is set to '{}'".format(os.environ["CONDA_PKGS_DIRS"]), flush=True)
    print("INFO: PIP_CACHE_DIR is set to '{}'".format(os.environ["PIP_CACHE_DIR"]), flush=True)
    print("INFO: Bootstraping runtime environment.", flush=True)
    code = bootstrap(argv, packages)
    if code != 0:
        return code
    source_env()
    if os.path.isdir(WORKSPACE):
        print("INFO: Changing workspace to {}.".format(WORKSPACE), flush=True)
        os.chdir(WORKSPACE)
        sys.path.insert(0, os.getcwd())
    print("INFO: No conda env provided. Invoking remote function", flush=True)
    print("INFO: python -m sagemaker.remote_function.invoke_function ", flush=True)
    try:
        return invoke(argv)
    except Exception:  # noqa: BLE001 - the SDK could not even start: show why, as the container's log would
        traceback.print_exc()
        raise
