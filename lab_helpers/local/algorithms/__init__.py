"""Pure-Python stand-ins for SageMaker built-in algorithm containers (no Docker needed)."""
