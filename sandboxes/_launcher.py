"""Launcher of the process backend, run by the runner as `python -S -I -c <source> CONFIG`.

It stays with the runner's identity (root, when the runner is root) so the program cannot signal
or trace it, and:
  1. becomes a child subreaper, so every orphan of the run is re-parented to it and reaped
     (zombies would otherwise count against the pool uid's process limit);
  2. forks the program: new process group, new network and System V IPC namespaces when the
     runner found that the kernel allows them (`unshare`, inside a new user namespace that maps
     the runner's own ids when it is not root), supplementary groups dropped, gid and uid
     switched to the pool uid, work directory entered, then `exec` of the prologue command;
  3. waits for the program, or for SIGTERM from the runner (deadline, output cap);
  4. kills every remaining process of the run: `kill(-1, SIGKILL)` issued by a child that has
     switched to the pool uid (which owns nothing else), or the program's process group when
     there is no pool uid; then reaps everything and exits with the program's status
     (128 + N when it died of signal N).

Arguments: the pool uid (`-` for none), the `unshare` flags (an integer, 0 for none), the work
directory, the number N of environment entries, N `KEY=VALUE` entries, then the program's
command line. (No JSON: importing `json` would cost more than the rest of the launcher.) With
the single argument `--try-unshare FLAGS` it only checks, in a child, that the kernel allows
those namespaces (exit status 0) or says why not on stderr.
"""

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWUSER = 0x10000000


class Config:
    """The parsed command line."""

    def __init__(self, argv: list[str]) -> None:
        self.uid = None if argv[0] == "-" else int(argv[0])
        self.unshare = int(argv[1])
        self.cwd = argv[2]
        count = int(argv[3])
        self.env = dict(entry.split("=", 1) for entry in argv[4 : 4 + count])
        self.argv = argv[4 + count :]


def unshare(flags: int) -> None:
    """Enter new namespaces (`flags` of unshare(2)); with a user namespace, map our own ids.

    Raises:
        OSError: the kernel refused.
    """
    if not flags:
        return
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    if flags & CLONE_NEWUSER:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")


def _child(config: Config, errors: int) -> None:
    try:
        os.setpgid(0, 0)
        unshare(config.unshare)
        if config.uid is not None:
            os.setgroups([])
            os.setgid(config.uid)
            os.setuid(config.uid)
        os.chdir(config.cwd)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.execve(config.argv[0], config.argv, config.env)
    except BaseException as exc:
        os.write(errors, f"cannot start the program: {exc}".encode())
    os._exit(127)


def _kill_run(pid: int, uid: int | None) -> None:
    if uid is not None:
        killer = os.fork()
        if killer == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(killer, 0)
    try:  # noqa: SIM105 - contextlib would slow the start
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _reap_all(pid: int) -> int:
    """Reap every child that has exited; return the wait status of `pid` if it was among them."""
    status = -1
    while True:
        try:
            child, child_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if child == 0:
            return status
        if child == pid:
            status = child_status


def _reap_remaining(pid: int, status: int) -> int:
    """After the kill: reap until no child is left (at most one second for escaped daemons)."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            child, child_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if child == pid:
            status = child_status
        elif child == 0:
            if time.monotonic() > deadline:
                return status
            signal.sigtimedwait([signal.SIGCHLD], 0.05)


def main(config: Config) -> int:
    """Run the program described by `config`; return the launcher's exit status."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD, signal.SIGTERM])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(config, write_end)
    os.close(write_end)
    error = os.read(read_end, 4096)
    os.close(read_end)
    status = -1
    while not error and status == -1:
        info = signal.sigwaitinfo([signal.SIGCHLD, signal.SIGTERM])
        if info.si_signo == signal.SIGTERM:
            break
        status = _reap_all(pid)
    _kill_run(pid, config.uid)
    status = _reap_remaining(pid, status)
    if error:
        sys.stderr.write(error.decode(errors="replace"))
        return 127
    if status == -1:
        return 128 + signal.SIGKILL
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def try_unshare(flags: int) -> int:
    """Exit status 0 when a child can enter the namespaces `flags`, else 1 (reason on stderr)."""
    pid = os.fork()
    if pid == 0:
        try:
            unshare(flags)
        except OSError as exc:
            sys.stderr.write(str(exc))
            os._exit(1)
        os._exit(0)
    return 0 if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 else 1


if __name__ == "__main__":
    if sys.argv[1] == "--try-unshare":
        sys.exit(try_unshare(int(sys.argv[2])))
    sys.exit(main(Config(sys.argv[1:])))
