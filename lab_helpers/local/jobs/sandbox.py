"""Job confinement on Linux: every job in its own user, mount, network and PID namespaces.

Where the kernel lets an unprivileged user create namespaces (Linux with user namespaces, as on
most distributions), a job process confines itself before it runs anything (:func:`enter`):

* a new **user namespace** maps the caller's uid/gid to 0 (SageMaker jobs run as root);
* a new **network namespace** has only a loopback interface: nothing can leave the machine;
* a new **PID namespace** with a fresh ``/proc``: the job sees its own processes only;
* a new **mount namespace** with a root built from scratch on a tmpfs - the job's own scratch
  layer, writable as a container's root file system is and gone when the job ends: the host's top-level
  folders bound read-only, a private writable ``/tmp`` (``<job>/tmp``), the job's
  ``container/opt/ml`` writable at the real ``/opt/ml`` (on a tmpfs ``/opt`` that re-binds the
  host's ``/opt/*`` read-only), processing ``LocalPath``\\ s outside ``/opt/ml`` bound at their real
  paths where a mount point can be made, the job's Python environment (``sys.prefix``) as a
  copy-on-write overlay whose changes land in ``<job>/image`` (so ``pip install`` works and changes
  nothing outside the job), a fresh ``/run`` holding the AWS bridge's socket, and ``LAB_HOME`` (the
  control-plane database, the S3 folder, every other job's folder) hidden under an empty tmpfs.

The job then ``pivot_root``\\ s into that tree and enters one more user and mount namespace, which
locks every mount in place (a job, root in its namespace, cannot unmount the tmpfs over
``LAB_HOME`` or make a read-only bind writable).  Everything it starts - ``python3 other.py``,
``pip``, a shell - lives in the same tree.

Three processes take part: the job process (the launcher's or the fork server's child) creates
the namespaces and waits; its child is PID 1 of the new PID namespace (it builds the tree, mounts
``/proc`` and reaps orphans, as a container's init would); *its* child runs the job and is the one
that returns from :func:`enter`.  The job's exit status goes back up unchanged.

Only the standard library (``ctypes`` to libc): learners have Python and nothing else.  The
module runs inside job processes, so it stays compatible with Python 3.9.  ``LAB_SANDBOX=0``
switches confinement off; elsewhere (macOS, kernels without unprivileged user namespaces) jobs
run as plain processes with the path overlay, not isolated.
"""

import ctypes
import errno
import os
import platform
import signal
import struct
import subprocess
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 1
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added in Linux 5.12)
_SYS_PIVOT_ROOT = {"x86_64": 155, "amd64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41,
                   "ppc64le": 203, "ppc64": 203, "s390x": 217, "i686": 217, "i386": 217}

#: Where the AWS bridge's socket appears inside a confined job.
SOCKET_PATH = "/run/lab-helpers/aws.sock"
#: Where declared container paths that could not be bound in place are reachable (overlay targets).
_SPARE = "/run/lab-helpers/paths"
#: Host top-level entries that the new root gets its own version of.
_OWN = ("proc", "tmp", "run", "opt", "dev")

_libc = None
_probe = None  # (ok, reason) once probed


class SandboxError(OSError):
    """The job's namespaces or mounts could not be set up."""


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise SandboxError(code, f"{what}: {os.strerror(code)}")


def _b(path):
    return os.fsencode(path) if path is not None else None


def _mount(source, target, fstype=None, flags=0, data=None):
    _check(_lib().mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           f"mount {source or fstype} on {target}")


def _bind(source, target, recursive=True):
    _mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))


def _unshare(flags):
    _check(_lib().unshare(ctypes.c_int(flags)), "unshare")


def _write(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _map_ids(uid, gid):
    """Inside the user namespace just entered, be root: uid/gid 0 is the caller's uid/gid outside."""
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def _read_only(target):
    """Make the mount at ``target`` and every mount below it read-only."""
    attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY, 0, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    result = _lib().syscall(ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), _b(target),
                            ctypes.c_uint(AT_RECURSIVE), buf, ctypes.c_size_t(len(attr)))
    if result == 0:
        return
    if ctypes.get_errno() != errno.ENOSYS:
        _check(result, f"mount_setattr read-only {target}")
    for point, options in reversed(_mounts_under(target)):  # kernels before 5.12: one mount at a time
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for name, bit in (("nosuid", MS_NOSUID), ("nodev", MS_NODEV), ("noexec", MS_NOEXEC)):
            if name in options:
                flags |= bit
        _mount(None, point, None, flags)


