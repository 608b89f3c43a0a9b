"""The in-process path overlay (lab_helpers.local.jobs.overlay).

Every scenario runs in a fresh interpreter (the overlay patches os/io/builtins, which must never
leak into the test process).  A small launcher installs the overlay and runs a job script that
hard-codes container paths, exactly as the kit's job process does; the script prints one
``RESULT:<json>`` line that the test checks, and the test also looks at the host job folder.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OVERLAY_DIR = ROOT / "lab_helpers" / "local" / "jobs" / "overlay"
OVERLAY_FILE = OVERLAY_DIR / "__init__.py"  # the package, loaded by file location where lab_helpers can't be imported
# real locations that no test may create or write into
GUARDED = ("/opt/ml", "/data/in")

LAUNCHER = textwrap.dedent(
    """
    import importlib, importlib.util, json, os, runpy, sys
    for name in filter(None, os.environ.get("OVERLAY_TEST_PREIMPORT", "").split(",")):
        importlib.import_module(name)          # imported *before* install(): must be patched too
    if os.environ.get("OVERLAY_TEST_BY_FILE"):  # stdlib-only interpreters: load the package's files
        init = os.environ["OVERLAY_TEST_BY_FILE"]  # .../overlay/__init__.py; its submodules sit next to it
        spec = importlib.util.spec_from_file_location(
            "overlay", init, submodule_search_locations=[os.path.dirname(init)])
        overlay = importlib.util.module_from_spec(spec)
        sys.modules["overlay"] = overlay       # its relative imports (overlay.paths, ...) find the package
        spec.loader.exec_module(overlay)
    else:
        from lab_helpers.local.jobs import overlay
    overlay.install(json.loads(sys.argv[1]))
    script = sys.argv[2]
    sys.argv = sys.argv[2:]
    runpy.run_path(script, run_name="__main__")
    """
)


# OVERLAY_TEST_PYTHON=<interpreter>: run every job with another Python (e.g. 3.9) to check its semantics
JOB_PYTHON = os.environ.get("OVERLAY_TEST_PYTHON") or sys.executable


def has(module):
    """Whether the job interpreter can import `module`."""
    if JOB_PYTHON == sys.executable:
        return importlib.util.find_spec(module) is not None
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec(%r) is None)" % module
    return subprocess.run([JOB_PYTHON, "-c", code], capture_output=True).returncode == 0


# --------------------------------------------------------------------------------------------
# guard: the real /opt/ml (and /data/in) must stay as they were
# --------------------------------------------------------------------------------------------
def _snapshot(path):
    if not os.path.lexists(path):
        return None
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
                found[p] = (st.st_mtime_ns, st.st_size)
            except OSError:
                pass
    return found


@pytest.fixture(autouse=True)
def real_container_paths_untouched():
    before = {p: _snapshot(p) for p in GUARDED}
    data_existed = os.path.lexists("/data")
    yield
    problems = []
    for p in GUARDED:
        after = _snapshot(p)
        if before[p] is None and after is not None:
            problems.append("the real %s was created: %s" % (p, sorted(after)[:5]))
            shutil.rmtree(p, ignore_errors=True)  # ours: it did not exist before the test
        elif before[p] is not None and after != before[p]:
            new = sorted(set(after or {}) ^ set(before[p]))
            problems.append("the real %s changed: %s" % (p, new[:5]))
    if not data_existed and os.path.lexists("/data"):
        problems.append("the real /data was created")
        shutil.rmtree("/data", ignore_errors=True)
    assert not problems, problems


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def job_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("LAB_HELPERS_OVERLAY", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def default_mapping(root):
    return {"/opt/ml": str(Path(root) / "opt" / "ml")}


def start_job(root, script, mapping=None, *, args=(), at=None, python=None, env=None, **popen):
    """Start `script` under the overlay.  at=<virtual path>: store it there and run it from there."""
    root = Path(root)
    mapping = default_mapping(root) if mapping is None else mapping
    body = textwrap.dedent(script)
    if at is None:
        host_script = root / "job_script.py"
        host_script.write_text(body)
        target = str(host_script)
    else:
        host_script = Path(mapping["/opt/ml"] + at[len("/opt/ml"):])
        host_script.parent.mkdir(parents=True, exist_ok=True)
        host_script.write_text(body)
        target = at
    cmd = [python or JOB_PYTHON, "-c", LAUNCHER, json.dumps(mapping), target, *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=job_env(env), cwd=str(root), **popen)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, "job failed (%s)\n--- stdout\n%s\n--- stderr\n%s" % (proc.returncode, out, err)
    lines = [line for line in out.splitlines() if line.startswith("RESULT:")]
    assert lines, "no RESULT line\n--- stdout\n%s\n--- stderr\n%s" % (out, err)
    return json.loads(lines[-1][len("RESULT:"):])


def run_job(root, script, mapping=None, **kw):
    timeout = kw.pop("timeout", 300)
    return finish(start_job(root, script, mapping, **kw), timeout)


def write_csv(path, rows=60, cols=5, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(rows):
        values = [((i * 7 + j * 13 + seed) % 29) / 3.0 for j in range(cols)]
        lines.append(",".join("%.4f" % v for v in values))
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------------
@pytest.mark.skipif(not has("pandas"), reason="pandas is not installed")
def test_processing_script_with_pandas(tmp_path):
    write_csv(tmp_path / "opt/ml/processing/input/data.csv")
    script = """
        import glob, json, os
        import pandas as pd

        df = pd.read_csv("/opt/ml/processing/input/data.csv", header=None)          # C parser
        df_py = pd.read_csv("/opt/ml/processing/input/data.csv", header=None, engine="python")
        os.makedirs("/opt/ml/processing/output/train", exist_ok=True)
        df.iloc[:40].to_csv("/opt/ml/processing/output/train/train.csv", header=False, index=False)
        df.to_csv("/opt/ml/processing/output/out.csv", index=False)
        df.to_json("/opt/ml/processing/output/out.json", orient="records")
        back = pd.read_json("/opt/ml/processing/output/out.json")
        parquet = None
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        else:
            df.columns = [str(c) for c in df.columns]
            df.to_parquet("/opt/ml/processing/output/out.parquet")
            parquet = len(pd.read_parquet("/opt/ml/processing/output/out.parquet"))
        print("RESULT:" + json.dumps({
            "rows": len(df), "rows_py": len(df_py), "json_rows": len(back), "parquet": parquet,
            "outputs": sorted(glob.glob("/opt/ml/processing/output/**/*.csv", recursive=True)),
            "file": __file__,
        }))
    """
    res = run_job(tmp_path, script, at="/opt/ml/processing/input/code/preprocess.py")
    assert res["rows"] == res["rows_py"] == res["json_rows"] == 60
    assert res["file"] == "/opt/ml/processing/input/code/preprocess.py"
    assert res["outputs"] == ["/opt/ml/processing/output/out.csv", "/opt/ml/processing/output/train/train.csv"]
    out = tmp_path / "opt/ml/processing/output"
    assert (out / "out.csv").read_text().count("\n") == 61  # header + 60 rows
    assert (out / "train/train.csv").read_text().count("\n") == 40
    assert json.loads((out / "out.json").read_text())[0]
    if has("pyarrow"):
        assert res["parquet"] == 60
    else:
        assert res["parquet"] is None  # pyarrow missing: parquet part skipped


@pytest.mark.skipif(not (has("numpy") and has("joblib")), reason="numpy/joblib not installed")
@pytest.mark.parametrize("preimport", ["", "numpy,joblib,json,pickle,gzip"])
def test_numpy_joblib_json_pickle_gzip(tmp_path, preimport):
    script = """
        import gzip, json, os, pickle
        import joblib
        import numpy as np

        os.makedirs("/opt/ml/model", exist_ok=True)
        a = np.arange(12, dtype=float).reshape(3, 4)
        np.save("/opt/ml/model/a.npy", a)
        np.savetxt("/opt/ml/model/a.txt", a, delimiter=",")
        a.tofile("/opt/ml/model/a.bin")
        with open("/opt/ml/model/a.json", "w") as fh:
            json.dump(a.tolist(), fh)
        with open("/opt/ml/model/a.pkl", "wb") as fh:
            pickle.dump({"a": a}, fh)
        with gzip.open("/opt/ml/model/a.txt.gz", "wt") as fh:
            fh.write("1,2,3,4\\n5,6,7,8\\n")
        joblib.dump({"a": a}, "/opt/ml/model/a.joblib")
        joblib.dump({"a": a}, "/opt/ml/model/a.joblib.z", compress=3)
        checks = {
            "load": np.load("/opt/ml/model/a.npy").tolist(),
            "loadtxt": np.loadtxt("/opt/ml/model/a.txt", delimiter=",").tolist(),
            "genfromtxt": np.genfromtxt("/opt/ml/model/a.txt", delimiter=",").tolist(),
            "loadtxt_gz": np.loadtxt("/opt/ml/model/a.txt.gz", delimiter=",").tolist(),
            "fromfile": np.fromfile("/opt/ml/model/a.bin").reshape(3, 4).tolist(),
            "json": json.load(open("/opt/ml/model/a.json")),
            "pickle": pickle.load(open("/opt/ml/model/a.pkl", "rb"))["a"].tolist(),
            "joblib": joblib.load("/opt/ml/model/a.joblib")["a"].tolist(),
            "joblib_z": joblib.load("/opt/ml/model/a.joblib.z")["a"].tolist(),
        }
        print("RESULT:" + json.dumps(checks))
    """
    res = run_job(tmp_path, script, env={"OVERLAY_TEST_PREIMPORT": preimport})
    expected = [[float(4 * i + j) for j in range(4)] for i in range(3)]
    for key, value in res.items():
        if key == "loadtxt_gz":
            assert value == [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
        else:
            assert value == expected, key
    names = sorted(p.name for p in (tmp_path / "opt/ml/model").iterdir())
    assert names == sorted(["a.npy", "a.txt", "a.bin", "a.json", "a.pkl", "a.txt.gz", "a.joblib", "a.joblib.z"])


def test_glob_walk_scandir_and_os_functions(tmp_path):
    for rel in ("train/a.csv", "train/b.csv", "train/sub/c.csv", "validation/v.csv"):
        write_csv(tmp_path / "opt/ml/input/data" / rel, rows=3)
    script = """
        import glob, json, os, stat, time

        base = "/opt/ml/input/data"
        r = {}
        r["glob"] = sorted(glob.glob(base + "/train/*.csv"))
        r["glob_rec"] = sorted(glob.glob(base + "/**/*.csv", recursive=True))
        r["iglob_root_dir"] = sorted(glob.glob("*/*.csv", root_dir=base)) if "root_dir" in glob.glob.__code__.co_varnames else None
        r["walk"] = [[root, sorted(dirs), sorted(files)] for root, dirs, files in os.walk(base)]
        r["walk_bottom_up"] = [root for root, _, _ in os.walk(base, topdown=False)]
        with os.scandir(base + "/train") as it:
            entries = sorted(it, key=lambda e: e.name)
        r["scandir"] = [[e.name, e.path, e.is_dir(), e.is_file(), os.fspath(e)] for e in entries]
        r["listdir"] = sorted(os.listdir(base))
        r["fwalk"] = sorted(root for root, _, _, _ in os.fwalk(base)) if hasattr(os, "fwalk") else None
        p = base + "/train/a.csv"
        r["exists"] = [os.path.exists(p), os.path.isfile(p), os.path.isdir(base), os.path.exists(base + "/nope"),
                       os.path.lexists(p), os.path.islink(p), os.access(p, os.R_OK)]
        r["size"] = [os.path.getsize(p), os.stat(p).st_size, os.lstat(p).st_size]
        os.utime(p, (1000000000, 1000000000))
        r["mtime"] = [os.path.getmtime(p), os.stat(p).st_mtime]
        os.chmod(p, 0o600)
        r["mode"] = oct(stat.S_IMODE(os.stat(p).st_mode))
        os.truncate(p, 5)
        r["truncated"] = os.path.getsize(p)
        r["real_abs"] = [os.path.realpath(p), os.path.abspath(p), os.path.realpath(base + "/train/../train/b.csv")]
        os.makedirs("/opt/ml/model/deep/er", exist_ok=True)
        os.mkdir("/opt/ml/model/single")
        with open("/opt/ml/model/deep/er/f.txt", "w") as fh:
            fh.write("x")
        os.rename("/opt/ml/model/deep/er/f.txt", "/opt/ml/model/single/g.txt")
        os.replace("/opt/ml/model/single/g.txt", "/opt/ml/model/single/h.txt")
        os.link("/opt/ml/model/single/h.txt", "/opt/ml/model/single/hard.txt")
        os.symlink("/opt/ml/model/single/h.txt", "/opt/ml/model/single/soft.txt")
        r["readlink"] = os.readlink("/opt/ml/model/single/soft.txt")
        os.makedirs("/opt/ml/links")
        os.symlink("/opt/ml/model/single/h.txt", "/opt/ml/links/keep.lnk")
        r["realpath_link"] = os.path.realpath("/opt/ml/model/single/soft.txt")
        r["via_link"] = open("/opt/ml/model/single/soft.txt").read()
        r["samefile"] = os.path.samefile("/opt/ml/model/single/h.txt", "/opt/ml/model/single/hard.txt")
        os.removedirs("/opt/ml/model/deep/er")
        os.remove("/opt/ml/model/single/soft.txt")
        os.unlink("/opt/ml/model/single/hard.txt")
        r["after"] = sorted(os.listdir("/opt/ml/model/single"))
        r["fd_ops"] = None
        if os.stat in os.supports_dir_fd:
            fd = os.open("/opt/ml/model/single", os.O_RDONLY)
            try:
                r["fd_ops"] = [os.stat("h.txt", dir_fd=fd).st_size, sorted(os.listdir(fd))]
            finally:
                os.close(fd)
        r["outside"] = [os.path.exists("/opt/mlx"), os.path.isdir("/opt")]
        print("RESULT:" + json.dumps(r))
    """
    r = run_job(tmp_path, script)
    d = "/opt/ml/input/data"
    assert r["glob"] == [d + "/train/a.csv", d + "/train/b.csv"]
    assert r["glob_rec"] == [d + "/train/a.csv", d + "/train/b.csv", d + "/train/sub/c.csv", d + "/validation/v.csv"]
    if r["iglob_root_dir"] is not None:
        assert r["iglob_root_dir"] == ["train/a.csv", "train/b.csv", "validation/v.csv"]
    assert r["walk"] == [[d, ["train", "validation"], []], [d + "/train", ["sub"], ["a.csv", "b.csv"]],
                         [d + "/train/sub", [], ["c.csv"]], [d + "/validation", [], ["v.csv"]]]
    assert set(r["walk_bottom_up"]) == {d, d + "/train", d + "/train/sub", d + "/validation"}
    assert r["scandir"] == [["a.csv", d + "/train/a.csv", False, True, d + "/train/a.csv"],
                            ["b.csv", d + "/train/b.csv", False, True, d + "/train/b.csv"],
                            ["sub", d + "/train/sub", True, False, d + "/train/sub"]]
    assert r["listdir"] == ["train", "validation"]
    if r["fwalk"] is not None:
        assert r["fwalk"] == [d, d + "/train", d + "/train/sub", d + "/validation"]
    assert r["exists"] == [True, True, True, False, True, False, True]
    host_a = tmp_path / "opt/ml/input/data/train/a.csv"
    assert r["size"][0] == r["size"][1] == r["size"][2] > 5
    assert r["mtime"] == [1000000000.0, 1000000000.0] and host_a.stat().st_atime == 1000000000.0  # (truncate moved mtime)
    assert r["mode"] == "0o600" and oct(host_a.stat().st_mode & 0o777) == "0o600"
    assert r["truncated"] == 5 and host_a.stat().st_size == 5
    assert r["real_abs"] == [d + "/train/a.csv", d + "/train/a.csv", d + "/train/b.csv"]
    assert r["readlink"] == "/opt/ml/model/single/h.txt"  # stored as a host path, read back virtual
    assert os.readlink(tmp_path / "opt/ml/links/keep.lnk") == str(tmp_path / "opt/ml/model/single/h.txt")
    assert r["realpath_link"] == "/opt/ml/model/single/h.txt"
    assert r["via_link"] == "x" and r["samefile"] is True
    assert r["after"] == ["h.txt"]
    assert sorted(os.listdir(tmp_path / "opt/ml/model")) == ["single"]  # removedirs removed deep/er
    if r["fd_ops"] is not None:
        assert r["fd_ops"] == [1, ["h.txt"]]
    assert r["outside"] == [False, True]


@pytest.mark.parametrize("preimport", ["", "pathlib,glob"])
def test_pathlib(tmp_path, preimport):
    script = """
        import json, os
        from pathlib import Path

        r = {}
        model = Path("/opt/ml/model")
        (model / "sub").mkdir(parents=True, exist_ok=True)
        (model / "a.txt").write_text("alpha")
        (model / "b.bin").write_bytes(b"\\x00\\x01")
        (model / "sub" / "c.txt").touch()
        r["read"] = [(model / "a.txt").read_text(), list((model / "b.bin").read_bytes())]
        r["exists"] = [model.exists(), model.is_dir(), (model / "a.txt").is_file(), (model / "zz").exists()]
        r["size"] = (model / "a.txt").stat().st_size
        r["iterdir"] = sorted(str(p) for p in model.iterdir())
        r["glob"] = sorted(str(p) for p in model.glob("*.txt"))
        r["rglob"] = sorted(str(p) for p in model.rglob("*.txt"))
        with (model / "a.txt").open() as fh:
            r["open_name"] = fh.name
        (model / "a.txt").rename(model / "renamed.txt")
        (model / "renamed.txt").replace(model / "final.txt")
        (model / "link.txt").symlink_to(model / "final.txt")
        r["link"] = [str((model / "link.txt").readlink()) if hasattr(Path, "readlink") else str(model / "final.txt"),
                     str((model / "link.txt").resolve()), (model / "link.txt").read_text()]
        r["samefile"] = (model / "link.txt").samefile(model / "final.txt")
        (model / "final.txt").chmod(0o640)
        r["mode"] = oct((model / "final.txt").stat().st_mode & 0o777)
        r["resolve"] = str(Path("/opt/ml/model/sub/../final.txt").resolve())
        os.chdir("/opt/ml/model/sub")
        r["cwd"] = [str(Path.cwd()), str(Path("c.txt").absolute()), str(Path("c.txt").resolve()),
                    str(Path("../final.txt").resolve())]
        (Path("..") / "link.txt").unlink()
        Path("c.txt").unlink()
        os.chdir("/")
        (model / "sub").rmdir()
        r["left"] = sorted(p.name for p in model.iterdir())
        print("RESULT:" + json.dumps(r))
    """
    r = run_job(tmp_path, script, env={"OVERLAY_TEST_PREIMPORT": preimport})
    m = "/opt/ml/model"
    assert r["read"] == ["alpha", [0, 1]]
    assert r["exists"] == [True, True, True, False]
    assert r["size"] == 5
    assert r["iterdir"] == [m + "/a.txt", m + "/b.bin", m + "/sub"]
    assert r["glob"] == [m + "/a.txt"]
    assert r["rglob"] == [m + "/a.txt", m + "/sub/c.txt"]
    assert r["open_name"] == m + "/a.txt"
    assert r["link"] == [m + "/final.txt", m + "/final.txt", "alpha"]
    assert r["samefile"] is True and r["mode"] == "0o640"
    assert r["resolve"] == m + "/final.txt"
    assert r["cwd"] == [m + "/sub", m + "/sub/c.txt", m + "/sub/c.txt", m + "/final.txt"]
    assert r["left"] == ["b.bin", "final.txt"]
    assert sorted(os.listdir(tmp_path / "opt/ml/model")) == ["b.bin", "final.txt"]


@pytest.mark.parametrize("preimport", ["", "tarfile,shutil,zipfile,tempfile"])
def test_tarfile_zipfile_shutil_tempfile(tmp_path, preimport):
    script = """
        import json, os, shutil, tarfile, tempfile, zipfile

        r = {}
        os.makedirs("/opt/ml/model/nested", exist_ok=True)
        open("/opt/ml/model/model.txt", "w").write("weights")
        open("/opt/ml/model/nested/meta.json", "w").write("{}")
        tar_path = "/opt/ml/model.tar.gz"
        with tarfile.open(tar_path, "w:gz") as tar:
            tar.add("/opt/ml/model", arcname=".")
        with tarfile.open(tar_path) as tar:
            r["members"] = sorted(m.name for m in tar.getmembers())
            os.makedirs("/opt/ml/extracted")
            tar.extractall("/opt/ml/extracted")
        r["extracted"] = open("/opt/ml/extracted/model.txt").read()
        with zipfile.ZipFile("/opt/ml/model.zip", "w") as zf:
            zf.write("/opt/ml/model/model.txt", "model.txt")
        with zipfile.ZipFile("/opt/ml/model.zip") as zf:
            zf.extractall("/opt/ml/unzipped")
        r["unzipped"] = open("/opt/ml/unzipped/model.txt").read()
        r["is_zip"] = [zipfile.is_zipfile("/opt/ml/model.zip"), tarfile.is_tarfile(tar_path)]
        shutil.copy("/opt/ml/model/model.txt", "/opt/ml/copy.txt")
        shutil.copyfile("/opt/ml/model/model.txt", "/opt/ml/copyfile.txt")
        shutil.copy2("/opt/ml/model/model.txt", "/opt/ml/copy2.txt")
        shutil.copytree("/opt/ml/model", "/opt/ml/tree")
        shutil.move("/opt/ml/copy.txt", "/opt/ml/tree/moved.txt")
        r["tree"] = sorted(os.path.relpath(os.path.join(d, f), "/opt/ml/tree")
                           for d, _, fs in os.walk("/opt/ml/tree") for f in fs)
        r["archives"] = [shutil.make_archive("/opt/ml/arch", "gztar", root_dir="/opt/ml/tree"),
                         shutil.make_archive("/opt/ml/arch", "zip", root_dir="/opt/ml", base_dir="tree")]
        r["unpacked"] = shutil.unpack_archive("/opt/ml/arch.zip", "/opt/ml/unpacked") or sorted(
            os.listdir("/opt/ml/unpacked/tree"))
        shutil.rmtree("/opt/ml/tree")
        r["usage"] = shutil.disk_usage("/opt/ml").total > 0
        os.makedirs("/opt/ml/tmp")
        fd, name = tempfile.mkstemp(dir="/opt/ml/tmp", suffix=".bin")
        os.write(fd, b"abc")
        os.close(fd)
        r["mkstemp"] = [os.path.dirname(name), open(name, "rb").read().decode()]
        with tempfile.NamedTemporaryFile("w", dir="/opt/ml/tmp", delete=False) as fh:
            fh.write("named")
        r["named"] = [os.path.dirname(fh.name), open(fh.name).read()]
        with tempfile.TemporaryDirectory(dir="/opt/ml/tmp") as d:
            open(os.path.join(d, "x"), "w").write("1")
            r["tmpdir"] = [os.path.dirname(d), os.listdir(d)]
        r["tmpdir_gone"] = os.path.exists(d)
        r["cwd"] = os.getcwd()
        print("RESULT:" + json.dumps(r))
    """
    r = run_job(tmp_path, script, env={"OVERLAY_TEST_PREIMPORT": preimport})
    assert r["members"] == [".", "./model.txt", "./nested", "./nested/meta.json"]
    assert r["extracted"] == "weights" and r["unzipped"] == "weights" and r["is_zip"] == [True, True]
    assert r["tree"] == ["model.txt", "moved.txt", "nested/meta.json"]
    assert r["archives"] == ["/opt/ml/arch.tar.gz", "/opt/ml/arch.zip"]
    assert r["unpacked"] == ["model.txt", "moved.txt", "nested"]
    assert r["usage"] is True
    assert r["mkstemp"] == ["/opt/ml/tmp", "abc"]
    assert r["named"] == ["/opt/ml/tmp", "named"]
    assert r["tmpdir"] == ["/opt/ml/tmp", ["x"]] and r["tmpdir_gone"] is False
    assert r["cwd"] == os.path.realpath(tmp_path)  # make_archive's chdir dance restored the cwd
    host = tmp_path / "opt/ml"
    with __import__("tarfile").open(host / "model.tar.gz") as tar:
        assert (tar.extractfile("./model.txt").read()) == b"weights"
    assert (host / "arch.tar.gz").is_file() and (host / "arch.zip").is_file()
    assert (host / "copy2.txt").read_text() == "weights" and not (host / "tree").exists()


@pytest.mark.skipif(not has("xgboost"), reason="xgboost is not installed")
@pytest.mark.parametrize("preimport", ["", "xgboost"], ids=["import-after-install", "import-before-install"])
def test_xgboost_paths_reach_c(tmp_path, preimport):
    rows = ["%d,%.3f,%.3f" % (i % 2, (i % 7) / 7.0, (i % 5) / 5.0) for i in range(80)]
    (tmp_path / "opt/ml/input/data/train").mkdir(parents=True)
    (tmp_path / "opt/ml/input/data/train/train.csv").write_text("\n".join(rows) + "\n")
    script = """
        import json, os, sys
        import xgboost as xgb

        os.makedirs("/opt/ml/model", exist_ok=True)
        dtrain = xgb.DMatrix("/opt/ml/input/data/train/train.csv?format=csv&label_column=0")
        bst = xgb.train({"objective": "binary:logistic", "max_depth": 2}, dtrain, num_boost_round=3)
        bst.save_model("/opt/ml/model/xgboost-model")
        bst.save_model("/opt/ml/model/xgboost-model.json")
        dtrain.save_binary("/opt/ml/model/train.buffer")
        with open("/opt/ml/model/fmap.txt", "w") as fh:
            fh.write("0\\tf_a\\tq\\n1\\tf_b\\tq\\n")
        bst.dump_model("/opt/ml/model/dump.txt", fmap="/opt/ml/model/fmap.txt")
        loaded = xgb.Booster()
        loaded.load_model("/opt/ml/model/xgboost-model")
        from_file = xgb.Booster(model_file="/opt/ml/model/xgboost-model.json")
        buffered = xgb.DMatrix("/opt/ml/model/train.buffer")
        class Classifier(xgb.XGBClassifier):
            _estimator_type = "classifier"  # xgboost 1.7 + scikit-learn >= 1.6 lost it (unrelated to the overlay)

        sk = Classifier(n_estimators=3, max_depth=2)
        sk.fit(dtrain.get_data().toarray(), dtrain.get_label())
        sk.save_model("/opt/ml/model/sk.json")
        sk2 = Classifier()
        sk2.load_model("/opt/ml/model/sk.json")
        base = bst.predict(dtrain).tolist()
        print("RESULT:" + json.dumps({
            "rows": dtrain.num_row(), "buffered_rows": buffered.num_row(),
            "same": [loaded.predict(dtrain).tolist() == base, from_file.predict(dtrain).tolist() == base],
            "sk_same": sk2.predict_proba(dtrain.get_data().toarray()).tolist()
                       == sk.predict_proba(dtrain.get_data().toarray()).tolist(),
            "fmap_used": "f_a" in open("/opt/ml/model/dump.txt").read() or "f_b" in open("/opt/ml/model/dump.txt").read(),
            "fscore": sorted(bst.get_fscore(fmap="/opt/ml/model/fmap.txt")),
            "imported_before": "xgboost" in os.environ.get("OVERLAY_TEST_PREIMPORT", ""),
        }))
    """
    r = run_job(tmp_path, script, env={"OVERLAY_TEST_PREIMPORT": preimport})
    assert r["rows"] == 80 and r["buffered_rows"] == 80
    assert r["same"] == [True, True] and r["sk_same"] is True
    assert r["fmap_used"] is True and set(r["fscore"]) <= {"f_a", "f_b"} and r["fscore"]
    assert r["imported_before"] is bool(preimport)
    model = tmp_path / "opt/ml/model"
    for name in ("xgboost-model", "xgboost-model.json", "train.buffer", "dump.txt", "sk.json"):
        assert (model / name).is_file() and (model / name).stat().st_size > 0, name


def test_chdir_and_relative_paths(tmp_path):
    script = """
        import json, os

        r = {}
        os.makedirs("/opt/ml/code", exist_ok=True)
        os.makedirs("/opt/ml/model", exist_ok=True)
        os.chdir("/opt/ml/code")
        r["cwd"] = [os.getcwd(), os.getcwdb().decode()]
        with open("rel.txt", "w") as fh:
            fh.write("relative")
        with open("../model/up.txt", "w") as fh:                   # ".." from a virtual cwd
            fh.write("up")
        r["abs"] = [os.path.abspath("rel.txt"), os.path.realpath("rel.txt"), os.path.abspath("../model")]
        r["listdir"] = [sorted(os.listdir()), sorted(os.listdir(".")), sorted(os.listdir("../model"))]
        r["exists"] = [os.path.exists("rel.txt"), os.path.isfile("../model/up.txt"), os.path.exists("nope")]
        os.chdir("..")
        r["parent"] = os.getcwd()
        os.chdir("model")
        r["child"] = os.getcwd()
        os.chdir("/")
        r["root_rel"] = [open("opt/ml/code/rel.txt").read(), os.path.isfile("opt/ml/model/up.txt")]
        os.chdir("/opt")
        r["opt_rel"] = open("ml/code/rel.txt").read()
        os.chdir("/opt/ml")
        os.chdir("..")                                              # leaves the virtual tree
        r["left"] = os.getcwd()
        os.chdir("/opt/ml/input/code")          # the job folder links it to a real source folder
        r["linked"] = [os.getcwd(), open("s.txt").read(), os.path.abspath("s.txt")]
        os.chdir(os.environ["REAL_DIR"])
        r["real"] = [os.getcwd(), sorted(os.listdir("."))]
        print("RESULT:" + json.dumps(r))
    """
    real = tmp_path / "real"
    real.mkdir()
    (real / "plain.txt").write_text("p")
    src = tmp_path / "src"
    src.mkdir()
    (src / "s.txt").write_text("source")
    (tmp_path / "opt/ml/input").mkdir(parents=True)
    (tmp_path / "opt/ml/input/code").symlink_to(src, target_is_directory=True)
    r = run_job(tmp_path, script, env={"REAL_DIR": str(real)})
    assert r["cwd"] == ["/opt/ml/code", "/opt/ml/code"]
    assert r["abs"] == ["/opt/ml/code/rel.txt", "/opt/ml/code/rel.txt", "/opt/ml/model"]
    assert r["listdir"] == [["rel.txt"], ["rel.txt"], ["up.txt"]]
    assert r["exists"] == [True, True, False]
    assert r["parent"] == "/opt/ml" and r["child"] == "/opt/ml/model"
    assert r["root_rel"] == ["relative", True] and r["opt_rel"] == "relative"
    assert r["left"] == "/opt"
    assert r["linked"] == ["/opt/ml/input/code", "source", "/opt/ml/input/code/s.txt"]
    assert r["real"] == [os.path.realpath(real), ["plain.txt"]]
    assert (tmp_path / "opt/ml/code/rel.txt").read_text() == "relative"
    assert (tmp_path / "opt/ml/model/up.txt").read_text() == "up"


def test_two_jobs_at_the_same_time_are_isolated(tmp_path):
    sync = tmp_path / "sync"
    sync.mkdir()
    script = """
        import json, os, sys, time

        me, other, sync = sys.argv[1], sys.argv[2], sys.argv[3]
        os.makedirs("/opt/ml/model", exist_ok=True)
        with open("/opt/ml/model/x", "w") as fh:
            fh.write("written by " + me)
        open(os.path.join(sync, me), "w").close()                # I have written
        deadline = time.time() + 120
        while not os.path.exists(os.path.join(sync, other)):     # ... and so has the other job
            if time.time() > deadline:
                sys.exit("the other job never wrote")
            time.sleep(0.02)
        print("RESULT:" + json.dumps({"read": open("/opt/ml/model/x").read(),
                                       "files": sorted(os.listdir("/opt/ml/model"))}))
    """
    jobs = {}
    for me, other in (("job-a", "job-b"), ("job-b", "job-a")):
        root = tmp_path / me
        root.mkdir()
        jobs[me] = start_job(root, script, args=(me, other, str(sync)))
    results = {me: finish(proc, timeout=240) for me, proc in jobs.items()}
    for me in jobs:
        assert results[me] == {"read": "written by " + me, "files": ["x"]}
        assert (tmp_path / me / "opt/ml/model/x").read_text() == "written by " + me


def _python_for(uid, gid, env):
    """An interpreter this user may run (the venv's may sit under root's home)."""
    candidates = [sys.executable, os.path.realpath(sys.executable), getattr(sys, "_base_executable", None),
                  shutil.which("python3", path=os.defpath), "/usr/bin/python3", "/usr/local/bin/python3"]
    seen = set()
    for exe in candidates:
        if not exe or exe in seen or not os.path.isfile(exe):
            continue
        seen.add(exe)
        try:
            ok = subprocess.run([exe, "-c", "import sys; assert sys.version_info >= (3, 9)"], user=uid, group=gid,
                                extra_groups=[], env=env, capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return exe
    return None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to switch to 'nobody'")
def test_non_root_user(tmp_path):
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user")
    uid, gid = nobody.pw_uid, nobody.pw_gid
    # pytest's tmp_path is private to root: the job folder goes to a world-traversable temp dir
    job = Path(tempfile.mkdtemp(prefix="overlay-nobody-", dir="/tmp" if os.path.isdir("/tmp") else None))
    try:
        os.chmod(job, 0o755)
        (job / "opt/ml/input/data/train").mkdir(parents=True)
        (job / "opt/ml/input/data/train/in.txt").write_text("input")
        for dirpath, dirnames, filenames in os.walk(job):
            for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
                os.chown(name, uid, gid)
        env = job_env({"OVERLAY_TEST_BY_FILE": str(OVERLAY_FILE), "HOME": str(job)})
        env["PYTHONPATH"] = ""
        probe = subprocess.run(["/bin/sh", "-c", "test -r '%s'" % OVERLAY_FILE], user=uid, group=gid,
                               extra_groups=[])
        if probe.returncode != 0:
            pytest.skip("the project folder is not readable by 'nobody'")
        python = _python_for(uid, gid, env)
        if python is None:
            pytest.skip("no Python >= 3.9 that 'nobody' may run")
        script = """
            import json, os, pathlib, tarfile
            r = {"uid": os.getuid()}
            os.makedirs("/opt/ml/model", exist_ok=True)
            with open("/opt/ml/model/model.txt", "w") as fh:
                fh.write(open("/opt/ml/input/data/train/in.txt").read() + " -> model")
            pathlib.Path("/opt/ml/output/data").mkdir(parents=True)
            with tarfile.open("/opt/ml/output/data/model.tar.gz", "w:gz") as tar:
                tar.add("/opt/ml/model", arcname=".")
            os.chdir("/opt/ml/model")
            r["cwd"] = os.getcwd()
            r["read"] = open("model.txt").read()
            print("RESULT:" + json.dumps(r))
        """
        (job / "script.py").write_text(textwrap.dedent(script))
        os.chown(job / "script.py", uid, gid)

        def run(code_args):
            return subprocess.run([python, "-c", *code_args], user=uid, group=gid, extra_groups=[], env=env,
                                  cwd=str(job), capture_output=True, text=True, timeout=300)

        # without the overlay this user cannot even create /opt/ml: the scenario is meaningful
        bare = run(["import os; os.makedirs('/opt/ml/model')"])
        assert bare.returncode != 0 and "PermissionError" in bare.stderr, bare.stderr
        proc = run([LAUNCHER, json.dumps(default_mapping(job)), str(job / "script.py")])
        assert proc.returncode == 0, proc.stderr
        r = json.loads([x for x in proc.stdout.splitlines() if x.startswith("RESULT:")][-1][7:])
        assert r == {"uid": uid, "cwd": "/opt/ml/model", "read": "input -> model"}
        model = job / "opt/ml/model/model.txt"
        assert model.read_text() == "input -> model" and model.stat().st_uid == uid
        assert (job / "opt/ml/output/data/model.tar.gz").stat().st_uid == uid
    finally:
        shutil.rmtree(job, ignore_errors=True)


def test_prefix_rules_translate_and_validation(tmp_path):
    shared = tmp_path / "shared-train"
    write_csv(shared / "train.csv", rows=2)
    mapping = {"/opt/ml": str(tmp_path / "opt/ml"), "/opt/ml/input/data/train": str(shared),
               "/data/in": str(tmp_path / "data/in")}
    script = """
        import json, os, pathlib, sys
        from lab_helpers.local.jobs import overlay as o

        r = {}
        r["t"] = [o.translate("/opt/ml/model/x"), o.translate("/opt/ml/input/data/train/train.csv"),
                  o.translate("/opt/ml/input/data/trainX"), o.translate("/data/in/a"), o.translate("/opt/mlx"),
                  o.translate("/opt/ml"), o.translate("/opt/ml/model/../../etc"), o.translate("//opt/ml/./a"),
                  o.translate("/opt/ml/model/"), o.translate("/tmp/x"), o.translate("relative/x")]
        r["kinds"] = [type(o.translate(b"/opt/ml/x")).__name__, o.translate(b"/opt/ml/x").decode(),
                      type(o.translate(pathlib.Path("/opt/ml/x"))).__name__, str(o.translate(pathlib.Path("/opt/ml/x")))]
        r["back"] = [o.to_virtual(o.translate("/opt/ml/model/x")), o.to_virtual(o.translate("/data/in/q")), o.to_virtual("/tmp/x")]
        r["shared"] = sorted(os.listdir("/opt/ml/input/data/train"))
        os.makedirs("/data/in/sub")
        open("/data/in/sub/f.txt", "w").write("data")
        os.chdir("/opt/ml")
        r["rel"] = o.translate("model/y")
        os.chdir("/")
        r["rel_root"] = o.translate("data/in/sub/f.txt")
        r["env"] = json.loads(os.environ[o.ENV_VAR]) == o.current_mapping()
        errors = []
        for bad in ({"opt/ml": "/tmp/a"}, {"/": "/tmp/a"}, {"/opt/ml": "/opt/ml/host"}, {"/srv/v": "/"},
                    {"/srv/v": "/srv"}):
            try:
                o.install(bad)
                errors.append(None)
            except ValueError:
                errors.append("ValueError")
        r["errors"] = errors
        r["still"] = o.current_mapping() == {k: os.path.normpath(v) for k, v in json.loads(sys.argv[1]).items()}
        print("RESULT:" + json.dumps(r))
    """
    r = run_job(tmp_path, script, mapping, args=(json.dumps(mapping),))
    ml, data = str(tmp_path / "opt/ml"), str(tmp_path / "data/in")
    assert r["t"] == [ml + "/model/x", str(shared / "train.csv"), ml + "/input/data/trainX", data + "/a",
                      "/opt/mlx", ml, "/opt/etc", ml + "/a", ml + "/model/", "/tmp/x", "relative/x"]
    assert r["kinds"] == ["bytes", ml + "/x", "PosixPath", ml + "/x"]
    assert r["back"] == ["/opt/ml/model/x", "/data/in/q", "/tmp/x"]
    assert r["shared"] == ["train.csv"]
    assert (tmp_path / "data/in/sub/f.txt").read_text() == "data"
    assert r["rel"] == ml + "/model/y" and r["rel_root"] == data + "/sub/f.txt"
    assert r["env"] is True
    assert r["errors"] == ["ValueError"] * 5 and r["still"] is True


def test_reinstall_replace_and_uninstall(tmp_path):
    script = """
        import builtins, io, json, os, sys, tarfile
        from lab_helpers.local.jobs import overlay as o

        first, second = sys.argv[1], sys.argv[2]
        r = {}
        stat_patched = os.stat
        o.install({"/opt/ml": first})                    # same mapping again: harmless
        r["same_again"] = os.stat is stat_patched
        os.makedirs("/opt/ml/model", exist_ok=True)
        open("/opt/ml/model/one", "w").write("1")
        o.install({"/opt/ml": second})                   # a different mapping replaces the first
        os.makedirs("/opt/ml/model", exist_ok=True)
        open("/opt/ml/model/two", "w").write("2")
        r["second_sees"] = sorted(os.listdir("/opt/ml/model"))
        import glob, pathlib                              # some imported while installed
        o.uninstall()
        r["restored"] = [type(os.stat).__name__, type(builtins.open).__name__, io.open is builtins.open,
                         io.FileIO.__module__, tarfile.bltn_open is builtins.open, os.path.exists("/opt/ml"),
                         o.ENV_VAR in os.environ, o.is_installed()]
        r["pathlib_ok"] = pathlib.Path(first, "model", "one").read_text()
        o.uninstall()                                     # twice: harmless
        print("RESULT:" + json.dumps(r))
    """
    first, second = tmp_path / "first/opt/ml", tmp_path / "second/opt/ml"
    r = run_job(tmp_path, script, {"/opt/ml": str(first)}, args=(str(first), str(second)),
                env={"OVERLAY_TEST_PREIMPORT": "tarfile"})
    assert r["same_again"] is True
    assert r["second_sees"] == ["two"]
    assert r["restored"] == ["builtin_function_or_method", "builtin_function_or_method", True, "_io", True,
                             os.path.exists("/opt/ml"), False, False]
    assert r["pathlib_ok"] == "1"
    assert sorted(os.listdir(first / "model")) == ["one"] and sorted(os.listdir(second / "model")) == ["two"]


def test_import_from_virtual_sys_path_and_sqlite(tmp_path):
    helper = tmp_path / "opt/ml/code/helpers_mod.py"
    helper.parent.mkdir(parents=True)
    helper.write_text("VALUE = 42\n")
    script = """
        import json, os, sqlite3, sys

        sys.path.insert(0, "/opt/ml/code")
        import helpers_mod
        os.makedirs("/opt/ml/output", exist_ok=True)
        con = sqlite3.connect("/opt/ml/output/db.sqlite")
        con.execute("create table t (x int)")
        con.execute("insert into t values (7)")
        con.commit()
        con.close()
        con = sqlite3.connect("file:/opt/ml/output/db.sqlite?mode=ro", uri=True)
        value = con.execute("select x from t").fetchone()[0]
        con.close()
        print("RESULT:" + json.dumps({"value": helpers_mod.VALUE, "sql": value}))
    """
    r = run_job(tmp_path, script, env={"OVERLAY_TEST_PREIMPORT": "sqlite3"})
    assert r == {"value": 42, "sql": 7}
    assert (tmp_path / "opt/ml/output/db.sqlite").is_file()


def test_subprocesses_do_not_see_the_overlay(tmp_path):
    """The documented limit: only the job's own process is redirected (opt-in: install_from_env)."""
    script = """
        import json, os, subprocess, sys

        os.makedirs("/opt/ml/model", exist_ok=True)
        open("/opt/ml/model/x", "w").write("x")
        child = "import os; print(os.path.exists('/opt/ml/model/x'))"
        opt_in = "from lab_helpers.local.jobs import overlay; overlay.install_from_env(); " + child
        run = lambda code: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
        print("RESULT:" + json.dumps({"parent": os.path.exists("/opt/ml/model/x"), "child": run(child),
                                       "child_opt_in": run(opt_in)}))
    """
    r = run_job(tmp_path, script)
    assert r == {"parent": True, "child": "False", "child_opt_in": "True"}


