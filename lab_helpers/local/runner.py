"""The process that runs one pipeline execution, in the background, as SageMaker's service would.

``StartPipelineExecution`` records the execution and starts a runner for it (forked from the fork
server, so it starts warm in milliseconds; a fresh interpreter where there is none), then returns at
once.  The runner holds the execution's lock file for as long as it runs - that is how any other
process tells a running execution from one whose runner died - starts a fork server of its own for
its jobs, runs the execution to its end and records how it ended.  The runner belongs to the top layer, beside :mod:`.cloud`: it builds a cloud in its own process.  It lives in its own session, so
a notebook's Ctrl-C or a kernel restart does not touch it.  Its output (the jobs' logs, as they also
go to CloudWatch Logs) goes to ``LAB_HOME/executions/<execution id>.log``.

    python -m lab_helpers.local.runner <LAB_HOME> <region> <execution ARN> [module to preload ...]

Modules named after the ARN (the SDK's remote-function runner, when the pipeline has ``@step`` steps) are
imported by the jobs' fork server, in the background, so each job of the execution starts with them loaded.
"""

import sys


def main(argv=None):
    """Run the execution ``argv`` names (LAB_HOME, region, ARN, modules for its jobs); returns an exit code."""
    argv = sys.argv[1:] if argv is None else argv
    home, region, arn = argv[:3]
    from .jobs import forkclient

    if forkclient.enabled():
        if "lab_helpers.local.jobs.jobmain" in sys.modules:  # forked from a warm server: fork it as the jobs' server,
            forkclient.shared().start_forked()  # before any thread starts or any file is opened
        else:
            forkclient.shared().start()
        forkclient.shared().preload_now(*argv[3:])  # what every job of this execution imports: once, not per job
    from .cloud import LocalCloud

    from .sagemaker.engine import RUNNER_FAILED
    from .store import StoreFault, disk_problem

    try:
        cloud = LocalCloud(home, region)
        return 0 if cloud.engine.run(arn) else 1
    except (StoreFault, OSError) as exc:  # a fault of the machine, not of the pipeline: one line, for reap
        line = str(exc) if isinstance(exc, StoreFault) else disk_problem(exc)
        if line is None:
            raise
        print(f"{RUNNER_FAILED} {line}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
