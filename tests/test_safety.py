"""The regression suite of the "safe by construction" issue: escapes, wrong states and faults in local mode.

Each test provokes one case the issue lists (a hostile archive, path, name, link or key; a broken
control plane; bad input data; a hostile Lambda record) and checks that the kit refuses it in one
clear message and that nothing outside ``LAB_HOME`` and the job folders was read, written or deleted.
"""

import io
import os
import tarfile
import uuid

import pytest
from botocore.exceptions import ClientError

import lab_helpers
from test_automation import fakes  # noqa: F401  (the stand-in clients fixture)
from test_runtime import get_bytes, keys_under, put, run_processing, run_training, s3_client, s3_input, \
    s3_output, xgb_image


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("safety-lab-home")


@pytest.fixture(scope="module")
def sess(home):
    return lab_helpers.local_session(home=home)


@pytest.fixture()
def outside(tmp_path):
    """A host folder outside LAB_HOME holding one file; tests check it is never read, written or deleted."""
    folder = tmp_path / "host"
    folder.mkdir()
    (folder / "secret.txt").write_text("host secret\n")
    return folder


def host_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------------------------------------------
# escapes: archives
# --------------------------------------------------------------------------------------------------


def _archive(build):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        build(tar)
    return buffer.getvalue()


def _add_file(tar, name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_link(tar, name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


def _hostile_members(case, outside):
    def build(tar):
        _add_file(tar, "xgboost-model", b"not a model")
        if case == "dotdot":
            _add_file(tar, "../../../../../../../../" + str(outside / "written.txt").lstrip("/"))
        elif case == "absolute":
            _add_file(tar, str(outside / "written.txt"))
        elif case == "symlink":
            _add_link(tar, "escape", str(outside))
            _add_file(tar, "escape/written.txt")
        elif case == "relative-symlink":
            _add_link(tar, "up", "../../../../../../../../../..")
        elif case == "link-chain":  # each link stays inside on its own; together they lead out
            _add_link(tar, "here", ".")
            _add_link(tar, "here/up", "..")
            _add_file(tar, "here/up/written.txt")
        elif case == "hardlink":
            _add_link(tar, "hard", str(outside / "secret.txt"), tarfile.LNKTYPE)
    return _archive(build)


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink", "relative-symlink", "link-chain", "hardlink"])
def test_batch_transform_refuses_a_model_archive_that_escapes(sess, outside, case):
    model_uri = put(sess, f"safety/{case}/model.tar.gz", _hostile_members(case, outside))
    model = unique("hostile-model")
    sess.sagemaker_client.create_model(ModelName=model, ExecutionRoleArn=lab_helpers.execution_role(sess),
                                       PrimaryContainer={"Image": xgb_image(sess), "ModelDataUrl": model_uri})
    source = put(sess, f"safety/{case}/in/a.csv", "1,2,3\n")
    job = unique("hostile-transform")
    sess.sagemaker_client.create_transform_job(
        TransformJobName=job, ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{sess.default_bucket()}/safety/{case}/out"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1})
    described = sess.sagemaker_client.describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError: the model artifact") and "refuses to extract" in reason, reason
    assert host_files(outside) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "host secret\n"


def test_a_code_archive_that_escapes_is_refused(sess, outside):
    code = put(sess, "safety/code/sourcedir.tar.gz", _hostile_members("dotdot", outside))
    described = run_training(sess, unique("hostile-code"), {"sagemaker_program": '"train.py"',
                                                            "sagemaker_submit_directory": f'"{code}"'},
                             {"train": put(sess, "safety/code/train.csv", "1,2\n")},
                             image=_sklearn(sess))
    assert described["TrainingJobStatus"] == "Failed"
    assert "code archive" in described["FailureReason"] and "'..'" in described["FailureReason"]
    assert host_files(outside) == ["secret.txt"]


def test_the_member_check_alone_refuses_every_hostile_archive(tmp_path, outside):
    """The check that runs before extraction, as on a Python without tarfile's data filter."""
    from lab_helpers.local.jobs.staging import JobFailed, safe_extract

    for case in ("dotdot", "absolute", "symlink", "relative-symlink", "link-chain", "hardlink"):
        with tarfile.open(fileobj=io.BytesIO(_hostile_members(case, outside))) as tar, \
                pytest.MonkeyPatch.context() as patch:
            patch.delattr(tarfile, "data_filter", raising=False)
            with pytest.raises(JobFailed, match="refuses to extract"):
                safe_extract(tar, tmp_path / case, "a test archive")
        assert not any((tmp_path / case).iterdir()), case  # nothing extracted before the refusal
    assert host_files(outside) == ["secret.txt"]


def test_a_sound_archive_with_an_inner_link_is_extracted(tmp_path):
    from lab_helpers.local.jobs.staging import safe_extract

    def build(tar):
        _add_file(tar, "code/train.py", b"print(1)")
        _add_link(tar, "code/alias.py", "train.py")

    with tarfile.open(fileobj=io.BytesIO(_archive(build))) as tar:
        safe_extract(tar, tmp_path / "ok", "a test archive")
    assert (tmp_path / "ok" / "code" / "alias.py").read_bytes() == b"print(1)"


def _sklearn(sess):
    from sagemaker import image_uris

    return image_uris.retrieve("sklearn", sess.boto_region_name, "1.2-1")


# --------------------------------------------------------------------------------------------------
# escapes: channel names, processing paths
# --------------------------------------------------------------------------------------------------


def test_a_channel_name_that_leaves_the_data_folder_is_refused_by_validation(sess):
    with pytest.raises(ClientError) as caught:
        run_training(sess, unique("bad-channel"), {"num_round": "1"},
                     {"../../../../escape": put(sess, "safety/ch/train.csv", "1,2\n")})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "channelName" in str(caught.value) or "ChannelName" in str(caught.value)


def test_the_channel_name_dot_dot_matches_aws_pattern_and_is_refused_by_the_runtime(sess, home):
    name = unique("dotdot-channel")
    described = run_training(sess, name, {"num_round": "1"}, {"..": put(sess, "safety/ch2/train.csv", "1,2\n")})
    assert described["TrainingJobStatus"] == "Failed"
    assert "channel name '..' is refused" in described["FailureReason"]
    assert not (home / "jobs" / name / "container" / "opt" / "ml" / "input" / "train.csv").exists()


@pytest.mark.parametrize("which", ["input", "output"])
def test_a_processing_path_with_dot_dot_is_refused(sess, outside, which):
    escape = "/opt/ml/processing/../../../../../../../.." + str(outside)
    data = put(sess, "safety/proc/data.csv", "a,b\n")
    out = f"s3://{sess.default_bucket()}/safety/proc/{which}-out"
    if which == "input":
        described = run_processing(sess, unique("dotdot-in"), "print('ran')", inputs=[s3_input("data", data, escape)])
    else:
        described = run_processing(sess, unique("dotdot-out"), "print('ran')",
                                   outputs=[s3_output("leak", out, escape)])
    assert described["ProcessingJobStatus"] == "Failed"
    assert "LocalPath" in described["FailureReason"] and "'..'" in described["FailureReason"]
    assert host_files(outside) == ["secret.txt"]
    assert keys_under(sess, out) == []


# --------------------------------------------------------------------------------------------------
# escapes: symbolic links in LAB_HOME/s3 and in job outputs
# --------------------------------------------------------------------------------------------------


def _bucket(sess, home):
    s3_client(sess).list_buckets()
    return home / "s3" / sess.default_bucket()


def _denied(call):
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied", error
    assert "symbolic link" in error["Message"] and "outside the local S3 folder" in error["Message"], error
    return error["Message"]


def test_a_file_link_out_of_lab_home_s3_is_not_read_or_listed(sess, home, outside):
    bucket = _bucket(sess, home)
    (bucket / "links-file").mkdir(exist_ok=True)
    (bucket / "links-file" / "secret.txt").symlink_to(outside / "secret.txt")
    s3 = s3_client(sess)
    _denied(lambda: s3.get_object(Bucket=sess.default_bucket(), Key="links-file/secret.txt"))
    with pytest.raises(ClientError) as caught:  # HEAD answers have no body: the status alone
        s3.head_object(Bucket=sess.default_bucket(), Key="links-file/secret.txt")
    assert caught.value.response["Error"]["Code"] == "403"
    assert keys_under(sess, f"s3://{sess.default_bucket()}/links-file/") == []


def test_a_folder_link_out_of_lab_home_s3_is_not_listed_written_or_deleted(sess, home, outside):
    bucket = _bucket(sess, home)
    (bucket / "links-dir").symlink_to(outside, target_is_directory=True)
    s3 = s3_client(sess)
    name = sess.default_bucket()
    assert keys_under(sess, f"s3://{name}/links-dir/") == []
    assert keys_under(sess, f"s3://{name}/") == [k for k in keys_under(sess, f"s3://{name}/")
                                                 if not k.startswith("links-dir/")]
    assert "CommonPrefixes" not in s3.list_objects_v2(Bucket=name, Prefix="links-dir/", Delimiter="/")
    _denied(lambda: s3.get_object(Bucket=name, Key="links-dir/secret.txt"))
    _denied(lambda: s3.put_object(Bucket=name, Key="links-dir/written.txt", Body=b"x"))
    _denied(lambda: s3.delete_object(Bucket=name, Key="links-dir/secret.txt"))
    _denied(lambda: s3.copy_object(Bucket=name, Key="copied.txt", CopySource={"Bucket": name,
                                                                            "Key": "links-dir/secret.txt"}))
    assert host_files(outside) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "host secret\n"


def test_a_job_does_not_copy_in_an_object_that_links_out(sess, home, outside):
    bucket = _bucket(sess, home)
    (bucket / "links-job").mkdir(exist_ok=True)
    (bucket / "links-job" / "data.csv").symlink_to(outside / "secret.txt")
    model_uri = f"s3://{sess.default_bucket()}/links-job/data.csv"
    model = unique("linked-model")
    sess.sagemaker_client.create_model(ModelName=model, ExecutionRoleArn=lab_helpers.execution_role(sess),
                                       PrimaryContainer={"Image": xgb_image(sess), "ModelDataUrl": model_uri})
    job = unique("linked-transform")
    sess.sagemaker_client.create_transform_job(
        TransformJobName=job, ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": put(sess, "safety/lnk/a.csv", "1,2\n")}}},
        TransformOutput={"S3OutputPath": f"s3://{sess.default_bucket()}/safety/lnk/out"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1})
    described = sess.sagemaker_client.describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Failed"
    assert "symbolic link" in described["FailureReason"], described["FailureReason"]


def test_a_link_in_a_job_output_to_a_host_file_is_not_uploaded(sess, outside):
    out = f"s3://{sess.default_bucket()}/safety/outlink/out"
    script = f"""
        import os
        os.symlink({str(outside / 'secret.txt')!r}, '/opt/ml/processing/output/leak.txt')
        open('/opt/ml/processing/output/own.txt', 'w').write('mine')
    """
    described = run_processing(sess, unique("out-link"), script,
                               outputs=[s3_output("out", out, "/opt/ml/processing/output")])
    assert described["ProcessingJobStatus"] == "Failed"
    assert "is a symbolic link to" in described["FailureReason"], described["FailureReason"]
    assert keys_under(sess, out) == []


def test_a_link_inside_a_job_output_folder_is_uploaded_as_its_content(sess):
    out = f"s3://{sess.default_bucket()}/safety/inlink/out"
    script = """
        import os
        open('/opt/ml/processing/output/own.txt', 'w').write('mine')
        os.symlink('own.txt', '/opt/ml/processing/output/alias.txt')
    """
    described = run_processing(sess, unique("in-link"), script,
                               outputs=[s3_output("out", out, "/opt/ml/processing/output")])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert get_bytes(sess, f"{out}/alias.txt") == b"mine"


# --------------------------------------------------------------------------------------------------
# the Lambda handler: every record processed, skipped with a log line, or returned for a retry
# --------------------------------------------------------------------------------------------------


def test_lambda_records_that_are_not_sqs_records_are_skipped_with_a_log_line(fakes, caplog):
    from test_automation import PREFIX, invoke, record, s3_body

    caplog.set_level("INFO", logger="lab_helpers.automation.lambda_function")
    good = record(s3_body(PREFIX + "new.csv"), message_id="good")
    result = invoke("a string record", 42, None, {"body": "no id"}, good)
    assert result == {"batchItemFailures": []}
    sm, _ = fakes
    assert len(sm.calls) == 1  # the one real record still started its run
    skipped = [r.getMessage() for r in caplog.records if '"outcome": "skipped"' in r.getMessage()]
    assert len(skipped) == 4 and "a string record" in skipped[0]


def test_lambda_event_that_is_not_a_batch_is_skipped(fakes):
    from lab_helpers.automation import lambda_function as lf

    assert lf.lambda_handler("not an event", None) == {"batchItemFailures": []}
    assert lf.lambda_handler({"Records": "oops"}, None) == {"batchItemFailures": []}


@pytest.mark.parametrize("size, starts", [(1024, True), (1025, False)])
def test_lambda_honours_s3s_1024_byte_key_limit(fakes, size, starts):
    from test_automation import PREFIX, invoke, record, s3_body

    stem = "é" * ((size - len(PREFIX) - 4) // 2)
    key = PREFIX + stem + "x" * ((size - len(PREFIX) - 4) % 2) + ".csv"
    assert len(key.encode()) == size
    assert invoke(record(s3_body(key))) == {"batchItemFailures": []}
    sm, _ = fakes
    assert len(sm.calls) == (1 if starts else 0)


def test_lambda_key_that_is_not_utf8_is_dropped_as_malformed(fakes):
    from test_automation import PREFIX, invoke, record, s3_body

    body = s3_body(PREFIX + "x.csv").replace("x.csv", "%FF%FE.csv")
    assert invoke(record(body)) == {"batchItemFailures": []}
    assert fakes[0].calls == []


# --------------------------------------------------------------------------------------------------
# faults: the control plane's database deleted, corrupt, read-only, on a full disk
# --------------------------------------------------------------------------------------------------


def _cli(home, *args, timeout=600):
    import subprocess
    import sys

    from conftest import child_env

    return subprocess.run([sys.executable, "-m", "lab_helpers", *args], env=child_env(home, LAB_MODE="local"),
                          capture_output=True, text=True, timeout=timeout)


def test_the_database_deleted_mid_run_is_detected_in_one_line(tmp_path):
    from lab_helpers.local.store import Store, StoreFault

    store = Store(tmp_path / "control-plane.sqlite3")
    store.put("pipeline", "p", "arn:p", {"a": 1})
    os.remove(tmp_path / "control-plane.sqlite3")
    for operation in (lambda: store.put("pipeline", "q", "arn:q", {}), lambda: store.get("pipeline", "p"),
                      lambda: store.update("pipeline", "p", lambda d: d), lambda: store.append_log("g", "s", "m")):
        with pytest.raises(StoreFault) as caught:
            operation()
        assert "was deleted or replaced while the kit was using it" in str(caught.value)
        assert "\n" not in str(caught.value)


def test_the_database_deleted_under_a_session_fails_the_next_call(tmp_path):
    from lab_helpers.local.store import StoreFault

    home = tmp_path / "home"
    local = lab_helpers.local_session(home=home)
    local.sagemaker_client.list_pipelines()
    os.remove(home / "control-plane.sqlite3")
    with pytest.raises(StoreFault, match="was deleted or replaced"):
        local.sagemaker_client.list_pipelines()


def test_a_corrupt_database_is_one_line_and_check_fails(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "control-plane.sqlite3").write_bytes(b"this is not SQLite" * 100)
    checked = _cli(home, "check")
    assert checked.returncode == 1, checked.stdout
    assert "✗ control plane" in checked.stdout and "corrupt" in checked.stdout and ".corrupt" in checked.stdout
    ran = _cli(home, "run")
    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr, ran.stderr[-2000:]
    lines = ran.stderr.strip().splitlines()
    assert lines[-1].startswith("error: the control-plane database") and "is corrupt" in lines[-1], ran.stderr
    assert "mv " in lines[-1]


def test_check_passes_on_a_sound_database(tmp_path):
    from lab_helpers import preflight
    from lab_helpers.local.store import Store

    home = tmp_path / "home"
    Store(home.mkdir() or home / "control-plane.sqlite3").close()
    os.environ["LAB_HOME"], saved = str(home), os.environ.get("LAB_HOME")
    try:
        assert preflight.check_control_plane().ok
    finally:
        if saved is None:
            os.environ.pop("LAB_HOME")
        else:
            os.environ["LAB_HOME"] = saved


def test_sqlite_errors_become_one_line_with_the_fix():
    import sqlite3

    from lab_helpers.local.store import fault

    assert "read-only" in str(fault("/x/db", sqlite3.OperationalError("attempt to write a readonly database")))
    assert "disk is full" in str(fault("/x/db", sqlite3.OperationalError("database or disk is full")))
    assert "corrupt" in str(fault("/x/db", sqlite3.DatabaseError("file is not a database")))


def test_bad_parameter_value_is_one_line(tmp_path):
    ran = _cli(tmp_path / "home", "run", "--param", "MseThreshold=abc")
    assert ran.returncode == 2, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    last = ran.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ValidationException") and "MseThreshold" in last, ran.stderr[-2000:]


# --------------------------------------------------------------------------------------------------
# faults: a read-only LAB_HOME and a full disk, made real in a user + mount namespace (tests run as
# root, whom chmod does not stop; a read-only bind mount and a tiny tmpfs stop everyone)
# --------------------------------------------------------------------------------------------------

_AUDIT = """
import json, os, sys
from lab_helpers.local.s3 import LocalS3
home = sys.argv[1]
partial, mismatched = [], []
for folder, _, files in os.walk(home):
    partial += [os.path.join(folder, f) for f in files if f.startswith(('.partial-', '.s3tmp-'))]
s3 = LocalS3(os.path.join(home, 's3'))
for bucket in s3.store.bucket_names():
    for key in s3.list_keys(bucket):
        obj = s3.store.get_object(s3.store.bucket_dir(bucket), bucket, key)
        meta = s3.store.read_json(s3.store._object_meta_path(bucket, key.split('/')))
        if meta and meta.get('size') != obj.size:
            mismatched.append(key)
print(json.dumps({'partial': partial, 'mismatched': mismatched}))
"""


def _in_namespace(home, setup, *cli):
    """Run ``setup`` (mount commands) then the CLI with LAB_HOME=home in a private user+mount namespace."""
    import json
    import shlex
    import shutil
    import subprocess
    import sys

    from conftest import child_env

    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) for a private mount namespace")
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unprivileged user namespaces are not allowed here: {probe.stderr.decode().strip()}")
    script = (f"{setup} && {shlex.quote(sys.executable)} -m lab_helpers {' '.join(map(shlex.quote, cli))}"
              f" > {home}.out 2> {home}.err; echo $? > {home}.rc; "
              f"{shlex.quote(sys.executable)} -c {shlex.quote(_AUDIT)} {home} > {home}.audit 2>&1")
    subprocess.run(["unshare", "-Urm", "sh", "-c", script], env=child_env(home, LAB_MODE="local"), timeout=900)
    read = lambda suffix: open(f"{home}.{suffix}").read()  # noqa: E731
    audit = read("audit").strip().splitlines()
    return int(read("rc")), read("out"), read("err"), json.loads(audit[-1]) if audit and audit[-1].startswith("{") \
        else {"audit failed": read("audit")}


def test_a_read_only_lab_home_ends_in_one_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    rc, out, err, _ = _in_namespace(home, f"mount --bind {home} {home} && mount -o remount,bind,ro {home}", "run")
    assert rc == 2, out[-2000:] + err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("error: ") and "Read-only file system" in err
    assert "LAB_HOME" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("size", ["64k", "3m"])
def test_a_full_disk_ends_in_one_line_and_leaves_nothing_half_written(tmp_path, size):
    home = tmp_path / "home"
    home.mkdir()
    rc, out, err, audit = _in_namespace(home, f"mount -t tmpfs -o size={size} tmpfs {home}", "run")
    assert rc != 0, out[-2000:]
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and ("disk is full" in last or "full" in last), err[-2000:]
    assert audit == {"partial": [], "mismatched": []}, audit


# --------------------------------------------------------------------------------------------------
# bad input data: one line naming the file, line (and column) and the fix
# --------------------------------------------------------------------------------------------------

GOOD_ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15\n"


@pytest.mark.parametrize("name, data, expected", [
    ("binary", GOOD_ROW.encode() * 3 + b"\x1f\x8b\x08\x00\xff\n", "line 4, column 2: the file is not UTF-8 text"),
    ("quote", (GOOD_ROW * 2 + 'F,"0.53,0.42,0.135,0.677,0.2565,0.1415,0.21,9\n' + GOOD_ROW * 5).encode(),
     "line 3: a quoted field opened on this line is not closed"),
    ("huge", GOOD_ROW.encode() + b"M," + b"1" * (200 * 1024 * 1024) + b"\n", "line 2: the line is longer than"),
    ("huge-quoted", GOOD_ROW.encode() + b'M,"' + (b"1" * 1000 + b"\n") * 200 + b'"\n',
     "line 2: not valid CSV (field larger than field limit"),
])
def test_bad_input_data_is_one_clear_error(tmp_path, name, data, expected):
    from lab_helpers.steps import preprocess

    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    with pytest.raises(ValueError) as caught:
        preprocess.load_abalone(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}, ") and expected in message, message
    assert "\n" not in message and len(message) < 400


def test_the_preprocessing_job_fails_with_the_one_line(sess):
    from pathlib import Path

    from lab_helpers.steps import preprocess

    data = put(sess, "safety/badinput/abalone.csv", GOOD_ROW.encode() + b"\x89PNG\r\n")
    described = run_processing(sess, unique("bad-input"), Path(preprocess.__file__).read_text(),
                               inputs=[s3_input("data", data, "/opt/ml/processing/input/data")])
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "line 2, column 1: the file is not UTF-8 text (byte 0x89)" in reason, reason
    assert "Traceback" not in reason


def test_a_full_disk_while_staging_a_job_is_its_failure_reason(sess, monkeypatch):
    import errno

    from lab_helpers.local.jobs.staging import Staging

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/lab/jobs/x/container/opt/ml/input/data/train/a.csv")

    monkeypatch.setattr(Staging, "download", full)
    described = run_training(sess, unique("full-disk"), {"num_round": "1"},
                             {"train": put(sess, "safety/full/train.csv", "1,2\n")})
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("InternalServerError: the disk is full (/lab/jobs/x/"), \
        described["FailureReason"]


def test_a_job_that_wrote_no_log_line_says_so(tmp_path):
    from lab_helpers.local.jobs.launch import failure_reason

    reason = failure_reason(tmp_path, -9, [])
    assert reason == "AlgorithmError: the job's process exited with code -9 without writing a log line."
    assert "Last log lines: a | b" in failure_reason(tmp_path, 1, ["a", " ", "b"])


def test_a_runner_ended_by_a_fault_leaves_its_reason_not_was_killed(tmp_path):
    import socket

    from lab_helpers.local.cloud import LocalCloud
    from lab_helpers.local.sagemaker.engine import RUNNER_FAILED

    cloud = LocalCloud.get(tmp_path / "home")
    arn = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/faulted1"
    doc = {"PipelineExecutionArn": arn, "PipelineExecutionStatus": "Executing", "CreationTime": 1.0,
           "LastModifiedTime": 1.0, "Runner": {"Host": socket.gethostname(), "Pid": 2 ** 22 + 1, "Starting": 1.0}}
    cloud.store.put("execution", arn, arn, doc, parent="arn:aws:sagemaker:us-east-1:000000000000:pipeline/p")
    cloud.engine.log_dir.mkdir(parents=True, exist_ok=True)
    (cloud.engine.log_dir / "faulted1.log").write_text(f"step log\n{RUNNER_FAILED} the disk is full (/x): free some "
                                                       "space and run again.\n")
    reaped = cloud.engine.reap(cloud.store.get("execution", arn))
    assert reaped["PipelineExecutionStatus"] == "Failed"
    assert reaped["FailureReason"].endswith("finished: the disk is full (/x): free some space and run again.")
    assert "killed" not in reaped["FailureReason"]


def test_a_runner_on_a_corrupt_database_prints_one_line_for_the_reaper(tmp_path, capsys, monkeypatch):
    from lab_helpers.local import runner

    home = tmp_path / "home"
    home.mkdir()
    (home / "control-plane.sqlite3").write_bytes(b"garbage" * 200)
    monkeypatch.setenv("LAB_FORK_SERVER", "0")
    assert runner.main([str(home), "us-east-1", "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/e"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("runner failed: the control-plane database") and "is corrupt" in err[-1]


def test_check_fails_on_a_read_only_lab_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    rc, out, err, _ = _in_namespace(home, f"mount --bind {home} {home} && mount -o remount,bind,ro {home}", "check")
    assert rc == 1, out + err
    assert "✗ LAB_HOME writable" in out and "Read-only file system" in out, out


def test_a_bucket_folder_that_links_out_is_not_a_bucket(sess, home, outside):
    (home / "s3" / "linked-out-bucket").symlink_to(outside, target_is_directory=True)
    s3 = s3_client(sess)
    assert "linked-out-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    _denied(lambda: s3.get_object(Bucket="linked-out-bucket", Key="secret.txt"))
    _denied(lambda: s3.put_object(Bucket="linked-out-bucket", Key="written.txt", Body=b"x"))
    assert host_files(outside) == ["secret.txt"]


def test_a_code_location_on_this_machine_is_refused(tmp_path):
    """sagemaker_submit_directory=file://<host folder> would copy any host folder into a job: refused."""
    from lab_helpers.local.jobs.containers import stage_code
    from lab_helpers.local.jobs.staging import JobFailed

    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("not for jobs")
    ml = tmp_path / "job" / "opt" / "ml"
    ml.mkdir(parents=True)
    with pytest.raises(JobFailed) as caught:
        stage_code(None, f"file://{secret}", ml)
    assert "is a path on this machine" in str(caught.value) and "s3://" in str(caught.value)
    assert not (ml / "code").exists()
