"""Options of the majority task (standard library only: ``mltasks info`` imports this)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mltasks import TaskConfig
from mltasks.errors import ConfigError


@dataclass(frozen=True)
class MajorityConfig(TaskConfig):
    """Configuration of :class:`mltasks_majority.task.MajorityTask`."""

    #: What ``--quick`` changes, in the fields you did not set (``--quick --set max_rows=0`` reads all).
    quick_presets: ClassVar[dict[str, Any]] = {"max_rows": 60}

    method: Literal["centroid", "majority"] = field(
        default="centroid", metadata={"help": "centroid: nearest class mean of standardised features; "
                                              "majority: always the most frequent class"})
    label_col: str = field(default="", metadata={"help": "name of the label column; default: the last column"})
    test_size: float = field(default=0.3, metadata={"help": "fraction of rows held out for the test split"})
    max_rows: int = field(default=0, metadata={"help": "read a random sample of at most this many rows; 0: all"})

    def __post_init__(self) -> None:
        if self.max_rows < 0:
            raise ConfigError(f"max_rows must be 0 (all rows) or more, got {self.max_rows}")
        if not 0.0 < self.test_size < 1.0:
            raise ConfigError(f"test_size must be between 0 and 1, got {self.test_size}")
