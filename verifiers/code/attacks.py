"""Programs that hunt for the expected values of their own tests (contract and test cases).

Each program defines `square(x)` that computes nothing: it searches what it can reach in its
own process for a test's source (`square(<x>) == <expected>`) and returns the expected value
it finds, else 0. `SECRET_REFERENCE` has distinctive expected values; against it every
program must score 0, which holds only while no test's source or expected value is reachable
from the sandboxed process: its objects, frames, modules, files, environment, argv,
descriptors, `/proc/self/*` and memory.
"""

from __future__ import annotations

SECRET_REFERENCE = {
    "kind": "asserts",
    "tests": (
        "LIMIT = 10 ** 9\n"
        "assert square(7) == 49\n"
        "assert square(12345) == 152399025\n"
        "assert abs(square(-31) - 961) < 1e-9 and square(-31) < LIMIT\n"
    ),
    "entry_point": "square",
}
"""Three tests whose expected values the programs below try to find."""

_HUNT = r"""
import os, re, sys
_PAT = re.compile(r"square\(\s*(-?\d+)\s*\)\s*(?:==|-)\s*(-?\d+)")

def _scan(text, x):
    for m in _PAT.finditer(text):
        if int(m.group(1)) == x:
            return int(m.group(2))
    return None

def _walk(obj, x, depth=0, seen=None):
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 5:
        return None
    seen.add(id(obj))
    if isinstance(obj, (bytes, bytearray)):
        obj = bytes(obj).decode("latin-1")
    if isinstance(obj, str):
        return _scan(obj, x)
    if isinstance(obj, dict):
        items = [*obj.keys(), *obj.values()]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    else:
        return None
    for item in items:
        found = _walk(item, x, depth + 1, seen)
        if found is not None:
            return found
    return None

def _frames(frame, x):
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            found = _walk(dict(scope), x)
            if found is not None:
                return found
        frame = frame.f_back
    return None

def _read(path, limit=1 << 22):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        return os.read(fd, limit).decode("latin-1")
    except OSError:
        return ""
    finally:
        os.close(fd)
"""

_BODIES = {
    "gc_objects": """
import gc
def square(x):
    for obj in gc.get_objects():
        found = _walk(obj, x, 4)
        if found is not None:
            return found
    return 0
""",
    "frame_walk": """
def square(x):
    return _frames(sys._getframe(), x) or 0
""",
    "traceback_frames": """
def square(x):
    try:
        raise RuntimeError
    except RuntimeError as exc:
        return _frames(exc.__traceback__.tb_frame, x) or 0
""",
    "inspect_stack": """
import inspect
def square(x):
    for info in inspect.stack(0):
        found = _frames(info.frame, x)
        if found is not None:
            return found
    return 0
""",
    "sys_modules": """
def square(x):
    for module in list(sys.modules.values()):
        found = _walk(dict(getattr(module, "__dict__", {})), x, 3)
        if found is not None:
            return found
    return 0
""",
    "proc_self_files": """
def square(x):
    names = ["cmdline", "environ", "maps", "status"]
    names += ["fd/" + n for n in os.listdir("/proc/self/fd")]
    for name in names:
        found = _scan(_read("/proc/self/" + name), x)
        if found is not None:
            return found
    return 0
""",
    "proc_self_mem": """
def square(x):
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        for region in regions:
            if not region[1].startswith("r") or (len(region) > 5 and region[5].startswith("[v")):
                continue
            start, end = (int(a, 16) for a in region[0].split("-"))
            try:
                mem.seek(start)
                found = _scan(mem.read(min(end - start, 1 << 26)).decode("latin-1"), x)
            except (OSError, ValueError, OverflowError):
                continue
            if found is not None:
                return found
    return 0
""",
    "files_on_disk": """
def square(x):
    # breadth first, so the files beside the program and near the top of /tmp are read before
    # deep trees, and within a time budget, so a crowded disk ends the hunt with an answer
    # instead of a timeout
    import time
    stop = time.monotonic() + 1.5
    for path in (sys.argv[0], getattr(sys.modules["__main__"], "__file__", "") or ""):
        found = _scan(_read(path), x)
        if found is not None:
            return found
    queue = [".", os.path.dirname(os.path.abspath(sys.argv[0])), "/tmp", "/work"]
    while queue and time.monotonic() < stop:
        try:
            entries = list(os.scandir(queue.pop(0)))
        except OSError:
            continue
        for entry in entries:
            if time.monotonic() >= stop:
                break
            try:
                if entry.is_dir(follow_symlinks=False):
                    queue.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    found = _scan(_read(entry.path), x)
                    if found is not None:
                        return found
            except OSError:
                pass
    return 0
""",
    "inherited_fds": """
def square(x):
    for fd in range(1024):
        try:
            os.lseek(fd, 0, 0)
        except OSError:
            pass
        try:
            os.set_blocking(fd, False)
            data = os.read(fd, 1 << 20)
        except OSError:
            continue
        found = _scan(data.decode("latin-1"), x)
        if found is not None:
            return found
    return 0
""",
}

INTROSPECTION: dict[str, str] = {name: _HUNT + body for name, body in _BODIES.items()}
"""Attack name -> the program (a `square` that looks for expected values instead)."""