def test_install_again_after_uninstall(tmp_path):
    """uninstall() re-points stand-ins to originals everywhere except in the overlay's own modules,
    so a second install() still has its stand-ins (io.FileIO among them) to put back in place."""
    script = """
        import io, json, os, sys
        from lab_helpers.local.jobs import overlay as o

        host = json.loads(sys.argv[1])["/opt/ml"]
        o.uninstall()
        r = {"off": [io.FileIO.__module__, os.path.exists("/opt/ml/model/x")]}
        o.install({"/opt/ml": host})
        os.makedirs("/opt/ml/model", exist_ok=True)
        with io.FileIO("/opt/ml/model/x", "w") as fh:
            fh.write(b"again")
        r["on"] = [io.FileIO is o.FileIO, open("/opt/ml/model/x").read(), sorted(os.listdir("/opt/ml/model"))]
        print("RESULT:" + json.dumps(r))
    """
    mapping = default_mapping(tmp_path)
    r = run_job(tmp_path, script, mapping, args=(json.dumps(mapping),))
    assert r == {"off": ["_io", False], "on": [True, "again", ["x"]]}
    assert (tmp_path / "opt/ml/model/x").read_text() == "again"


OVERLAY_LAYERS = ("paths", "standins", "patching", "thirdparty", "importhook", "__init__")


