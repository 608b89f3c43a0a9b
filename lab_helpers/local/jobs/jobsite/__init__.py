"""Loaded into job processes: their ``sitecustomize`` (the folder itself is put on a job's PYTHONPATH)."""
