"""Helpers for the course kit "Building and Automating ML Pipelines in SageMaker" (Lesson 7.1).

    import lab_helpers
    sess = lab_helpers.session()            # local (offline) or remote (your AWS account)
    role = lab_helpers.execution_role(sess)

Submodules are imported on first use, so a job process that only needs the path overlay or
the XGBoost stand-in does not pay for importing the SageMaker SDK.
"""

import importlib

from .config import LAB_PREFIX, in_studio, lab_home, resolve_mode

__version__ = "0.1.0"


def _quiet_if_local():
    """In local mode, silence the SDK before anything imports it (its v2 banner prints at import)."""
    try:
        local = resolve_mode() == "local"
    except ValueError:
        return  # a bad LAB_MODE is reported when a session is asked for
    if local:
        import os

        from .sessions import quiet_sdk

        quiet_sdk()
        # the SDK builds a default session at import; without credentials botocore would probe
        # the EC2 metadata service (a network call) - local mode never needs credentials
        os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


_quiet_if_local()

_LAZY = {
    "session": ("sessions", "session"),
    "local_session": ("sessions", "local_session"),
    "remote_session": ("sessions", "remote_session"),
    "execution_role": ("sessions", "execution_role"),
    "mode_of": ("sessions", "mode_of"),
    "LabSetupError": ("sessions", "LabSetupError"),
}
_SUBMODULES = {"checkpoints", "pipelines", "sessions", "config", "local", "steps", "monitor", "cleanup", "data", "automation"}

__all__ = ["LAB_PREFIX", "in_studio", "lab_home", "resolve_mode", *_LAZY, *sorted(_SUBMODULES)]


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lab_helpers' has no attribute {name!r}")
