"""Hyperparameter tuning jobs, emulated for local mode: the API's operations and the run of one job.

``CreateHyperParameterTuningJob`` (also what a pipeline's ``TuningStep`` runs) checks the request as
SageMaker does - the service model's constraints, then the tuning rules (ranges that parse, Grid with
categorical ranges only, ``MaxParallelTrainingJobs`` not above ``MaxNumberOfTrainingJobs``, the
objective among the ``MetricDefinitions`` when there are any, warm-start parents that exist and have
finished) - records the job ``InProgress`` and runs it to its end inside the call, as the kit's other
jobs do.  The run asks the strategy (:mod:`.tuning_strategies`) for each training job's values and
runs the training jobs through the job runtime, at most ``MaxParallelTrainingJobs`` at once and never
more than the machine's cores, until ``MaxNumberOfTrainingJobs`` have run (a grid: every combination),
the ``TargetObjectiveMetricValue`` of ``TuningJobCompletionCriteria`` is reached, or a stop request.

Training jobs are named as AWS names them, ``<tuning job name>-<3-digit index>-<8 hex>``; each gets the
static hyperparameters, its tuned values and ``_tuning_objective_metric`` (the objective's name, which
the built-in XGBoost algorithm reports and script mode ignores).  Its objective value is the metric of
that name in its ``FinalMetricDataList``: the built-in algorithm's last evaluation line
(``validation:rmse``), or the ``MetricDefinitions`` regular expressions over a script-mode job's log.

If the process running a tuning job dies (a pipeline's runner killed), the execution's reaper ends the
tuning job Failed, and its training jobs still ``InProgress`` end with it the next time anyone looks.

The tuning job ends ``Completed`` when at least one training job reported the objective, ``Failed``
(with a reason naming the first training job's failure) when none did, ``Stopped`` after
``StopHyperParameterTuningJob`` (or a stopped pipeline execution), which stops its running training jobs.
``WarmStartConfig``: the parents' training jobs are prior observations of the strategy (Bayesian learns
from them; a grid skips combinations a parent ran); they count toward the limit of 500 training jobs
across a tuning job and its parents; with ``IdenticalDataAndAlgorithm`` the parents' best job may be
``OverallBestTrainingJob``.

Differences from AWS: ``TrainingJobEarlyStoppingType`` ``Auto`` behaves as ``Off`` (no training job is
stopped early for a poor intermediate objective); Bayesian search is optuna's TPE, a stand-in for
SageMaker's own optimiser; Hyperband, Autotune and multi-algorithm tuning (``TrainingJobDefinitions``)
are refused with a clear error; failed training jobs are not retried (``RetryStrategy`` is recorded);
of ``TuningJobCompletionCriteria`` only ``TargetObjectiveMetricValue`` is honoured, and
``ResourceLimits.MaxRuntimeInSeconds`` is recorded, not enforced.
"""

import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ...shapes import JOB_KINDS
from ..errors import ApiError, not_found, not_implemented, validation
from ..ids import resource_name
from ..jobs.runtime import JobStopped
from .paging import filter_created, paginate, sort_items
from .tuning_strategies import check_strategy, grid_size, make_strategy, parse_ranges

#: the store's record kinds: tuning jobs, and one summary per training job a tuning job ran
TUNING_KIND = "tuning_job"
TRIAL_KIND = "tuning_training_job"
#: SageMaker's limit on the training jobs of one tuning job and its warm-start parents together
MAX_TRAINING_JOBS = 500
TERMINAL = ("Completed", "Failed", "Stopped")
#: the training request fields a tuning job's TrainingJobDefinition passes on unchanged
_PASSED_ON = ("RoleArn", "InputDataConfig", "OutputDataConfig", "StoppingCondition", "VpcConfig",
              "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining",
              "CheckpointConfig", "RetryStrategy", "Environment")
_TRAINING = JOB_KINDS["TrainingJob"]


