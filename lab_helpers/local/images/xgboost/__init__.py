"""The built-in XGBoost algorithm (sagemaker-xgboost images), emulated for local mode."""

from .algorithm import (AlgorithmError, MODEL_FILENAME, SUPPORTED_VERSIONS, load_model, predict, run_training,
                        transform_file, validate_hyperparameters)

__all__ = ["AlgorithmError", "MODEL_FILENAME", "SUPPORTED_VERSIONS", "load_model", "predict", "run_training",
           "transform_file", "validate_hyperparameters"]
