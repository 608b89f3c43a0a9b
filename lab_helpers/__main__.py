"""Command line: ``python -m lab_helpers run|check``.

``run``   builds the abalone pipeline in the current mode (LAB_MODE; local by default outside
          Studio), runs it, prints a step table and the evaluation metrics, and exits 0 only if
          the execution succeeded.  ``--param Name=Value`` overrides a pipeline parameter,
          ``--json`` ends with one machine-readable line.
``check`` checks the environment for the mode (Python, SDK v2, local-mode libraries; in remote
          mode region, credentials, role, bucket and IAM permissions): one line each, ✓/✗/?, a
          fix under each ✗; exits 0 when nothing failed, else 1.
"""

import argparse
import json
import sys


def _parse_params(items):
    params = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--param expects Name=Value (e.g. --param MseThreshold=0.5), got {item!r}")
        params[name] = value
    return params


def cmd_run(args):
    """``run``: build, upsert and run the abalone pipeline, print its summary; the exit status."""
    from . import monitor, pipelines, sessions

    if args.mode:
        import os

        os.environ["LAB_MODE"] = args.mode
    sess = sessions.session(args.mode)
    out = sys.stderr if args.json else sys.stdout
    print(f"Mode: {sessions.mode_of(sess)} · region {sess.boto_region_name} · bucket {sess.default_bucket()}", file=out)
    pipeline = pipelines.abalone_pipeline(sess)
    declared = {p.name for p in pipeline.parameters}
    params = _parse_params(args.param)
    unknown = sorted(set(params) - declared)
    if unknown:
        print(f"Unknown pipeline parameter(s): {', '.join(unknown)}. The pipeline's parameters are: "
              f"{', '.join(sorted(declared))}.", file=sys.stderr)
        return 2
    pipeline.upsert(role_arn=sessions.execution_role(sess))
    print(f"Pipeline {pipeline.name} upserted; starting an execution…", file=out)
    execution = pipeline.start(parameters=params or None)
    print(f"Execution {execution.arn.rsplit('/', 1)[-1]} started; its steps and job logs as they run "
          "(Ctrl-C stops watching, not the execution):", file=out)
    try:
        monitor.follow(execution, sess=sess, out=out, logs=True)
    except KeyboardInterrupt:
        print(f"\nStopped watching. The execution runs on: {execution.arn}", file=sys.stderr)
        return 130
    summary = monitor.execution_summary(sess, execution.arn)
    print(monitor.format_summary(summary), file=out)
    if args.json:
        print(json.dumps({"status": summary["status"],
                          "steps": {s["name"]: s["status"] for s in summary["steps"]},
                          "metrics": summary["metrics"]}))
    return 0 if summary["status"] == "Succeeded" else 1


def cmd_check(args):
    """``check``: the environment checks of :mod:`lab_helpers.preflight` for the mode; the exit status."""
    from . import preflight

    return preflight.main(args.mode)


def main(argv=None):
    """Parse ``argv`` (default: the command line), run the subcommand, return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m lab_helpers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="build and run the abalone pipeline")
    run.add_argument("--param", action="append", metavar="Name=Value", help="override a pipeline parameter")
    run.add_argument("--json", action="store_true", help="end with one JSON line (status, steps, metrics)")
    run.add_argument("--mode", choices=["local", "remote"], help="override LAB_MODE")
    run.set_defaults(func=cmd_run)
    check = sub.add_parser("check", help="check the environment for local or remote mode")
    check.add_argument("--mode", choices=["local", "remote"], help="override LAB_MODE")
    check.set_defaults(func=cmd_check)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # a setup problem or a fault: say what and how to fix, not a deep traceback
        line = one_line_error(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2


def one_line_error(exc):
    """The one line the CLI prints for an error a learner can fix (setup, request, control plane, disk), else None."""
    from botocore.exceptions import ClientError

    from .local.store import StoreFault, disk_problem
    from .sessions import LabSetupError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
    if isinstance(exc, StoreFault):
        return str(exc)
    problem = disk_problem(exc)
    if problem:
        return problem
    if isinstance(exc, (LabSetupError, ValueError, FileNotFoundError)):
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
