"""Which SageMaker Python SDK is installed (v2, the lesson's, or v3), and what differs between them.

The kit's builders and sessions exist once per SDK behind the same names; this module is the one place that
decides which one runs, and the one list of the documented differences between the pipeline definitions
the two SDKs build for the same lesson code (:data:`V3_DEFINITION_DIFFERENCES`).
"""

from functools import lru_cache

#: How the pipeline definition SDK v3 builds differs from SDK v2's for the same pipeline, by JSON path
#: (``*`` matches any one key or index).  Everything else is the same: step names and types, arguments,
#: references between steps.  Each entry: (path, why).
V3_DEFINITION_DIFFERENCES = (
    ("Steps.*.Arguments.StoppingCondition.MaxRuntimeInSeconds",
     "ModelTrainer's default training timeout is 3600 s (the Estimator's is 86400 s)"),
    ("Steps.*.Arguments.DebugHookConfig", "ModelTrainer sets no debugger hook (the Estimator's default does)"),
    ("Steps.*.Arguments.ProfilerConfig", "ModelTrainer sets no profiler (the Estimator's default does)"),
    ("Steps.*.Arguments.Environment", "ModelTrainer sends an empty Environment (the Estimator sends none)"),
    ("Steps.*.Arguments.AlgorithmSpecification.EnableSageMakerMetricsTimeSeries",
     "v2's Estimator asks for metrics time series; ModelTrainer does not"),
    ("Steps.*.Arguments.PrimaryContainer.Environment.SAGEMAKER_PROGRAM",
     "ModelBuilder's model sets SAGEMAKER_PROGRAM to an empty string"),
    ("Steps.*.Arguments.PrimaryContainer.Environment.SAGEMAKER_SUBMIT_DIRECTORY",
     "ModelBuilder's model sets SAGEMAKER_SUBMIT_DIRECTORY to an empty string"),
    ("MlflowConfig", "v3's Pipeline writes MlflowConfig: null (v2 has no such field)"),
    ("Steps.*.Name=AbaloneRegisterModel-RegisterModel",
     "the register step: v2 names it <ModelStep name>-RegisterModel; v3 names it after the ModelStep too"),
)


@lru_cache(maxsize=None)
def major():
    """The installed SageMaker Python SDK's major version (2 or 3), read from its package metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("sagemaker").split(".")[0])
    except PackageNotFoundError:
        raise ImportError("The SageMaker Python SDK is not installed: pip install 'sagemaker>=2.257,<3'.") from None


def is_v3():
    """True when SDK v3 (sagemaker-core / sagemaker-mlops) is installed instead of SDK v2."""
    return major() >= 3
