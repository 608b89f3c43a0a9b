"""What the lesson's pipelines are made of, whichever SDK builds them: names, image versions, hyperparameters, scripts.

Also the parts that SDK v2's builders (:mod:`lab_helpers.pipelines`) and v3's (:mod:`lab_helpers.pipelines_v3`)
build alike: each builder passes in its SDK's classes as ``classes``, ``{class name: class}``, with its
functions ``processing_input(source, destination, name)`` and ``processing_output(name, source, destination)``.
"""

from pathlib import Path

from .config import LAB_PREFIX

STEPS_DIR = Path(__file__).resolve().parent / "steps"
XGBOOST_VERSION = "1.7-1"
SKLEARN_VERSION = "1.2-1"
ABALONE_PIPELINE = "AbalonePipeline"
ABALONE_GROUP = "AbaloneModelPackageGroup"
OUTLINE_PIPELINE = "LessonOutlinePipeline"
OUTLINE_GROUP = "PipelineModelPackageGroup"

#: AWS's abalone example's hyperparameters (with the current objective name: reg:linear is deprecated)
HYPERPARAMETERS = {
    "objective": "reg:squarederror",
    "num_round": 50,
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4,
    "min_child_weight": 6,
    "subsample": 0.7,
}

#: The lesson outline's Step 4 hyperparameters
OUTLINE_HYPERPARAMETERS = {"objective": "reg:squarederror", "num_round": 50, "max_depth": 5, "eta": 0.2, "subsample": 0.7}


def step_script(name):
    """Path of a step script shipped in ``lab_helpers/steps`` (e.g. ``"preprocess.py"``)."""
    path = STEPS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"No step script {name} in {STEPS_DIR}.")
    return str(path)


def abalone_setup(classes, session, role, name, input_data, batch_data, mse_threshold):
    """``(role, region, base URI, run_output, parameters)`` of the abalone pipeline ``name``.

    The role defaults to the session's execution role; the data URIs to the kit's copies, uploaded by
    :func:`lab_helpers.data.upload_abalone` when either is not given.  ``run_output(*parts)`` is an S3 URI below
    the base, per execution; ``parameters`` are ``{name: parameter}`` in the definition's order.  ``classes``:
    ExecutionVariables, Join, ParameterFloat, ParameterInteger, ParameterString.
    """
    from . import data
    from .sessions import execution_role

    role = role or execution_role(session)
    region = session.boto_region_name
    bucket = session.default_bucket()
    if input_data is None or batch_data is None:
        uris = data.upload_abalone(session)
        input_data = input_data or uris["input"]
        batch_data = batch_data or uris["batch"]
    base = f"s3://{bucket}/{LAB_PREFIX}/{name}"

    def run_output(*parts):
        return classes["Join"](on="/", values=[base, classes["ExecutionVariables"].PIPELINE_EXECUTION_ID, *parts])

    # Parameters: values you can change per execution without editing the pipeline.
    ParameterInteger, ParameterString = classes["ParameterInteger"], classes["ParameterString"]
    parameters = [
        ParameterInteger(name="ProcessingInstanceCount", default_value=1),
        ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge"),
        ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval"),
        ParameterString(name="InputData", default_value=input_data),
        ParameterString(name="BatchData", default_value=batch_data),
        classes["ParameterFloat"](name="MseThreshold", default_value=float(mse_threshold)),
    ]
    return role, region, base, run_output, {parameter.name: parameter for parameter in parameters}


def processing_step(classes, processor, name, inputs, outputs, script, cache_config=None, arguments=None,
                    property_files=None):
    """A processing step: ``processor`` runs the step script ``script`` with ``arguments``.

    ``inputs`` are ``(S3 source, container folder)`` pairs, named input-1, input-2, ...; ``outputs`` are
    ``(name, container folder, S3 destination)``.  ``classes``: ProcessingStep, processing_input, processing_output.
    """
    run_args = {} if arguments is None else {"arguments": arguments}
    step_args = {} if property_files is None else {"property_files": property_files}
    return classes["ProcessingStep"](
        name=name,
        cache_config=cache_config,
        step_args=processor.run(
            inputs=[classes["processing_input"](source, destination, f"input-{number}")
                    for number, (source, destination) in enumerate(inputs, start=1)],
            outputs=[classes["processing_output"](*output) for output in outputs],
            code=step_script(script),
            **run_args,
        ),
        **step_args,
    )


def abalone_preprocessing(classes, processor_class, processor_args, session, role, parameters, run_output,
                          cache_config=None):
    """The abalone pipeline's preprocessing step: split and scale the raw data (InputData) into train,
    validation and test, with a ``processor_class(**processor_args)`` that runs scikit-learn.

    ``parameters`` and ``run_output`` are :func:`abalone_setup`'s; ``classes``: :func:`processing_step`'s.
    """
    processor = processor_class(
        **processor_args,
        instance_type="ml.m5.xlarge",
        instance_count=parameters["ProcessingInstanceCount"],
        base_job_name="abalone-process",
        role=role,
        sagemaker_session=session,
    )
    return processing_step(
        classes, processor, "AbaloneProcess",
        inputs=[(parameters["InputData"], "/opt/ml/processing/input")],
        outputs=[(split, f"/opt/ml/processing/{split}", run_output("AbaloneProcess", split))
                 for split in ("train", "validation", "test")],
        script="preprocess.py", cache_config=cache_config, arguments=["--random-state", "42"],
    )


