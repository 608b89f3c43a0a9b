"""The pre-flight check (python -m lab_helpers check) and the cost table."""

import subprocess
import sys
from pathlib import Path

import pytest

import aws_emulator
from lab_helpers import config, costs, preflight
from lab_helpers.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def moto_account(monkeypatch):
    """Fake credentials, region eu-west-2, not in Studio, no role; every AWS call answered by moto."""
    from moto import mock_aws

    aws_emulator.use_fake_account(monkeypatch, role=False)
    monkeypatch.setattr(config, "in_studio", lambda: False)
    with mock_aws():
        yield


def by_name(checks):
    return {c.name: c for c in checks}


# --------------------------------------------------------------------------------------
# costs
# --------------------------------------------------------------------------------------


def test_prices_are_dated_approximate_and_point_to_the_pricing_page():
    assert costs.PRICES_NOTED and costs.PRICE_REGION == "us-east-1"
    assert set(costs.PRICES_PER_HOUR) == {"ml.m5.large", "ml.m5.xlarge", "ml.t2.medium", "ml.t3.medium"}
    text = costs.lesson_cost_text()
    assert "Approximate" in text and costs.PRICES_NOTED in text
    assert "https://aws.amazon.com/sagemaker/pricing/" in text


def test_job_cost_is_per_second_with_a_one_minute_minimum(monkeypatch):
    monkeypatch.setitem(costs.PRICES_PER_HOUR, "ml.m5.xlarge", 0.24)
    assert costs.job_cost("ml.m5.xlarge", 60) == pytest.approx(0.24)
    assert costs.job_cost("ml.m5.xlarge", 4) == pytest.approx(0.016)
    assert costs.job_cost("ml.m5.xlarge", 0.25) == pytest.approx(0.004)    # 15 s bills a full minute
    assert costs.job_cost("ml.m5.xlarge", 1.5) == pytest.approx(0.006)     # then per second
    assert costs.job_cost("ml.m5.xlarge", 4, instance_count=2) == pytest.approx(0.032)
    assert costs.job_cost(None, 4) == 0.0
    with pytest.raises(KeyError, match="pricing"):
        costs.job_cost("ml.p5.48xlarge", 1)


def test_step_costs_rows_and_total():
    rows = costs.step_costs()
    assert [r[0] for r in rows] == [s[0] for s in costs.REMOTE_STEPS]
    table = {r[0]: r for r in rows}
    xl = costs.PRICES_PER_HOUR["ml.m5.xlarge"]
    assert table["AbaloneProcess"][1] == "ml.m5.xlarge"
    assert table["AbaloneProcess"][3] == pytest.approx(xl * table["AbaloneProcess"][2] / 60)
    assert table["AbaloneMSECond"][1:] == ("-", 0.0, 0.0)
    # the jobs (processing, training, eval, transform) take about 3-5 billed minutes each
    jobs = [r for r in rows if r[1] != "-"]
    assert len(jobs) == 4 and all(3 <= r[2] <= 5 for r in jobs)
    assert costs.pipeline_cost() == pytest.approx(sum(r[3] for r in rows))
    assert costs.pipeline_cost() == pytest.approx(xl * 16 / 60)
    assert 0.03 < costs.pipeline_cost() < 0.15  # "cents per run", as notebook 00 says
    assert f"{costs.pipeline_cost():.3f}" in costs.lesson_cost_text()


def test_step_costs_use_the_table(monkeypatch):
    steps = (("A", "training", "ml.m5.large", 30.0), ("B", "training", "ml.t2.medium", 0.1))
    rows = costs.step_costs(steps)
    assert rows[0] == ("A", "ml.m5.large", 30.0, pytest.approx(0.115 / 2))
    assert rows[1][3] == pytest.approx(0.056 / 60)  # minimum minute
    assert costs.pipeline_cost(steps) == pytest.approx(0.115 / 2 + 0.056 / 60)


