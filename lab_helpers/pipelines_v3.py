"""The lesson's pipelines written with SageMaker Python SDK v3 (sagemaker-core, -train, -serve, -mlops).

:func:`lab_helpers.pipelines.abalone_pipeline` and :func:`~lab_helpers.pipelines.outline_pipeline` call their
namesakes here when SDK v3 is installed.
Same steps, names, parameters and references as the v2 builders; the v3 classes that replace v2's:
``ModelTrainer`` for ``Estimator``, ``ScriptProcessor`` with an image from ``image_uris`` for
``SKLearnProcessor``, ``ModelBuilder(...).register()`` / ``.build()`` for ``Model.register()`` /
``Model.create()`` and for the ``RegisterModel`` step collection, API shapes (``ProcessingInput`` + ``ProcessingS3Input``) for v2's input helpers.
How the two definitions differ is listed in :data:`lab_helpers.sdk.V3_DEFINITION_DIFFERENCES`.
The parts both SDKs build alike, built with the classes each builder passes in, are in :mod:`lab_helpers.pipeline_spec`.
"""

from .pipeline_spec import (ABALONE_GROUP, ABALONE_PIPELINE, HYPERPARAMETERS, OUTLINE_GROUP, OUTLINE_HYPERPARAMETERS,
                            OUTLINE_PIPELINE, SKLEARN_VERSION, XGBOOST_VERSION, abalone_decision, abalone_evaluation,
                            abalone_preprocessing, abalone_registration, abalone_setup, outline_locations,
                            registration_args)


def _processing_input(source, destination, name):
    """A processing input from S3 (v2's ``ProcessingInput(source=, destination=)``, as v3's API shape)."""
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return ProcessingInput(input_name=name, s3_input=ProcessingS3Input(
        s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File",
        s3_data_distribution_type="FullyReplicated"), app_managed=False)


def _processing_output(name, source, destination):
    """A processing output to S3 (v2's ``ProcessingOutput``, as v3's API shape)."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
        s3_uri=destination, local_path=source, s3_upload_mode="EndOfJob"), app_managed=False)


def abalone_pipeline(session, role=None, name=ABALONE_PIPELINE, model_package_group=ABALONE_GROUP,
                     input_data=None, batch_data=None, mse_threshold=6.0, hyperparameters=None,
                     cache_config=None):
    """Build the full abalone pipeline with SDK v3 (see :func:`lab_helpers.pipelines.abalone_pipeline`)."""
    from sagemaker.core import image_uris
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep, TransformStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer

    # The classes the steps alike in both SDKs are built with (lab_helpers.pipeline_spec), by name.
    classes = {cls.__name__: cls for cls in (
        ConditionLessThanOrEqualTo, ConditionStep, ExecutionVariables, FailStep, Join, JsonGet, MetricsSource,
        ModelMetrics, ParameterFloat, ParameterInteger, ParameterString, Pipeline, ProcessingStep, PropertyFile,
        ScriptProcessor, Transformer, TransformStep)}
    classes.update(processing_input=_processing_input, processing_output=_processing_output)  # v3's API shapes
    role, region, base, run_output, parameters = abalone_setup(classes, session, role, name, input_data, batch_data,
                                                               mse_threshold)

    # 1. Preprocess: v3 has no SKLearnProcessor; a ScriptProcessor runs the scikit-learn image.
    sklearn_image = image_uris.retrieve(framework="sklearn", region=region, version=SKLEARN_VERSION,
                                        instance_type="ml.m5.xlarge")
    step_process = abalone_preprocessing(classes, ScriptProcessor, dict(image_uri=sklearn_image, command=["python3"]),
                                         session, role, parameters, run_output, cache_config)

    # 2. Train: the built-in XGBoost algorithm, with ModelTrainer.
    image_uri = image_uris.retrieve(framework="xgboost", region=region, version=XGBOOST_VERSION,
                                    instance_type="ml.m5.xlarge")
    xgb_train = ModelTrainer(
        training_image=image_uri,
        compute=Compute(instance_type=parameters["TrainingInstanceType"], instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=f"{base}/models"),
        base_job_name="abalone-train",
        hyperparameters=dict(hyperparameters or HYPERPARAMETERS),
        role=role,
        sagemaker_session=session,
    )
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(
        name="AbaloneTrain",
        cache_config=cache_config,
        step_args=xgb_train.train(input_data_config=[
            InputData(channel_name=split, data_source=outputs[split].S3Output.S3Uri, content_type="text/csv")
            for split in ("train", "validation")
        ]),
    )

    # 3. Evaluate on the test split; the report becomes a property file the condition reads.
    step_eval, evaluation_report, evaluation_uri = abalone_evaluation(
        classes, session, role, image_uri, run_output, step_train.properties.ModelArtifacts.S3ModelArtifacts,
        outputs["test"].S3Output.S3Uri, cache_config)

    # 4. If the model is good enough: register it, create it, and batch-score new data.
    def model_builder():
        return ModelBuilder(image_uri=image_uri, s3_model_data_url=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                            role_arn=role, sagemaker_session=session)

    step_register = ModelStep(
        name="AbaloneRegisterModel",
        step_args=model_builder().register(**abalone_registration(classes, evaluation_uri, model_package_group,
                                                                  parameters["ModelApprovalStatus"])),
    )
    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model_builder().build())
    return abalone_decision(classes, session, name, parameters, [step_process, step_train, step_eval],
                            evaluation_report, step_register, step_create_model, run_output("AbaloneTransform"),
                            cache_config)


def outline_pipeline(session, role=None, name=OUTLINE_PIPELINE, model_package_group=OUTLINE_GROUP,
                     train_uri=None, validation_uri=None, approval_status="Approved"):
    """Build the outline's Step 4 pipeline with SDK v3 (see :func:`lab_helpers.pipelines.outline_pipeline`).

    v3 has no ``RegisterModel`` step collection: the registration is a ``ModelStep`` named ``RegisterModel``
    whose arguments come from ``ModelBuilder(...).register()``, as for the abalone pipeline.
    """
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer

    role, train_uri, validation_uri, model_path = outline_locations(session, role, train_uri, validation_uri)
    xgb_image_uri = image_uris.retrieve(framework="xgboost", region=session.boto_region_name, version=XGBOOST_VERSION)

    xgb_train = ModelTrainer(
        training_image=xgb_image_uri,
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=model_path),
        hyperparameters=dict(OUTLINE_HYPERPARAMETERS),
        role=role,
        sagemaker_session=session,
    )
    step_train = TrainingStep(
        name="Train",
        step_args=xgb_train.train(input_data_config=[
            InputData(channel_name="train", data_source=train_uri, content_type="text/csv"),
            InputData(channel_name="validation", data_source=validation_uri, content_type="text/csv"),
        ]),
    )

    def model_builder():
        return ModelBuilder(image_uri=xgb_image_uri, s3_model_data_url=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                            role_arn=role, sagemaker_session=session)

    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model_builder().build())
    step_register = ModelStep(
        name="RegisterModel",
        step_args=model_builder().register(
            **registration_args(model_package_group, approval_status, ["ml.m5.xlarge"], ["ml.m5.xlarge"])),
    )
    return Pipeline(name=name, steps=[step_train, step_create_model, step_register], sagemaker_session=session)