def abalone_evaluation(classes, session, role, image_uri, run_output, model_uri, test_uri, cache_config=None):
    """``(step, report, evaluation URI)``: the abalone pipeline's evaluation of the model at ``model_uri`` on the
    test split at ``test_uri``, its report a property file the condition reads.

    ``classes``: ScriptProcessor, PropertyFile, and :func:`processing_step`'s.
    """
    script_eval = classes["ScriptProcessor"](
        image_uri=image_uri,
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="abalone-eval",
        role=role,
        sagemaker_session=session,
    )
    evaluation_report = classes["PropertyFile"](name="EvaluationReport", output_name="evaluation",
                                                path="evaluation.json")
    evaluation_uri = run_output("AbaloneEval", "evaluation")
    step_eval = processing_step(
        classes, script_eval, "AbaloneEval",
        inputs=[(model_uri, "/opt/ml/processing/model"), (test_uri, "/opt/ml/processing/test")],
        outputs=[("evaluation", "/opt/ml/processing/evaluation", evaluation_uri)],
        script="evaluate.py", cache_config=cache_config, property_files=[evaluation_report],
    )
    return step_eval, evaluation_report, evaluation_uri


def registration_args(model_package_group, approval_status, inference_instances, transform_instances, **more):
    """Keyword arguments of a model's registration (CSV in and out) for either SDK's register call."""
    return dict(content_types=["text/csv"], response_types=["text/csv"], inference_instances=list(inference_instances),
                transform_instances=list(transform_instances), model_package_group_name=model_package_group,
                approval_status=approval_status, **more)


def abalone_registration(classes, evaluation_uri, model_package_group, approval_status):
    """The abalone model's registration arguments, with the evaluation report as its metrics.

    ``classes``: Join, MetricsSource, ModelMetrics.
    """
    model_metrics = classes["ModelMetrics"](model_statistics=classes["MetricsSource"](
        s3_uri=classes["Join"](on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json"))
    return registration_args(model_package_group, approval_status, ["ml.t2.medium", "ml.m5.large"], ["ml.m5.large"],
                             model_metrics=model_metrics)


def abalone_decision(classes, session, name, parameters, steps, evaluation_report, step_register, step_create_model,
                     transform_output, cache_config=None):
    """The abalone pipeline, from its condition on: if the test MSE is at most MseThreshold, register the model,
    create it and batch-score BatchData into ``transform_output``; else fail.

    ``steps`` are the steps before the condition, the evaluation (which writes ``evaluation_report``) last;
    ``parameters`` are :func:`abalone_setup`'s.  ``classes``: ConditionLessThanOrEqualTo, ConditionStep,
    FailStep, Join, JsonGet, Pipeline, Transformer, TransformStep.
    """
    mse_threshold = parameters["MseThreshold"]
    transformer = classes["Transformer"](
        model_name=step_create_model.properties.ModelName,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=transform_output,
        sagemaker_session=session,
    )
    step_transform = classes["TransformStep"](
        name="AbaloneTransform",
        cache_config=cache_config,
        step_args=transformer.transform(data=parameters["BatchData"], content_type="text/csv", split_type="Line"),
    )
    mse = classes["JsonGet"](step_name=steps[-1].name, property_file=evaluation_report,
                             json_path="regression_metrics.mse.value")
    step_fail = classes["FailStep"](
        name="AbaloneMSEFail",
        error_message=classes["Join"](on=" ", values=["Execution failed: the test MSE", mse,
                                                      "is above the threshold MseThreshold =", mse_threshold]),
    )
    step_cond = classes["ConditionStep"](
        name="AbaloneMSECond",
        conditions=[classes["ConditionLessThanOrEqualTo"](left=mse, right=mse_threshold)],
        if_steps=[step_register, step_create_model, step_transform],
        else_steps=[step_fail],
    )
    return classes["Pipeline"](name=name, parameters=list(parameters.values()), steps=[*steps, step_cond],
                               sagemaker_session=session)


def outline_locations(session, role, train_uri, validation_uri):
    """``(role, train URI, validation URI, model output URI)`` of the outline pipeline.

    The role defaults to the session's execution role; the splits to the kit's, prepared by
    :func:`lab_helpers.data.prepare_outline_data` when either is not given.
    """
    from .data import prepare_outline_data
    from .sessions import execution_role

    role = role or execution_role(session)
    s3_bucket = session.default_bucket()
    if train_uri is None or validation_uri is None:
        uris = prepare_outline_data(session)
        train_uri, validation_uri = train_uri or uris["train"], validation_uri or uris["validation"]
    return role, train_uri, validation_uri, f"s3://{s3_bucket}/{LAB_PREFIX}/pipeline-model/"
