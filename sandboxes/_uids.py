"""Dedicated user ids for sandboxed runs.

When the runner is root, each run executes under a uid of its own, taken from a pool of
`POOL_SIZE` uids starting at `UID_BASE`; these uids have no passwd entry and own no file on the
host, so a sandboxed program can read only what is readable by everyone. A slot is held with an
exclusive `flock` on a lock file for the duration of the run, so concurrent runs, in threads or
in other processes, never share a uid. That matters for two reasons:

  1. RLIMIT_NPROC counts the processes of a uid: with one uid per run a fork bomb exhausts its
     own limit, not its neighbour's. (Root ignores RLIMIT_NPROC, hence no run as root at all.)
  2. "Every process of this uid" is exactly "every process of this run", so the process backend
     can end a run with `kill(-1, SIGKILL)` issued as that uid, daemons included.

A non-root runner has nothing to switch to: runs use the runner's own uid and `acquire` returns
None (the backends then document what that leaves out).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import pwd
import time
from collections.abc import Iterator

UID_BASE = 1_800_000_000
"""First uid of the pool: far above regular, system, container and subuid ranges."""
POOL_SIZE = 64
"""Number of uids, so the most concurrent runs on one machine."""
LOCK_DIR = "/run/rlvr-sandboxes"
"""Root-only directory with one lock file per slot."""

_turns = itertools.count(0, 7)
"""Successive runs start their search at different slots (7 is prime to `POOL_SIZE`): a run's
processes can outlive it briefly as zombies until the host's init reaps them (bwrap's sandbox
init is one), and they count against that uid's process limit."""


def is_root() -> bool:
    """True when the runner can switch to a pool uid."""
    return os.geteuid() == 0


def _lock_dir() -> str:
    os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
    return LOCK_DIR


def free_of_passwd_entries() -> list[int]:
    """The pool uids that no passwd entry claims (only those are handed out)."""
    free = []
    for uid in range(UID_BASE, UID_BASE + POOL_SIZE):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            free.append(uid)
    return free


@contextlib.contextmanager
def acquire(timeout_s: float = 60.0) -> Iterator[int | None]:
    """Hold a pool uid for the duration of the block; None when the runner is not root.

    Raises:
        TimeoutError: every slot stayed busy for `timeout_s`.
    """
    if not is_root():
        yield None
        return
    directory = _lock_dir()
    deadline = time.monotonic() + timeout_s
    start = (os.getpid() + next(_turns)) % POOL_SIZE
    while True:
        for i in range(POOL_SIZE):
            slot = (start + i) % POOL_SIZE
            fd = os.open(f"{directory}/slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield UID_BASE + slot
            finally:
                os.close(fd)
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"all {POOL_SIZE} sandbox uids stayed busy for {timeout_s} s")
        time.sleep(0.01)