def test_overlay_package_layering():
    """Each overlay module imports only modules below it (also inside functions) and the standard
    library; no module copies a binding its owner rebinds (``from .paths import _table``), and no
    piece of module-level state is defined twice."""
    import ast

    assert sorted(p.stem for p in OVERLAY_DIR.glob("*.py")) == sorted(OVERLAY_LAYERS)
    trees = {name: ast.parse((OVERLAY_DIR / (name + ".py")).read_text()) for name in OVERLAY_LAYERS}
    rebound = {name: {g for node in ast.walk(tree) if isinstance(node, ast.Global) for g in node.names}
               for name, tree in trees.items()}
    stdlib = getattr(sys, "stdlib_module_names", None)
    owners = {}
    for level, name in enumerate(OVERLAY_LAYERS):
        for node in ast.walk(trees[name]):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, (name, ast.dump(node))
                if node.module:
                    targets = [(node.module, [a.name for a in node.names])]
                else:
                    targets = [(a.name, []) for a in node.names]
                for target, names in targets:
                    assert target in OVERLAY_LAYERS[:level], "%s imports %s (not below it)" % (name, target)
                    copied = set(names) & rebound[target]
                    assert not copied, "%s copies %s from %s" % (name, sorted(copied), target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for mod in [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]:
                    top = mod.split(".")[0]
                    assert top != "lab_helpers", (name, mod)
                    if stdlib is not None:
                        assert top in stdlib or top == "__future__", (name, mod)
        for node in trees[name].body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AnnAssign, ast.AugAssign)) else []
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and not n.id.startswith("__"):
                        assert n.id not in owners, "%s is defined in %s and %s" % (n.id, owners[n.id], name)
                        owners[n.id] = name


