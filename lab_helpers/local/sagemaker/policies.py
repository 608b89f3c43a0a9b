"""Step caching and retry policies, with SageMaker Pipelines' semantics.

Caching (``CacheConfig`` of a step): a step whose cache key - the attributes SageMaker documents for
its step type ("Default cache key attributes by pipeline step type"), with every parameter and
property already evaluated - equals that of a successful earlier run of the same step in the same
pipeline, younger than ``ExpireAfter``, is not run again: it reuses that run's job, properties and
outputs and reports ``CacheHitResult``.  As in AWS, only the arguments count: data or code behind an
unchanged S3 URI is not looked at (the SDK uploads changed code to a new, content-hashed URI).

Retries (``RetryPolicies`` of a step): a failure of a type a policy names is retried after
``IntervalSeconds * BackoffRate ** (retry - 1)``, at most ``MaxAttempts`` times and not after
``ExpireAfterMin``.  Local mode produces these failure types: ``SageMaker.JOB_INTERNAL_ERROR`` (the
job failed with an ``InternalServerError``), ``Step.SERVICE_FAULT`` and ``Step.THROTTLING`` (the
control plane answered a 5xx or a throttling error); it never produces capacity or resource-limit
errors, so policies naming only those never retry.
"""

import hashlib
import json
import re

#: step type -> the arguments SageMaker compares to find a cached run of it
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": ("AlgorithmSpecification", "CheckpointConfig", "DebugHookConfig", "DebugRuleConfigurations",
                 "Environment", "HyperParameters", "InputDataConfig"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
}
#: step type -> {argument: the only parts of it that count} (SageMaker lists these for a tuning step)
CACHE_KEY_PARTS = {
    "Tuning": {"TrainingJobDefinition": ("AlgorithmSpecification", "HyperParameterRanges", "InputDataConfig",
                                         "StaticHyperParameters", "TuningObjective")},
}

_DURATION = re.compile(
    r"^P?(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$", re.IGNORECASE)
_SECONDS = {"years": 365 * 86400, "months": 30 * 86400, "weeks": 7 * 86400, "days": 86400, "hours": 3600,
            "minutes": 60, "seconds": 1}


def parse_duration(text):
    """Seconds in an ISO 8601 duration (``PT1H``, ``P30D``; AWS also accepts ``30d``, ``T16m``); ValueError if not one."""
    match = _DURATION.match(str(text or "").strip())
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"ExpireAfter {text!r} is not an ISO 8601 duration such as 'PT1H' (one hour) or 'P30D' "
                         "(30 days).")
    return sum(int(value) * _SECONDS[unit] for unit, value in match.groupdict().items() if value)


def cache_settings(step):
    """(enabled, seconds a cached run stays valid or None) of a step's CacheConfig."""
    config = step.get("CacheConfig") or {}
    if not config.get("Enabled") or step.get("Type") not in CACHE_KEY_ATTRIBUTES:
        return False, None
    expire = config.get("ExpireAfter")
    return True, (parse_duration(expire) if expire else None)


def cache_key(step_type, request):
    """The cache key of a step's evaluated request: a hash of its type's key attributes."""
    attributes = {name: request.get(name) for name in CACHE_KEY_ATTRIBUTES[step_type]}
    for name, parts in CACHE_KEY_PARTS.get(step_type, {}).items():
        if isinstance(attributes.get(name), dict):
            attributes[name] = {part: attributes[name].get(part) for part in parts}
    text = json.dumps({"Type": step_type, **attributes}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def failure_types(reason, api_code=None, status=None):
    """The retry failure types a step failure counts as (an empty set: never retried)."""
    found = set()
    if reason.startswith("InternalServerError"):
        found.add("SageMaker.JOB_INTERNAL_ERROR")
    if api_code in ("ThrottlingException", "Throttling"):
        found.add("Step.THROTTLING")
    elif status is not None and status >= 500:
        found.add("Step.SERVICE_FAULT")
    return found


def retry_delay(policies, types, retries_so_far, first_attempt_at, now):
    """Seconds to wait before the next attempt, or None when no policy retries this failure again."""
    for policy in policies or []:
        named = set(policy.get("ExceptionType", [])) | set(policy.get("FailureReasonType", []))
        if not named & types:
            continue
        limit = policy.get("MaxAttempts")
        if limit is not None and retries_so_far >= int(limit):
            return None
        expire = policy.get("ExpireAfterMin")
        if expire is not None and now - first_attempt_at > float(expire) * 60:
            return None
        return float(policy.get("IntervalSeconds", 1)) * float(policy.get("BackoffRate", 2.0)) ** retries_so_far
    return None
