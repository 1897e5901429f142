"""Data: typed records (`types`), dataset loading (`loading`), synthetic tasks with verifiable
references (`synthetic`), preference rows and their synthetic pairs (`preference`), the rows a
data section names (`rows`) and the seeded order training reads them in (`batches`). May import
`config`; nothing else of rlvr.
"""

from rlvr.data.loading import (
    DataError,
    fingerprint,
    iter_rows,
    load_preference_pairs,
    load_samples,
    load_sft_rows,
)
from rlvr.data.synthetic import (
    GENERATORS,
    arithmetic,
    code_tasks,
    generate,
    json_tasks,
    task_row,
    write_jsonl,
)
from rlvr.data.types import (
    Message,
    PreferencePair,
    Prompt,
    RolloutGroup,
    Sample,
    Task,
    UnpairedPreference,
)

__all__ = [
    "GENERATORS",
    "DataError",
    "Message",
    "PreferencePair",
    "Prompt",
    "RolloutGroup",
    "Sample",
    "Task",
    "UnpairedPreference",
    "arithmetic",
    "code_tasks",
    "fingerprint",
    "generate",
    "iter_rows",
    "json_tasks",
    "load_preference_pairs",
    "load_samples",
    "load_sft_rows",
    "task_row",
    "write_jsonl",
]
