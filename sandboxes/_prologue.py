"""The first code every sandboxed program runs, inside the sandbox, in the program's interpreter.

The backends start `python -S -c <this file's source> ARGS...` (docker: `python -S FILE`); this
sets the resource limits, closes stray descriptors, restores the `exit`/`quit` builtins that `-S`
leaves out, writes a start marker to stderr and then runs `main.py` as `__main__` in the same
interpreter, so the limits cost no second interpreter start.

Arguments (all strings): address-space bytes, CPU seconds, process count (`-1`: leave it), file
size bytes, open files, the `sys.path` entries joined by `os.pathsep` (empty: keep the
interpreter's own), the start marker, and the path of the program. The marker lets the runner
tell "the sandbox never started" (a sandbox error) from "the program failed": the program cannot
un-write it, and cannot write it before the sandbox has started.

Standard library only; it must not import anything that `-S` leaves out.
"""

import _sitebuiltins
import builtins
import os
import resource
import sys


def _set_limits(argv: list[str]) -> None:
    address_space, cpu, nproc, fsize, nofile = (int(a) for a in argv[1:6])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if nproc >= 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def main(argv: list[str]) -> None:
    """Apply the limits from `argv`, then run the program in this interpreter."""
    _set_limits(argv)
    os.closerange(3, 1 << 16)
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    path = argv[8]
    with open(path, "rb") as f:
        source = f.read()
    extra = [entry for entry in argv[6].split(os.pathsep) if entry]
    sys.path[:] = [os.path.dirname(path), *(extra or sys.path[1:])]
    marker = argv[7]
    sys.argv = [path]
    sys.stderr.write(marker)
    sys.stderr.flush()
    code = compile(source, path, "exec", dont_inherit=True)
    namespace = sys.modules["__main__"].__dict__
    scope_builtins = namespace["__builtins__"]
    namespace.clear()
    namespace.update(__name__="__main__", __file__=path, __builtins__=scope_builtins)
    exec(code, namespace)


if __name__ == "__main__":
    main(sys.argv)
