"""Scripts that run inside SageMaker processing jobs (each is uploaded alone as the job code)."""