def test_notebook_costs_follow_what_each_notebook_runs():
    rows = {name: (what, usd) for name, what, usd in costs.notebook_costs()}
    assert sorted(rows) == sorted(p.stem for p in (ROOT / "lessons").glob("[0-9][0-9]_*.py"))
    train = costs.job_cost("ml.m5.xlarge", costs.OUTLINE_TRAIN_MINUTES)
    assert rows["03_training_step"][1] == pytest.approx(train)
    assert rows["06_pipeline"][1] == pytest.approx(train + costs.pipeline_cost() + costs.failing_run_cost())
    assert costs.failing_run_cost() < costs.pipeline_cost()  # no transform job on the failing branch
    assert rows["00_setup"][1] == rows["09_cleanup"][1] == 0.0
    assert costs.lesson_total() == pytest.approx(sum(usd for _, usd in rows.values()) + costs.studio_cost())
    assert costs.lesson_total() < 1.0  # notebook 00 says "well under $1"
    assert f"{costs.lesson_total():.3f}" in costs.lesson_cost_text()


def test_the_instructor_guide_shows_the_package_figures():
    result = subprocess.run([sys.executable, "tools/update_guide_costs.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    guide = (ROOT / "docs" / "instructor-guide.md").read_text()
    assert f"| **total** | | 16 | {costs.pipeline_cost():.3f} |" in guide
    # the check fails when the guide's block is stale
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import update_guide_costs
    finally:
        sys.path.pop(0)
    stale = guide.replace(f"{costs.pipeline_cost():.3f}", "0.999")
    assert stale != guide and update_guide_costs.render(stale) == guide


def _cost_paragraph(lesson):
    text = lesson.read_text()
    start = text.index("**Cost:**")
    return text[start:text.index("\n#\n", start) if "\n#\n" in text[start:] else len(text)].split("# %%")[0]


@pytest.mark.parametrize("lesson", sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_each_notebooks_cost_line_agrees_with_the_package(lesson):
    """Every dollar figure on a notebook's **Cost** line is one the cost table gives for that notebook."""
    import re

    usd = dict((name, usd) for name, _, usd in costs.notebook_costs())[lesson.stem]
    train = costs.job_cost("ml.m5.xlarge", costs.OUTLINE_TRAIN_MINUTES)
    allowed = {f"{x:.2f}" for x in (usd, train, costs.pipeline_cost(), costs.failing_run_cost())}
    figures = re.findall(r"\$(\d+\.\d\d)\b", _cost_paragraph(lesson))
    assert set(figures) <= allowed, f"{lesson.name}: Cost line says ${figures}, lab_helpers.costs gives {sorted(allowed)}"
    if usd >= 0.005:
        assert f"{usd:.2f}" in figures or f"{train:.2f}" in figures, f"{lesson.name}: no cost figure on its Cost line"


# --------------------------------------------------------------------------------------
# local mode
# --------------------------------------------------------------------------------------


def test_local_check_passes_and_exits_0(python_env, lab_home):
    run = subprocess.run([sys.executable, "-m", "lab_helpers", "check", "--mode", "local"], env=python_env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "✗" not in out
    for label in ("mode: local", "Python", "SageMaker Python SDK: 2.", "xgboost: 1.7.", "scikit-learn",
                  "pandas", "LAB_HOME writable", "fork server", "Docker: not needed"):
        assert f"✓ {label}" in out, (label, out)
    assert str(lab_home) in out
    assert lab_home.is_dir() and not list(lab_home.glob(".preflight-*"))  # the probe file is gone


def test_local_check_fails_when_lab_home_is_not_writable(lab_home, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LAB_HOME", str(blocker / "home"))
    checks = preflight.run_checks("local")
    home = by_name(checks)["LAB_HOME writable"]
    assert home.status == preflight.FAIL and "LAB_HOME" in home.fix
    assert preflight.exit_code(checks) == 1


def test_wrong_xgboost_version_is_a_failure_with_the_setup_fix(monkeypatch, lab_home):
    import xgboost

    monkeypatch.setattr(xgboost, "__version__", "2.1.0")
    check = by_name(preflight.run_checks("local"))["xgboost"]
    assert check.status == preflight.FAIL and "2.1.0" in check.detail and "1.7.x" in check.detail
    assert "python3 kit.py setup" in check.fix and "pip install" not in check.fix, \
        "the fix is the kit's own environment, never an install into the running one"


def test_old_python_fails():
    assert preflight.check_python((3, 9, 18)).status == preflight.FAIL
    assert preflight.check_python((3, 10, 0)).status == preflight.OK


# --------------------------------------------------------------------------------------
# SDK v3 refused
# --------------------------------------------------------------------------------------


def test_sdk_v3_is_refused_with_the_kernel_fix(monkeypatch, lab_home, capsys):
    import sagemaker

    monkeypatch.setattr(sagemaker, "__version__", "3.0.1")
    checks = preflight.run_checks("local")
    sdk = by_name(checks)["SageMaker Python SDK"]
    assert sdk.status == preflight.FAIL
    assert "'Lesson 7.1 – SageMaker SDK 2.x'" in sdk.fix and "python3 kit.py setup" in sdk.fix
    assert "pip install" not in sdk.fix, "never a downgrade of the SDK in the running environment"
    assert main(["check", "--mode", "local"]) == 1
    out = capsys.readouterr().out
    assert f"✗ SageMaker Python SDK: 3.0.1 in {sys.executable} is v3" in out
    assert "switch the notebook's kernel to 'Lesson 7.1 – SageMaker SDK 2.x'" in out


def test_sdk_v3_with_the_parts_the_kit_uses_passes_with_a_note(monkeypatch):
    import sagemaker

    monkeypatch.setattr(sagemaker, "__version__", "3.12.0")
    monkeypatch.setattr(preflight, "_importable", lambda name: name in preflight.V3_MODULES)
    check = preflight.check_sdk()
    assert check.status == preflight.NOTE and "(v3)" in check.detail and "the v2 track's notebooks" in check.detail
    assert "Lesson 7.1 – SageMaker SDK 3.x" in check.fix
    monkeypatch.setattr(preflight, "_importable", lambda name: name != "sagemaker.mlops.workflow")
    check = preflight.check_sdk()
    assert check.status == preflight.FAIL and "lacks sagemaker.mlops.workflow" in check.detail


def test_sdk_without_workflow_is_refused(monkeypatch):
    real_find_spec = preflight.importlib.util.find_spec
    monkeypatch.setattr(preflight.importlib.util, "find_spec",
                        lambda name, *a: None if name == "sagemaker.workflow" else real_find_spec(name, *a))
    check = preflight.check_sdk()
    assert check.status == preflight.FAIL and "sagemaker.workflow" in check.detail and check.fix == preflight.SDK_FIX


# --------------------------------------------------------------------------------------
# remote mode against moto
# --------------------------------------------------------------------------------------


def test_remote_without_role_fails_on_the_role_line_with_its_fix(moto_account, capsys):
    checks = preflight.run_checks("remote")
    named = by_name(checks)
    assert named["region"].status == preflight.OK and named["region"].detail == "eu-west-2"
    assert named["credentials"].status == preflight.OK and "123456789012" in named["credentials"].detail
    role = named["execution role"]
    assert role.status == preflight.FAIL
    assert "LAB_ROLE_ARN" in role.fix
    assert preflight.exit_code(checks) == 1
    text = preflight.format_checks(checks)
    assert "✗ execution role" in text and "fix:" in text and "export LAB_ROLE_ARN=" in text
    assert main(["check", "--mode", "remote"]) == 1
    assert "✗ execution role" in capsys.readouterr().out


@pytest.mark.parametrize("role", [False, True], ids=["no role", "role"])
def test_check_command_in_remote_mode_against_the_emulator(python_env, tmp_path, role):
    """``python -m lab_helpers check`` as a learner types it, in a process whose AWS is the in-process emulator."""
    log = tmp_path / "network.log"
    env = aws_emulator.emulator_env(python_env, tmp_path / "site", log, role=role)
    run = subprocess.run([sys.executable, "-m", "lab_helpers", "check"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=180)
    out = run.stdout
    assert "✓ mode: remote" in out and f"✓ region: {aws_emulator.REGION}" in out, out + run.stderr
    assert f"✓ credentials: arn:aws:sts::{aws_emulator.ACCOUNT}:" in out
    if role:
        assert run.returncode == 0, out + run.stderr
        assert f"✓ execution role: {aws_emulator.ROLE_ARN}" in out
        assert f"✓ default bucket: s3://sagemaker-{aws_emulator.REGION}-{aws_emulator.ACCOUNT}" in out
        assert "✗" not in out
    else:
        assert run.returncode == 1, out + run.stderr
        role_line = next(line for line in out.splitlines() if "execution role" in line)
        assert role_line.startswith("✗")
        assert "export LAB_ROLE_ARN=" in out.split(role_line, 1)[1]  # its fix, under it
    assert not log.exists(), f"the check tried to leave the machine: {log.read_text()}"


def test_remote_with_role_has_bucket_and_unverifiable_permissions_are_question_marks(moto_account, monkeypatch):
    import boto3

    role_arn = "arn:aws:iam::123456789012:role/LabSageMakerRole"
    boto3.client("iam").create_role(RoleName="LabSageMakerRole", AssumeRolePolicyDocument="{}")
    monkeypatch.setenv("LAB_ROLE_ARN", role_arn)
    checks = preflight.run_checks("remote")
    named = by_name(checks)
    assert named["execution role"].status == preflight.OK and role_arn in named["execution role"].detail
    assert named["default bucket"].status == preflight.OK
    assert "sagemaker-eu-west-2-123456789012" in named["default bucket"].detail
    boto3.client("s3").head_bucket(Bucket="sagemaker-eu-west-2-123456789012")  # created by the check
    # moto does not implement iam:SimulatePrincipalPolicy: every permission line is "?", not ✗
    perms = [c for c in checks if c.name.startswith("permission ")]
    actions = {c.name.split(" ", 1)[1] for c in perms}
    assert set(preflight.SAGEMAKER_ACTIONS) | {"s3:PutObject", "s3:GetObject", "iam:PassRole"} <= actions
    assert all(c.status == preflight.UNKNOWN and "could not be checked" in c.detail for c in perms)
    assert preflight.exit_code(checks) == 0
    assert "? permission sagemaker:CreatePipeline: could not be checked" in preflight.format_checks(checks)
    assert main(["check", "--mode", "remote"]) == 0


class FakeIam:
    """simulate_principal_policy answers: allowed for all but the denied actions; or an AccessDenied."""

    def __init__(self, denied=(), refuse=False):
        self.denied, self.refuse, self.calls = set(denied), refuse, []

    def simulate_principal_policy(self, **kwargs):
        self.calls.append(kwargs)
        if self.refuse:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed to simulate"}},
                              "SimulatePrincipalPolicy")
        return {"EvaluationResults": [
            {"EvalActionName": a, "EvalDecision": "implicitDeny" if a in self.denied else "allowed"}
            for a in kwargs["ActionNames"]]}


class FakeBotoSession:
    region_name = "eu-west-2"

    def __init__(self, iam):
        self.iam = iam

    def client(self, name, region_name=None):
        assert name == "iam"
        return self.iam


def test_permission_checks_report_denied_actions_with_a_fix():
    role = "arn:aws:iam::123456789012:role/R"
    iam = FakeIam(denied={"sagemaker:CreatePipeline", "iam:PassRole"})
    checks = by_name(preflight.permission_checks(FakeBotoSession(iam), role, "bkt"))
    assert checks["permission sagemaker:CreatePipeline"].status == preflight.FAIL
    assert "AmazonSageMakerFullAccess" in checks["permission sagemaker:CreatePipeline"].fix
    assert checks["permission iam:PassRole"].status == preflight.FAIL
    assert checks["permission sagemaker:CreateTrainingJob"].status == preflight.OK
    assert checks["permission s3:PutObject"].status == preflight.OK
    resources = {tuple(c["ResourceArns"]) for c in iam.calls}
    assert ("arn:aws:s3:::bkt/*",) in resources and (role,) in resources
    assert all(c["PolicySourceArn"] == role for c in iam.calls)


def test_permission_checks_are_question_marks_when_the_caller_may_not_simulate():
    checks = preflight.permission_checks(FakeBotoSession(FakeIam(refuse=True)), "arn:aws:iam::1:role/R", "b")
    assert checks and all(c.status == preflight.UNKNOWN for c in checks)
    assert "AccessDenied" in checks[0].detail
    assert preflight.exit_code(checks) == 0
    assert "✗" not in preflight.format_checks(checks)


def test_mode_line_says_why_in_words(monkeypatch):
    from lab_helpers import config, preflight

    monkeypatch.delenv("LAB_MODE", raising=False)
    monkeypatch.setattr(config, "in_studio", lambda: False)
    chosen, check = preflight.check_mode(None)
    assert chosen == "local" and "detection" not in check.detail
    assert check.detail == "local (the default outside SageMaker Studio; LAB_MODE=remote to use your AWS account)"
    monkeypatch.setattr(config, "in_studio", lambda: True)
    assert "the default in SageMaker Studio" in preflight.check_mode(None)[1].detail
    monkeypatch.setenv("LAB_MODE", "local")
    assert preflight.check_mode(None)[1].detail == "local (set by LAB_MODE)"
    assert preflight.check_mode("remote")[1].detail == "remote (chosen by the notebook's MODE or --mode)"
