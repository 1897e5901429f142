"""`python -m verifiers.probes SPEC`: run probe packs against a verifier, torch-free.

    python -m verifiers.probes math                      # the pack shipped for `math`
    python -m verifiers.probes my_pkg.mod:MyVerifier --generic --reference '"42"'

Exits 0 when no probe is accepted, masked or left without a verdict, else 1.
"""

from __future__ import annotations

import argparse
import json
import sys

import verifiers
from verifiers import probes


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the probes, print the report; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m verifiers.probes", description=__doc__)
    parser.add_argument("spec", help="a registered verifier name or pkg.module:Class")
    parser.add_argument(
        "--generic",
        action="store_true",
        help="run the generic probes (with --reference) instead of the verifier's own pack",
    )
    parser.add_argument(
        "--reference",
        type=json.loads,
        help="JSON reference for generic probes (default: the verifier's first example's)",
    )
    parser.add_argument("--options", type=json.loads, default={}, help="JSON verifier options")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per probe")
    args = parser.parse_args(argv)
    verifier = verifiers.get(args.spec, args.options)
    if args.generic:
        pack = probes.generic()
        examples = verifier.examples
        reference = args.reference
        if reference is None and examples:
            reference = examples[0].reference
    else:
        pack, reference = probes.load(verifier.name), None
        if not pack:
            print(f"no probes are shipped for {verifier.name}; try --generic", file=sys.stderr)
            return 1
    report = probes.run(
        args.spec, pack, reference=reference, options=args.options, timeout_s=args.timeout
    )
    print(report.format())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