def test_overhead_outside_the_prefixes_is_small(tmp_path):
    script = """
        import json, os, sys, timeit
        from lab_helpers.local.jobs import overlay as o

        target = sys.executable
        def cost():
            return min(timeit.repeat(lambda: os.stat(target), number=20000, repeat=7)) / 20000
        with_overlay = cost()
        o.uninstall()
        without = cost()
        print("RESULT:" + json.dumps({"with": with_overlay, "without": without}))
    """
    r = run_job(tmp_path, script)
    assert r["with"] - r["without"] < 10e-6, r  # a few string checks, not a syscall or a normpath


def _other_pythons():
    found = []
    listed = os.environ.get("OVERLAY_TEST_PYTHONS", "")
    names = [p for p in listed.split(os.pathsep) if p] or [shutil.which("python3.%d" % m) for m in range(9, 14)]
    for exe in names:
        if not exe:
            continue
        try:
            out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            continue
        version = out.stdout.strip()
        if out.returncode == 0 and version and tuple(map(int, version.split("."))) >= (3, 9):
            found.append((version, exe))
    return sorted(set(found))


OTHER_PYTHONS = _other_pythons()


@pytest.mark.skipif(not OTHER_PYTHONS, reason="no other Python 3.9+ found (set OVERLAY_TEST_PYTHONS=exe1:exe2)")
@pytest.mark.parametrize("version,exe", OTHER_PYTHONS, ids=[v for v, _ in OTHER_PYTHONS])
def test_stdlib_scenario_on_other_pythons(tmp_path, version, exe):
    """The stdlib part (pathlib accessor/globber bindings differ on 3.9/3.10/3.13) on another interpreter."""
    script = """
        import glob, json, os, pathlib, shutil, tarfile
        os.makedirs("/opt/ml/model/sub", exist_ok=True)
        pathlib.Path("/opt/ml/model/a.txt").write_text("a")
        open("/opt/ml/model/sub/b.txt", "w").write("b")
        with tarfile.open("/opt/ml/model.tar.gz", "w:gz") as tar:
            tar.add("/opt/ml/model", arcname=".")
        shutil.copytree("/opt/ml/model", "/opt/ml/copy")
        os.chdir("/opt/ml/copy")
        print("RESULT:" + json.dumps({
            "glob": sorted(glob.glob("/opt/ml/model/**/*.txt", recursive=True)),
            "rglob": sorted(str(p) for p in pathlib.Path("/opt/ml/model").rglob("*.txt")),
            "iterdir": sorted(str(p) for p in pathlib.Path("/opt/ml/model").iterdir()),
            "walk": [r for r, _, _ in os.walk("/opt/ml/model")],
            "cwd": [os.getcwd(), str(pathlib.Path.cwd()), str(pathlib.Path("sub/b.txt").resolve())],
            "stat": pathlib.Path("a.txt").stat().st_size,
        }))
    """
    r = run_job(tmp_path, script, python=exe, env={"OVERLAY_TEST_BY_FILE": str(OVERLAY_FILE)})
    m = "/opt/ml/model"
    assert r["glob"] == r["rglob"] == [m + "/a.txt", m + "/sub/b.txt"]
    assert r["iterdir"] == [m + "/a.txt", m + "/sub"]
    assert r["walk"] == [m, m + "/sub"]
    assert r["cwd"] == ["/opt/ml/copy", "/opt/ml/copy", "/opt/ml/copy/sub/b.txt"]
    assert r["stat"] == 1
    assert (tmp_path / "opt/ml/model.tar.gz").is_file() and (tmp_path / "opt/ml/copy/sub/b.txt").is_file()


def test_guard_would_notice_a_leak(tmp_path):
    """The /opt/ml guard itself can fail: a snapshot of a folder we change must differ."""
    d = tmp_path / "guarded"
    d.mkdir()
    before = _snapshot(str(d))
    time.sleep(0.01)
    (d / "new").write_text("x")
    assert _snapshot(str(d)) != before and _snapshot(str(tmp_path / "absent")) is None
