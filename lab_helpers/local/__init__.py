"""Local mode: in-process emulation of the AWS services the course kit uses."""
