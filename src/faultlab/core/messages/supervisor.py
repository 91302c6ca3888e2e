"""The supervisor's messages: its processes, the reset (with lab settings for one experiment) and network faults."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from faultlab.core.config import Settings
from faultlab.core.messages import Message, Open

# Settings an experiment may change for its run: detection, voting and log fetching (the services restart with them).
LAB_SETTINGS = ("detector", "health_interval_ms", "health_timeout_ms", "failure_threshold", "recovery_threshold",
                "recovery_interval_ms", "stale_after_ms", "stale_after_busy_ms", "caught_up_ms", "voter_timeout_ms",
                "voter_slow_ms", "fetch_wait_ms", "fetch_idle_wait_ms")


@cache
def lab_settings_model() -> type[BaseModel]:
    """Each of LAB_SETTINGS, optional, with the type, limits and description `Settings` gives it."""
    fields: dict[str, Any] = {}
    for name in LAB_SETTINGS:
        original = Settings.model_fields[name]
        copy = FieldInfo.merge_field_infos(original, default=None)
        fields[name] = (original.annotation | None, copy)  # type: ignore[operator]  # every field is annotated
    model: type[BaseModel] = create_model("LabSettings", __base__=Message, **fields)
    model.__doc__ = "Lab settings for one experiment: the services holding data restart with them (reset)."
    return model


if TYPE_CHECKING:
    LabSettings = Message  # to the type checker, a model; its fields are made from Settings at run time
else:
    LabSettings = lab_settings_model()


class ResetRequest(Message):
    """`POST /reset`'s optional body: settings to restart with (the lab's own when left out) and whether the data
    stays (a restart with other settings) or goes (fresh stock, empty log: what an experiment starts from)."""

    settings: LabSettings = Field(default_factory=LabSettings)
    keep_data: bool = Field(False, description="restart the services with these settings but keep orders, log and "
                                               "replica state")


class ResetAnswer(Open):
    reset: bool
    seconds: float
    initial_stock: dict[str, int] | None = None
    kept_data: bool = False
    settings: dict[str, Any] = Field(default_factory=dict, description="the settings that differ from the lab's own")
    epoch: str | None = Field(None, description="the lab's new epoch (null when the data was kept, and so the epoch): "
                                                "a record sealed before the reset is set aside as of another epoch")


class Process(Open):
    """One supervised process."""

    name: str
    pid: int | None
    running: bool
    replica: int | None = None
    restarts: int = Field(ge=0)
    auto_restart: bool
    started_at: float | None = None
    spare_pid: int | None = Field(None, description="the warm spare waiting to take over, if any")
    warm_spare: bool | None = Field(None, description="a warm spare is kept for this process (one may still be "
                                                      "starting)")
    promotions: int | None = Field(None, ge=0, description="times a warm spare took over")
    last_exit: dict[str, Any] | None = None
    log: str | None = None
