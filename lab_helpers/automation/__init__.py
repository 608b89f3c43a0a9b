"""Automating the pipeline: start it when new data lands in S3 (lesson outline, Step 6).

    from lab_helpers.automation.setup import TriggerSpec, setup, teardown
    spec = TriggerSpec(bucket=bucket, pipeline_name="AbalonePipeline")
    setup(boto_session, spec)        # remote: queue, topic, role, function, trigger
    teardown(boto_session, spec)     # ... and all of it gone again

    from lab_helpers.automation.offline import OfflineAutomation
    with OfflineAutomation(sess) as auto: ...   # local: the same chain, offline

* :mod:`.lambda_function` - the handler deployed to AWS Lambda (standard library + boto3 only);
* :mod:`.setup` - idempotent set-up/teardown with boto3, the policy documents, the EventBridge alternative;
* :mod:`.offline` - the chain on a laptop: an AWS emulator (moto) plus the kit's local SageMaker.

The submodules load on first use (``offline`` imports the emulator).
"""

import importlib

_SUBMODULES = ("lambda_function", "setup", "offline")
__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
