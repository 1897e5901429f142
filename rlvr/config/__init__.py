"""Configs: the strict YAML loader (`loader`) and the sections every stage composes
(`sections`). The bottom layer: imports nothing else of rlvr.
"""

from rlvr.config.loader import (
    STAGES,
    ConfigError,
    describe,
    dump_yaml,
    field_docs,
    from_dict,
    load_config,
    read_stage,
    stage_class,
    to_dict,
)

__all__ = [
    "STAGES",
    "ConfigError",
    "describe",
    "dump_yaml",
    "field_docs",
    "from_dict",
    "load_config",
    "read_stage",
    "stage_class",
    "to_dict",
]