def _mounts_under(target):
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            if point == target or point.startswith(target.rstrip("/") + "/"):
                found.append((point, fields[5].split(",")))
    return found


def _pivot_root(new_root):
    number = _SYS_PIVOT_ROOT.get(platform.machine().lower())
    if number is None:
        raise SandboxError(errno.ENOSYS, f"pivot_root: unknown system call number on {platform.machine()}")
    os.chdir(new_root)
    _check(_lib().syscall(ctypes.c_long(number), b".", b"."), "pivot_root")
    _check(_lib().umount2(b".", ctypes.c_int(MNT_DETACH)), "umount the old root")
    os.chdir("/")


def _loopback_up():
    """Bring ``lo`` up in the new network namespace (a container has a loopback; nothing else)."""
    import fcntl
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(sock, 0x8913, request))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(sock, 0x8914, struct.pack("16sh14x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


# --------------------------------------------------------------------------------------------
# the plan (made by the runtime) and the tree (built by PID 1 of the job's namespaces)
# --------------------------------------------------------------------------------------------
def enabled():
    """True where confinement may be tried: Linux, and ``LAB_SANDBOX`` is not ``0``."""
    return sys.platform.startswith("linux") and os.environ.get("LAB_SANDBOX", "1") != "0"


def plan(job_dir, lab_home, socket=None):
    """What :func:`enter` needs for one job (JSON-able; goes into the job's spec)."""
    job_dir = os.path.realpath(str(job_dir))
    for sub in ("sandbox-root", "tmp", os.path.join("image", "upper"), os.path.join("image", "work")):
        os.makedirs(os.path.join(job_dir, sub), exist_ok=True)
    os.chmod(os.path.join(job_dir, "tmp"), 0o700)  # only the job's root (the user, outside) uses it
    return {"job_dir": job_dir, "lab_home": os.path.realpath(str(lab_home)), "socket": socket}


def tidy(job_dir):
    """After the job: drop what a container's end drops (its writable image layer, /tmp, the mount point)."""
    import shutil

    for sub in ("image", "tmp"):
        folder = os.path.join(str(job_dir), sub)
        for current, folders, _ in os.walk(folder):  # overlayfs leaves a folder with mode 000; a job may too
            for name in folders:
                path = os.path.join(current, name)
                if not os.path.islink(path):
                    try:
                        os.chmod(path, 0o700)
                    except OSError:
                        pass
        shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rmdir(os.path.join(str(job_dir), "sandbox-root"))
    except OSError:
        pass


def _visible_paths(lab_home):
    """Folders the job's interpreter needs (prefixes, the kit, sys.path and PYTHONPATH entries)."""
    candidates = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable))]
    candidates += sys.path + os.environ.get("PYTHONPATH", "").split(os.pathsep)
    found = []
    for path in candidates:
        if not path or not os.path.isabs(path) or not os.path.isdir(path):
            continue
        path = os.path.realpath(path)
        if path == "/" or _within(path, lab_home) or _within(lab_home, path) or path in found:
            continue
        found.append(path)
    return found


def _within(path, folder):
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _same(a, b):
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _mirror(host, target, read_only=True):
    """Make ``target`` show the host entry ``host``: a symlink copied, a folder or file bound."""
    if os.path.islink(host):
        os.symlink(os.readlink(host), target)
        return
    if os.path.isdir(host):
        os.mkdir(target)
    elif os.path.exists(host):
        open(target, "w").close()
    else:
        return
    _bind(host, target)
    if read_only:
        _read_only(target)