class Tuning:
    """The hyperparameter tuning jobs of one control plane; training jobs run through ``runtime``."""

    def __init__(self, store, runtime):
        self.store = store
        self.runtime = runtime
        self.account = runtime.account

    def arn(self, name):
        """The ARN of tuning job ``name``."""
        return self.account.arn(f"hyper-parameter-tuning-job/{name.lower()}")

    def _doc(self, name_or_arn):
        name = resource_name(name_or_arn)
        doc = self.store.get(TUNING_KIND, name.lower())
        if doc is None:
            raise not_found(f"Amazon SageMaker can't find a tuning job with name {name}")
        return doc

    # -- the API ------------------------------------------------------------------------------
    def op_CreateHyperParameterTuningJob(self, p):
        """Check, record and run a tuning job to its end; returns its ARN."""
        return {"HyperParameterTuningJobArn": self.create(p)}

    def op_DescribeHyperParameterTuningJob(self, p):
        """The job as AWS describes it, with counters and its best training job."""
        return self.describe(p["HyperParameterTuningJobName"])

    def op_ListHyperParameterTuningJobs(self, p):
        """Summaries of the tuning jobs, filtered, sorted and paginated as AWS does."""
        items = []
        for doc in self.store.list(TUNING_KIND):
            if p.get("NameContains") and p["NameContains"] not in doc["HyperParameterTuningJobName"]:
                continue
            if p.get("StatusEquals") and doc["HyperParameterTuningJobStatus"] != p["StatusEquals"]:
                continue
            described = self.describe(doc["HyperParameterTuningJobName"])
            summary = {k: described.get(k) for k in (
                "HyperParameterTuningJobName", "HyperParameterTuningJobArn", "HyperParameterTuningJobStatus",
                "CreationTime", "HyperParameterTuningEndTime", "LastModifiedTime", "TrainingJobStatusCounters",
                "ObjectiveStatusCounters")}
            summary["Strategy"] = doc["HyperParameterTuningJobConfig"]["Strategy"]
            summary["ResourceLimits"] = doc["HyperParameterTuningJobConfig"]["ResourceLimits"]
            items.append({k: v for k, v in summary.items() if v is not None})
        items = filter_created(items, p, "CreationTimeAfter", "CreationTimeBefore")
        items = filter_created(items, p, "LastModifiedTimeAfter", "LastModifiedTimeBefore", field="LastModifiedTime")
        items = sort_items(items, p, {"Name": "HyperParameterTuningJobName", "Status": "HyperParameterTuningJobStatus",
                                      "CreationTime": "CreationTime"}, "Name", default_order="Ascending")
        return paginate(items, p, "HyperParameterTuningJobSummaries")

    def op_ListTrainingJobsForHyperParameterTuningJob(self, p):
        """The tuning job's training jobs; by objective value, jobs without one are left out (as in AWS)."""
        doc = self._doc(p["HyperParameterTuningJobName"])
        items = self.trials(doc)
        if p.get("StatusEquals"):
            items = [t for t in items if t["TrainingJobStatus"] == p["StatusEquals"]]
        by = p.get("SortBy") or "Name"
        if by == "FinalObjectiveMetricValue":
            items = [t for t in items if t.get("ObjectiveStatus") == "Succeeded"]
            items = sorted(items, key=_objective_value, reverse=(p.get("SortOrder") or "Ascending") == "Descending")
        else:
            items = sort_items(items, p, {"Name": "TrainingJobName", "CreationTime": "CreationTime",
                                          "Status": "TrainingJobStatus"}, "Name", default_order="Ascending")
        return paginate(items, p, "TrainingJobSummaries")

    def op_StopHyperParameterTuningJob(self, p):
        """Ask a running tuning job to stop: it stops its running training jobs and launches no more."""
        doc = self._doc(p["HyperParameterTuningJobName"])
        if doc["HyperParameterTuningJobStatus"] != "InProgress":
            raise validation(f"The hyperparameter tuning job {doc['HyperParameterTuningJobName']} is in status "
                             f"{doc['HyperParameterTuningJobStatus']}; only a job InProgress can be stopped.")
        self._set(doc["HyperParameterTuningJobName"], HyperParameterTuningJobStatus="Stopping")
        return {}

    # -- reading ----------------------------------------------------------------------------------
    def trials(self, doc):
        """The HyperParameterTrainingJobSummary of each training job the tuning job ran, in launch order."""
        trials = self.store.list(TRIAL_KIND, parent=doc["HyperParameterTuningJobArn"])
        status = doc["HyperParameterTuningJobStatus"]
        if status in TERMINAL:  # a tuning job that ended with jobs still running: its process died (reaped)
            for trial in trials:
                if trial["TrainingJobStatus"] in ("InProgress", "Stopping"):
                    self._end_orphan(doc, trial, "Stopped" if status == "Stopped" else "Failed")
        return trials

    def _end_orphan(self, doc, trial, final):
        """A training job whose tuning job ended under it ends too, with its tuning job's reason."""
        now = time.time()
        reason = (f"InternalServerError: its tuning job {doc['HyperParameterTuningJobName']} ended "
                  f"({doc['HyperParameterTuningJobStatus']}) while it ran: {doc.get('FailureReason', '')}")[:1024]
        self.runtime.end_with_step({_TRAINING.key: {"Arn": trial["TrainingJobArn"]}}, final, reason, now)
        if self.store.get(_TRAINING.store_kind, trial["TrainingJobName"].lower()) is None:
            # the process died between listing the job and creating it: the listed job exists, as in AWS
            self._record_unrun(trial["TrainingJobName"], trial["TrainingJobArn"], final, trial["CreationTime"], now,
                               reason if final == "Failed" else None)
        trial.update(TrainingJobStatus=final, TrainingEndTime=now, ObjectiveStatus="Failed")
        if final == "Failed":
            trial["FailureReason"] = reason
        self.store.put(TRIAL_KIND, trial["TrainingJobName"].lower(), trial["TrainingJobArn"], trial,
                       parent=doc["HyperParameterTuningJobArn"])

    def describe(self, name_or_arn):
        """DescribeHyperParameterTuningJob's response."""
        doc = dict(self._doc(name_or_arn))
        trials = self.trials(doc)
        statuses = [t["TrainingJobStatus"] for t in trials]
        doc["TrainingJobStatusCounters"] = {
            "Completed": statuses.count("Completed"),
            "InProgress": statuses.count("InProgress") + statuses.count("Stopping"),
            "RetryableError": sum(1 for t in trials if t["TrainingJobStatus"] == "Failed" and _retryable(t)),
            "NonRetryableError": sum(1 for t in trials if t["TrainingJobStatus"] == "Failed" and not _retryable(t)),
            "Stopped": statuses.count("Stopped"),
        }
        objectives = [t.get("ObjectiveStatus", "Pending") for t in trials]
        doc["ObjectiveStatusCounters"] = {s: objectives.count(s) for s in ("Succeeded", "Pending", "Failed")}
        maximize = _maximize(doc)
        best = best_of(trials, maximize)
        if best:
            doc["BestTrainingJob"] = best
        if (doc.get("WarmStartConfig") or {}).get("WarmStartType") == "IdenticalDataAndAlgorithm":
            overall = best_of(trials + doc.get("ParentTrials", []), maximize)
            if overall:
                doc["OverallBestTrainingJob"] = overall
        end = doc.get("HyperParameterTuningEndTime") or time.time()
        doc["ConsumedResources"] = {"RuntimeInSeconds": int(round(end - doc["CreationTime"]))}
        for hidden in ("ParentTrials", "Tags"):
            doc.pop(hidden, None)
        return {k: v for k, v in doc.items() if v is not None}

    def top_summaries(self, name, limit=50):
        """Up to ``limit`` training job summaries, best objective first (what a TuningStep's properties list)."""
        doc = self._doc(name)
        scored = [t for t in self.trials(doc) if t.get("ObjectiveStatus") == "Succeeded"]
        return sorted(scored, key=_objective_value, reverse=_maximize(doc))[:limit]

    # -- creating -----------------------------------------------------------------------------------
    def create(self, request, should_stop=None):
        """Check and record the tuning job, then run it to its end; returns its ARN."""
        name = request["HyperParameterTuningJobName"]
        config = request["HyperParameterTuningJobConfig"]
        definition = self._definition(request)
        ranges = parse_ranges(config)
        check_strategy(config, ranges)
        limits = dict(config["ResourceLimits"])
        self._check_limits(config, limits, ranges)
        self._check_objective(config, definition, ranges)
        parents = self._parents(request, limits, definition, ranges)
        arn = self.arn(name)
        now = time.time()
        config = dict(config, ResourceLimits=limits)
        doc = {"HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": arn,
               "HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition,
               "WarmStartConfig": request.get("WarmStartConfig"), "HyperParameterTuningJobStatus": "InProgress",
               "CreationTime": now, "LastModifiedTime": now, "ParentTrials": parents, "Tags": request.get("Tags")}
        with self.store.transaction():
            if self.store.get(TUNING_KIND, name.lower()):
                raise ApiError("ResourceInUse", f"Hyperparameter tuning job with name {name} already exists ({arn}).")
            self.store.put(TUNING_KIND, name.lower(), arn, {k: v for k, v in doc.items() if v is not None},
                           created=now)
        self.runtime.warm_up()
        self.run(doc, ranges, should_stop or (lambda: False))
        return arn

    def _definition(self, request):
        if request.get("TrainingJobDefinitions"):
            raise not_implemented("Tuning several algorithms at once (TrainingJobDefinitions) is not emulated by "
                                  "the kit's local mode: give one TrainingJobDefinition.")
        if request.get("Autotune"):
            raise not_implemented("Autotune is not emulated by the kit's local mode: give the parameter ranges.")
        definition = request.get("TrainingJobDefinition")
        if not definition:
            raise validation("A hyperparameter tuning job needs a TrainingJobDefinition: the training jobs it runs.")
        return definition

    def _check_limits(self, config, limits, ranges):
        strategy = config["Strategy"]
        if strategy == "Grid":
            combinations = grid_size(ranges)
            given = limits.get("MaxNumberOfTrainingJobs")
            if given is not None and given != combinations:
                raise validation(f"For the Grid strategy, MaxNumberOfTrainingJobs ({given}) must be the number of "
                                 f"combinations of the categorical values ({combinations}), or left out.")
            limits["MaxNumberOfTrainingJobs"] = combinations
        elif limits.get("MaxNumberOfTrainingJobs") is None:
            raise validation(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy.")
        if limits["MaxParallelTrainingJobs"] > limits["MaxNumberOfTrainingJobs"]:
            raise validation(f"MaxParallelTrainingJobs ({limits['MaxParallelTrainingJobs']}) cannot be greater than "
                             f"MaxNumberOfTrainingJobs ({limits['MaxNumberOfTrainingJobs']}).")

    def _check_objective(self, config, definition, ranges):
        objective = config.get("HyperParameterTuningJobObjective")
        if not objective:
            raise validation("HyperParameterTuningJobObjective is required: the metric (MetricName) the tuning job "
                             "optimises and whether to Minimize or Maximize it.")
        static = definition.get("StaticHyperParameters") or {}
        both = sorted(r.name for r in ranges if r.name in static)
        if both:
            raise validation(f"Hyperparameter {', '.join(both)} is both static (StaticHyperParameters) and tunable "
                             "(ParameterRanges); give it in one of them.")
        metrics = (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
        names = [m.get("Name") for m in metrics]
        if names and objective["MetricName"] not in names:
            raise validation(f"The objective metric {objective['MetricName']} is not one of the MetricDefinitions "
                             f"({', '.join(names)}). Define it there (a Name and a Regex over the training log).")

    def _parents(self, request, limits, definition, ranges):
        """The warm-start parents' training job summaries (checked as AWS checks parents)."""
        warm = request.get("WarmStartConfig")
        if not warm:
            return []
        objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        found, tunable = [], len(ranges) + len(definition.get("StaticHyperParameters") or {})
        for parent in warm["ParentHyperParameterTuningJobs"]:
            doc = self._doc(parent["HyperParameterTuningJobName"])
            pname = doc["HyperParameterTuningJobName"]
            if doc["HyperParameterTuningJobStatus"] not in TERMINAL:
                raise validation(f"Parent tuning job {pname} is {doc['HyperParameterTuningJobStatus']}; a warm start "
                                 "needs parent jobs that have finished (Completed, Stopped or Failed).")
            pconfig = doc["HyperParameterTuningJobConfig"]
            if pconfig["HyperParameterTuningJobObjective"] != objective:
                raise validation(f"Parent tuning job {pname} optimises "
                                 f"{pconfig['HyperParameterTuningJobObjective']}; a warm start must keep the "
                                 f"objective ({objective}).")
            if warm["WarmStartType"] == "IdenticalDataAndAlgorithm":
                pdef = doc["TrainingJobDefinition"]
                same = (pdef["AlgorithmSpecification"].get("TrainingImage") == definition["AlgorithmSpecification"]
                        .get("TrainingImage") and pdef.get("InputDataConfig") == definition.get("InputDataConfig"))
                if not same:
                    raise validation(f"WarmStartType IdenticalDataAndAlgorithm needs the parent's training image and "
                                     f"input data; parent tuning job {pname} used others. Use TransferLearning.")
                pcount = len(parse_ranges(pconfig)) + len(pdef.get("StaticHyperParameters") or {})
                if pcount != tunable:
                    raise validation(f"With IdenticalDataAndAlgorithm the number of static plus tunable "
                                     f"hyperparameters must stay {pcount} (parent tuning job {pname}); "
                                     f"it is {tunable}.")
            found += self.trials(doc)
        if len(found) + limits["MaxNumberOfTrainingJobs"] > MAX_TRAINING_JOBS:
            raise validation(f"A tuning job and its warm-start parents may run at most {MAX_TRAINING_JOBS} training "
                             f"jobs together: the parents ran {len(found)}, and MaxNumberOfTrainingJobs is "
                             f"{limits['MaxNumberOfTrainingJobs']}.")
        return found

    # -- running ------------------------------------------------------------------------------------
    def _set(self, name, **fields):
        def change(doc):
            doc.update(fields)
            doc["LastModifiedTime"] = time.time()
            return doc

        return self.store.update(TUNING_KIND, name.lower(), change)

    def _stop_requested(self, name):
        doc = self.store.get(TUNING_KIND, name.lower()) or {}
        return doc.get("HyperParameterTuningJobStatus") == "Stopping"

    def run(self, doc, ranges, should_stop):
        """Run the training jobs the strategy suggests; record how the tuning job ended."""
        name, config = doc["HyperParameterTuningJobName"], doc["HyperParameterTuningJobConfig"]
        limits = config["ResourceLimits"]
        max_jobs = int(limits["MaxNumberOfTrainingJobs"])
        parallel = max(1, min(int(limits["MaxParallelTrainingJobs"]), os.cpu_count() or 1))
        strategy = make_strategy(config, ranges, max_jobs)
        for trial in doc.get("ParentTrials", []):  # prior observations
            values = {r.name: r.parse((trial.get("TunedHyperParameters") or {}).get(r.name)) for r in ranges}
            if all(v is not None for v in values.values()):
                strategy.observe(values, _objective_value(trial, None))
        target = (config.get("TuningJobCompletionCriteria") or {}).get("TargetObjectiveMetricValue")
        maximize = _maximize(doc)
        stopping = lambda: should_stop() or self._stop_requested(name)  # noqa: E731 - asked by every training job
        self.runtime.echo(f"── HyperParameterTuningJob {name} · {config['Strategy']} · {max_jobs} training jobs, "
                          f"{parallel} at a time")
        launched, running, reached, fault = 0, {}, False, None
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="tuning") as pool:
            while True:
                halt = stopping() or reached or fault is not None
                try:
                    while not halt and launched < max_jobs and len(running) < parallel:
                        values = strategy.suggest()
                        if values is None:
                            max_jobs = launched
                            break
                        launched += 1
                        job = f"{name}-{launched:03d}-{os.urandom(4).hex()}"
                        tuned = {r.name: r.as_string(values[r.name]) for r in ranges}
                        running[pool.submit(self._train, doc, job, tuned, stopping)] = values
                except Exception as exc:  # noqa: BLE001 - a fault of the strategy ends the job Failed, not InProgress
                    fault = fault or exc
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.05, return_when=FIRST_COMPLETED)
                for future in done:
                    values = running.pop(future)
                    try:
                        objective = future.result()
                        strategy.tell(values, objective)
                    except Exception as exc:  # noqa: BLE001 - as above: the running jobs finish, no new one starts
                        fault = fault or exc
                        continue
                    if objective is not None and target is not None:
                        reached = reached or (objective >= target if maximize else objective <= target)
        self._finish(doc, stopping(), reached, fault)

    def _train(self, doc, job, tuned, should_stop):
        """Run one training job; record its summary; returns its objective value or None."""
        config, definition = doc["HyperParameterTuningJobConfig"], doc["TrainingJobDefinition"]
        objective = config["HyperParameterTuningJobObjective"]
        arn = self.runtime.arn(_TRAINING, job)
        now = time.time()
        summary = {"TrainingJobName": job, "TrainingJobArn": arn, "TuningJobName": doc["HyperParameterTuningJobName"],
                   "CreationTime": now, "TrainingStartTime": now, "TrainingJobStatus": "InProgress",
                   "TunedHyperParameters": tuned, "ObjectiveStatus": "Pending"}
        self.store.put(TRIAL_KIND, job.lower(), arn, summary, parent=doc["HyperParameterTuningJobArn"], created=now)
        request = {k: definition[k] for k in _PASSED_ON if definition.get(k) is not None}
        spec = definition["AlgorithmSpecification"]
        request["AlgorithmSpecification"] = {k: v for k, v in spec.items() if k != "AlgorithmName" or v}
        request["ResourceConfig"] = {k: v for k, v in (definition.get("ResourceConfig") or definition.get(
            "HyperParameterTuningResourceConfig") or {}).items() if k in ("InstanceType", "InstanceCount",
                                                                          "VolumeSizeInGB", "VolumeKmsKeyId")}
        request["HyperParameters"] = {**(definition.get("StaticHyperParameters") or {}), **tuned,
                                      "_tuning_objective_metric": objective["MetricName"]}
        request["TrainingJobName"] = job
        request["TuningJobArn"] = doc["HyperParameterTuningJobArn"]
        try:
            self.runtime.create("TrainingJob", request, should_stop=should_stop)
        except JobStopped:
            pass
        except ApiError as exc:  # refused before it ran (a name clash): the job failed
            self._record_unrun(job, arn, "Failed", now, time.time(), f"ClientError: {exc.message}")
        described = self.store.get(_TRAINING.store_kind, job.lower()) or {}
        status = described.get("TrainingJobStatus", "Failed")
        value = next((m["Value"] for m in described.get("FinalMetricDataList") or []
                      if m.get("MetricName") == objective["MetricName"]), None)
        summary.update(TrainingJobStatus=status, TrainingEndTime=described.get("TrainingEndTime", time.time()),
                       ObjectiveStatus="Succeeded" if value is not None else "Failed")
        if described.get("FailureReason"):
            summary["FailureReason"] = described["FailureReason"]
        elif status == "Completed" and value is None:
            summary["FailureReason"] = (f"The training job reported no value for the objective metric "
                                        f"{objective['MetricName']}.")
        if value is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": objective["Type"], "MetricName": objective["MetricName"], "Value": value}
        self.store.put(TRIAL_KIND, job.lower(), arn, summary, parent=doc["HyperParameterTuningJobArn"])
        return value

    def _record_unrun(self, job, arn, status, created, ended, reason=None):
        """Record a training job of the tuning job that never ran (refused, or its process died first)."""
        doc = {"TrainingJobName": job, "TrainingJobArn": arn, "TrainingJobStatus": status, "CreationTime": created,
               "TrainingEndTime": ended, "LastModifiedTime": ended}
        if reason:
            doc["FailureReason"] = reason
        self.store.put(_TRAINING.store_kind, job.lower(), arn, doc)

    def _finish(self, doc, stopped, reached, fault=None):
        name = doc["HyperParameterTuningJobName"]
        trials = self.trials(doc)
        fields = {"HyperParameterTuningEndTime": time.time()}
        if fault is not None:
            fields["HyperParameterTuningJobStatus"] = "Failed"
            fields["FailureReason"] = (f"InternalServerError: the kit's local tuning could not go on: "
                                       f"{type(fault).__name__}: {fault}")[:1024]
        elif stopped and not reached:
            fields["HyperParameterTuningJobStatus"] = "Stopped"
        elif any(t.get("ObjectiveStatus") == "Succeeded" for t in trials):
            fields["HyperParameterTuningJobStatus"] = "Completed"
            if reached:
                fields["TuningJobCompletionDetails"] = {"NumberOfTrainingJobsObjectiveNotImproving": 0}
        else:
            fields["HyperParameterTuningJobStatus"] = "Failed"
            fields["FailureReason"] = failure_reason(trials)[:1024]
        self._set(name, **fields)
        self.runtime.echo(f"   tuning job {name}: {fields['HyperParameterTuningJobStatus']}"
                          + (f" ({fields['FailureReason']})" if "FailureReason" in fields else ""))


def failure_reason(trials):
    """Why a tuning job none of whose training jobs gave an objective value failed, naming the first failure."""
    if not trials:
        return "ClientError: the tuning job ran no training job."
    first = next((t for t in trials if t.get("FailureReason")), trials[0])
    cause = first.get("FailureReason") or first["TrainingJobStatus"]
    internal = all(str(t.get("FailureReason", "")).startswith("InternalServerError") for t in trials)
    return (("InternalServerError: " if internal else "")
            + f"None of the tuning job's {len(trials)} training jobs reported the objective metric. "
            f"The first to fail, {first['TrainingJobName']}: {cause}")


def _retryable(trial):
    return str(trial.get("FailureReason", "")).startswith("InternalServerError")


def _maximize(doc):
    return doc["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] == "Maximize"


def _objective_value(trial, default=float("nan")):
    return (trial.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value", default)


def best_of(trials, maximize):
    """The summary with the best objective value among ``trials`` (None if none has one)."""
    scored = [t for t in trials if t.get("ObjectiveStatus") == "Succeeded"]
    if not scored:
        return None
    return (max if maximize else min)(scored, key=_objective_value)
