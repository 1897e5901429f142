"""Find the program in a completion.

Rules, first match wins:
  1. the last fenced block tagged `python`, `py` or `python3`;
  2. the last fenced block with no tag;
  3. the whole completion, when it has no fence at all;
  4. otherwise nothing (only blocks in other languages): the verifier answers `no_code`.
A final fence left open by a truncated generation counts, up to the end of the text.

>>> extract_program("Here:\\n```python\\nprint(1)\\n```\\nDone.")
'print(1)\\n'
>>> extract_program("```cpp\\nint main() {}\\n```")
''
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.M | re.S)
_PYTHON_TAGS = frozenset({"python", "py", "python3"})


def extract_program(completion: str) -> str:
    """The program in `completion` by the rules above; empty when there is none."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(completion)]
    if not blocks:
        return completion if "```" not in completion else ""
    for wanted in (_PYTHON_TAGS, frozenset({""})):
        chosen = [body for tag, body in blocks if tag in wanted]
        if chosen:
            return chosen[-1]
    return ""