def _build(plan_, mapping, visible):
    """Build the job's root under ``<job>/sandbox-root`` and pivot into it; returns the overlay's leftovers."""
    job_dir, lab_home = plan_["job_dir"], plan_["lab_home"]
    root = os.path.join(job_dir, "sandbox-root")
    notes = []
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for name in sorted(os.listdir("/")):
        if name not in _OWN:
            _mirror("/" + name, os.path.join(root, name))
    os.mkdir(os.path.join(root, "proc"))
    try:
        _mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except SandboxError as exc:
        raise SandboxError(exc.errno, f"{exc.strerror} (a fresh /proc is needed to hide other processes)")
    _mirror("/dev", os.path.join(root, "dev"))
    if os.path.isdir(os.path.join(root, "dev", "shm")):
        _mount("tmpfs", os.path.join(root, "dev", "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.mkdir(os.path.join(root, "tmp"))
    _bind(os.path.join(job_dir, "tmp"), os.path.join(root, "tmp"))
    os.mkdir(os.path.join(root, "run"))
    _mount("tmpfs", os.path.join(root, "run"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    os.makedirs(root + _SPARE)
    if plan_.get("socket"):
        open(root + SOCKET_PATH, "w").close()
        _bind(plan_["socket"], root + SOCKET_PATH, recursive=False)
    os.mkdir(os.path.join(root, "opt"))
    _mount("tmpfs", os.path.join(root, "opt"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    if os.path.isdir("/opt"):
        for name in sorted(os.listdir("/opt")):
            if name != "ml":
                _mirror(os.path.join("/opt", name), os.path.join(root, "opt", name))
    os.mkdir(os.path.join(root, "opt", "ml"))
    _bind(mapping["/opt/ml"], os.path.join(root, "opt", "ml"))
    hide = root + lab_home
    if os.path.isdir(hide) and not _within(lab_home, "/tmp"):
        _mount("tmpfs", hide, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for path in visible:  # what the interpreter needs, where a private /tmp or the hidden LAB_HOME covers it
        target = root + path
        if _same(path, target):
            continue
        try:
            os.makedirs(target, exist_ok=True)
            _bind(path, target)
            _read_only(target)
        except OSError as exc:
            notes.append(f"{path} is not visible in the job ({exc.strerror or exc})")
    if os.path.isdir(hide) and not _within(lab_home, "/tmp"):
        _mount(None, hide, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    notes += _image_overlay(job_dir, root)
    leftovers = {}
    for number, (virtual, host) in enumerate(sorted(mapping.items())):
        if virtual == "/opt/ml":
            continue
        target = root + virtual
        try:
            os.makedirs(target, exist_ok=True)
            _bind(host, target)
        except OSError:  # no mount point can be made there (a read-only host folder): the overlay maps it
            spare = f"{_SPARE}/{number}"
            os.mkdir(root + spare)
            _bind(host, root + spare)
            leftovers[virtual] = spare
    # The new root and /opt are the job's own scratch layer, as a container's root file system is: a script may
    # write there (AWS's abalone evaluation unpacks the model into "/", its working directory), and it all
    # goes when the job ends.  /run, which holds the AWS bridge's socket, is read-only; the host's folders
    # were bound read-only above.
    _mount(None, os.path.join(root, "run"), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    try:
        _loopback_up()
    except OSError as exc:
        notes.append(f"loopback interface left down ({exc})")
    _pivot_root(root)
    _unshare(CLONE_NEWUSER | CLONE_NEWNS)  # a namespace below: every mount above is now locked in place
    _map_ids(0, 0)
    return leftovers, notes


def _image_overlay(job_dir, root):
    """The job's Python environment, copy-on-write: changes (pip install) land in ``<job>/image``."""
    prefix = os.path.realpath(sys.prefix)
    upper, work = os.path.join(job_dir, "image", "upper"), os.path.join(job_dir, "image", "work")
    if any(c in prefix + upper for c in ",:\\") or prefix == "/":
        return [f"the Python environment {prefix} is read-only in the job (its path cannot be overlaid)"]
    try:
        _mount("overlay", root + prefix, "overlay", 0,
               f"lowerdir={prefix},upperdir={upper},workdir={work},userxattr")
    except OSError as exc:
        return [f"the Python environment {prefix} is read-only in the job (overlayfs: {exc.strerror or exc})"]
    return []


# --------------------------------------------------------------------------------------------
# entering: three processes
# --------------------------------------------------------------------------------------------
def enter(plan_, mapping, on_error=None):
    """Confine this (single-threaded) process; returns ``(leftover mapping, notes)`` in the job's process.

    ``mapping`` is the job's {container path: host folder}; the leftover mapping holds the paths
    that could not be bound in place, for the path overlay.  Raises :class:`SandboxError` if the
    namespaces cannot be created (nothing has changed then: the caller may run the job unconfined).
    A failure after that ends the job: ``on_error(text)`` records why, and this process exits 1.
    """
    visible = _visible_paths(plan_["lab_home"])
    uid, gid = os.getuid(), os.getgid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID)
    try:  # from here on this process is in new namespaces: it can no longer run the job unconfined
        _map_ids(uid, gid)
        reader, writer = os.pipe()
        init = os.fork()
    except BaseException as exc:  # noqa: BLE001
        _give_up(exc, on_error)
    if init:
        os.close(writer)
        _relay(init, reader)
    os.close(reader)
    try:
        leftovers, notes = _build(plan_, mapping, visible)
        job = os.fork()
    except BaseException as exc:  # noqa: BLE001
        _give_up(exc, on_error)
    if job == 0:
        os.close(writer)
        os.environ["TMPDIR"] = "/tmp"
        if plan_.get("socket"):
            os.environ["LAB_AWS_BRIDGE"] = SOCKET_PATH  # jobsite.sitecustomize.ENV_VAR (this module stands alone)
        return leftovers, notes
    _init(job, writer)


def _give_up(exc, on_error):
    """A failure half-way into the namespaces: say why, and end the job."""
    text = f"ClientError: the kit could not confine the job ({exc}). Set LAB_SANDBOX=0 to run jobs unconfined."
    print(text, file=sys.stderr, flush=True)
    if on_error:
        on_error(text)
    os._exit(1)


def _init(job, writer):
    """PID 1 of the job's namespace: reap every process until the job ends; pass its status up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == job:
            os.write(writer, struct.pack("i", status))
            os._exit(0)


def _relay(init, reader):
    """The job process outside the namespaces: wait for PID 1, then end as the job ended."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the job gets them (same process group) and its end comes back here
    while True:
        try:
            _, own = os.waitpid(init, 0)
            break
        except InterruptedError:
            continue
    data = os.read(reader, 4)
    status = struct.unpack("i", data)[0] if len(data) == 4 else own
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL and SIGSTOP keep their default
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


# --------------------------------------------------------------------------------------------
# can it work here?
# --------------------------------------------------------------------------------------------
def available():
    """``(True, how)`` if jobs can be confined here (probed once, in a throw-away process), else ``(False, why)``."""
    global _probe
    if _probe is None:
        _probe = _run_probe()
    return _probe


def _run_probe():
    if not sys.platform.startswith("linux"):
        return False, f"{platform.system()} has no Linux namespaces"
    if _SYS_PIVOT_ROOT.get(platform.machine().lower()) is None:
        return False, f"unknown CPU architecture {platform.machine()}"
    import shutil
    import tempfile

    scratch = tempfile.mkdtemp(prefix="lab-sandbox-probe-")
    try:
        proc = subprocess.run([sys.executable, "-I", "-S", os.path.abspath(__file__), "--probe", scratch],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"the probe did not run ({exc})"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if proc.returncode == 0 and proc.stdout.strip() == "confined":
        return True, "Linux user, mount, network and PID namespaces"
    why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return False, why.replace("SandboxError: ", "") + _kernel_hint()


#: Kernel settings that keep unprivileged users from creating (useful) user namespaces.
_RESTRICTIONS = (("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"),
                 ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
                 ("/proc/sys/user/max_user_namespaces", "0"))


def _kernel_hint():
    for path, value in _RESTRICTIONS:
        try:
            with open(path) as handle:
                restricted = handle.read().strip() == value
        except OSError:
            continue
        if restricted:
            setting = path[len("/proc/sys/"):].replace("/", ".")
            return f"; the system restricts user namespaces: sysctl {setting} = {value}"
    return ""


def _probe_main(scratch):
    """In a throw-away process: confine it as a job, and check the result."""
    ml = os.path.join(scratch, "job", "container", "opt", "ml")
    os.makedirs(ml)
    spec = plan(os.path.join(scratch, "job"), scratch)
    try:
        enter(spec, {"/opt/ml": ml}, on_error=lambda text: None)
    except SandboxError as exc:
        print(f"SandboxError: {exc.strerror or exc}", file=sys.stderr)
        return 1
    problems = []
    if os.getpid() != 2:
        problems.append(f"not in a new PID namespace (pid {os.getpid()})")
    if os.path.exists(scratch):
        problems.append("the kit's folder is visible")
    try:
        open("/opt/ml/probe", "w").close()
    except OSError as exc:
        problems.append(f"/opt/ml is not writable ({exc})")
    try:
        os.mkdir("/usr/lab-sandbox-probe")
        problems.append("/usr is writable")
    except OSError:
        pass
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 1
    print("confined")
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--probe"]:
    _code = _probe_main(sys.argv[2])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)
