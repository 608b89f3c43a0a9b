"""Benchmark: the offline abalone pipeline against an in-process reference doing the same work.

    .venv/bin/python bench/bench_pipeline.py [--runs 5]

Prints medians (seconds), their ratios, and peak memory.  Five figures:

* reference   - one fresh Python process: preprocess, train 50 rounds, evaluate, batch-predict
                (imports included, as a job pays them too);
* cold        - the pipeline's first run in a fresh session process, nothing cached (what a notebook
                cell with ``pipeline.start()`` costs once the SDK is imported and the pipeline upserted);
* warm        - a second execution of the same pipeline in the same session;
* cached      - the same pipeline built with ``CacheConfig(enable_caching=True, expire_after="PT1H")`` on
                every cacheable step, upserted, run once to fill the cache, then run again: that re-run
                (processing and training are cache hits; the transform reads the model its execution's
                Model step creates, a new name each run, so it runs again - as in AWS);
* cli         - ``python -m lab_helpers run`` in a fresh process: SDK import, session,
                pipeline build, upsert and the run.
Each run uses a fresh LAB_HOME.  The goal for the cached re-run is under a third of the reference.  No timings are asserted anywhere: this only reports.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REFERENCE = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    import numpy as np, xgboost as xgb
    from lab_helpers import data
    from lab_helpers.steps import preprocess, evaluate
    from lab_helpers.pipelines import HYPERPARAMETERS
    t1 = time.perf_counter()
    train, validation, test = preprocess.preprocess(preprocess.load_abalone(str(data.abalone_csv())), random_state=42)
    params = {k: v for k, v in HYPERPARAMETERS.items() if k != "num_round"}
    dtrain = xgb.DMatrix(train.iloc[:, 1:].values, label=train.iloc[:, 0].values)
    dval = xgb.DMatrix(validation.iloc[:, 1:].values, label=validation.iloc[:, 0].values)
    booster = xgb.train(params, dtrain, HYPERPARAMETERS["num_round"], evals=[(dtrain, "train"), (dval, "validation")], verbose_eval=False)
    dtest = xgb.DMatrix(test.iloc[:, 1:].values)
    report = evaluate.regression_report(test.iloc[:, 0].values, booster.predict(dtest))
    batch = booster.predict(xgb.DMatrix(test.iloc[:, 1:].values))
    t2 = time.perf_counter()
    print(f"RESULT {t2 - t0:.4f} {t2 - t1:.4f} {report['regression_metrics']['mse']['value']:.4f}")
""")

EXECUTION = textwrap.dedent("""
    import json, resource, sys, time
    import lab_helpers
    from lab_helpers import pipelines, monitor
    sess = lab_helpers.session("local")
    pipeline = pipelines.abalone_pipeline(sess)
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    sess.cloud.log_sink = lambda line: None
    peak = [0]
    try:  # sample the whole process tree (session + fork server + jobs) every 20 ms
        import os, threading, psutil
        me = psutil.Process(os.getpid())
        def sample():
            while not done.is_set():
                total = 0
                for p in [me] + me.children(recursive=True):
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total)
                time.sleep(0.02)
        done = threading.Event()
        threading.Thread(target=sample, daemon=True).start()
    except ImportError:
        done = None
    def timed(pipeline):
        t0 = time.perf_counter()
        execution = pipeline.start()
        execution.wait()
        seconds = time.perf_counter() - t0
        assert execution.describe()["PipelineExecutionStatus"] == "Succeeded", execution.describe()
        return seconds, execution
    cold, execution = timed(pipeline)
    if done is not None:
        done.set()
    mse = monitor.execution_summary(sess, execution.arn)["metrics"].get("mse")
    warm, _ = timed(pipeline)
    from sagemaker.workflow.steps import CacheConfig
    cached_pipeline = pipelines.abalone_pipeline(sess, cache_config=CacheConfig(enable_caching=True,
                                                                                   expire_after="PT1H"))
    cached_pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    filling, _ = timed(cached_pipeline)
    cached, rerun = timed(cached_pipeline)
    hits = sorted(s["StepName"] for s in rerun.list_steps() if s.get("CacheHitResult"))
    print("RESULT", json.dumps({"seconds": cold, "warm": warm, "filling": filling, "cached": cached,
          "hits": hits, "status": "Succeeded", "mse": mse,
          "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
          "rss_tree_mb": peak[0] / 2**20}))
""")


def run(code_or_args, env, label):
    args = [sys.executable, "-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{label} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
    return wall, (lines[-1][len("RESULT "):] if lines else proc.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reference, execution, warm, cached, cli, peaks = [], [], [], [], [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, LAB_HOME=home, LAB_MODE="local", SAGEMAKER_SUPPRESS_V2_WARNING="1")
            wall, out = run(REFERENCE, env, "reference")
            reference.append(wall)
            ref_mse = float(out.split()[2])
            wall, out = run(EXECUTION, env, "execution")
            result = json.loads(out)
            assert result["status"] == "Succeeded", result
            execution.append(result["seconds"])
            warm.append(result["warm"])
            cached.append(result["cached"])
            peaks.append((result["rss_self_mb"], result["rss_tree_mb"]))
            wall, out = run([sys.executable, "-m", "lab_helpers", "run", "--json"], env, "cli")
            cli.append(wall)
            print(f"run {i + 1}: reference {reference[-1]:.2f}s (mse {ref_mse:.3f}) · "
                  f"cold {execution[-1]:.2f}s (mse {result['mse']:.3f}) · warm {warm[-1]:.2f}s · "
                  f"cached re-run {cached[-1]:.2f}s (hits: {', '.join(result['hits'])}) · cli {cli[-1]:.2f}s",
                  flush=True)
    ref, exe, again, hit, whole = (statistics.median(x) for x in (reference, execution, warm, cached, cli))
    self_peak = max(p[0] for p in peaks)
    child_peak = max(p[1] for p in peaks)
    print()
    print(f"machine: {os.cpu_count()} cores · python {sys.version.split()[0]} · fork server "
          f"{'off' if os.environ.get('LAB_FORK_SERVER') == '0' else 'on'} · {args.runs} runs, medians")
    print(f"reference (in-process, fresh interpreter)   {ref:6.2f} s")
    print(f"pipeline execution, cold (start -> done)    {exe:6.2f} s   ratio {exe / ref:4.2f}")
    print(f"pipeline execution, warm (second run)       {again:6.2f} s   ratio {again / ref:4.2f}")
    print(f"re-run with caching on (cache hits)         {hit:6.2f} s   ratio {hit / ref:4.2f}   "
          f"goal < 0.33: {'met' if hit / ref < 1 / 3 else 'NOT met'}")
    print(f"python -m lab_helpers run (cold, whole)     {whole:6.2f} s   ratio {whole / ref:4.2f}")
    tree = f"{child_peak:.0f} MiB" if child_peak else "n/a (install psutil)"
    print(f"peak RSS: session process {self_peak:.0f} MiB; whole process tree during the run {tree} "
          "(a sum of RSS: pages the fork server shares with its jobs count in each, so this overstates)")


if __name__ == "__main__":
    main()
