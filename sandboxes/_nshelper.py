"""Mount-namespace helper, run as root by `sandboxes._interp.MountHelper` (`python -S -I -c`).

Arguments: groups of `ANCHOR PREFIX... --`. In a new private mount namespace, each ANCHOR (a
directory others cannot traverse, such as `/root`) is covered by a small tmpfs of mode 0755, and
each PREFIX below it is recreated there and bind-mounted read-only from the real one (opened
inside the new namespace before the cover hid it: a bind source must belong to the caller's
namespace). Then it prints `ready` and waits until its stdin closes, which keeps
the namespace alive for `nsenter` for as long as the runner process lives.
"""

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _c(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str) -> None:
    result = _libc.mount(_c(source), _c(target), _c(fstype), flags, _c(data))
    _check(result, f"mount {target}")


def _groups(argv: list[str]) -> list[tuple[str, list[str]]]:
    groups: list[tuple[str, list[str]]] = []
    current: list[str] = []
    for arg in argv:
        if arg == "--":
            groups.append((current[0], current[1:]))
            current = []
        else:
            current.append(arg)
    return groups


def main(argv: list[str]) -> None:
    """Build the namespace described by `argv`, report `ready`, then wait for stdin to close."""
    groups = _groups(argv)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, "")
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for _, ps in groups for p in ps}
    for anchor, prefixes in groups:
        _mount("tmpfs", anchor, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for prefix in sorted(prefixes):
            os.makedirs(prefix, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fds[prefix]}", prefix, None, MS_BIND | MS_REC, "")
            _mount(None, prefix, None, MS_BIND | MS_REMOUNT | MS_RDONLY, "")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.buffer.read()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except OSError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(1)
