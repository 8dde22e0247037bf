"""The request and response bodies of the HTTP API; FastAPI turns them into ``/docs``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """A JSON prediction request."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[Any] = Field(
        default_factory=list,
        description="What predict takes, by the task's input_kind: texts (text), objects of column -> value "
                    "(row), user ids (id), nothing or episode seeds (none). Files (input_kind 'file') are "
                    "uploaded as multipart/form-data instead.",
        examples=[["a wonderful, moving film", "dull and far too long"]],
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Prediction options; GET /v1/info lists the valid ones (predict_options).",
        examples=[{"top_k": 3}],
    )


class PredictResponse(BaseModel):
    """The records ``mltasks predict --json`` prints, one per input (per episode for RL)."""

    predictions: list[dict[str, Any]]


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: one message naming the problem, never a traceback."""

    error: str = Field(examples=["unknown predict option 'topk'; valid options: top_k"])


class HealthResponse(BaseModel):
    """Liveness: the server process answers."""

    status: str = Field(examples=["ok"])
    task: str = Field(examples=["text"])


class ReadyResponse(BaseModel):
    """Readiness: 200 with ``ready`` once the model is loaded and a warm-up prediction ran; 503
    with ``loading``, ``warming-up`` or ``stopping`` before that and while the server stops."""

    status: str = Field(examples=["ready"])
    task: str = Field(examples=["text"])


class BatchingInfo(BaseModel):
    """How concurrent requests are gathered into shared predict calls."""

    enabled: bool = Field(description="false for tasks whose predict calls cannot be shared (RL episodes)")
    max_batch_size: int = Field(description="the most inputs per predict call")
    max_batch_wait_ms: float = Field(description="how long a request may wait for others to join its batch")
    max_queue: int = Field(description="the most inputs waiting; beyond it 503 with Retry-After")


class LimitsInfo(BaseModel):
    """What one request may hold (413 beyond each) and how long it may take (504)."""

    max_inputs: int
    max_upload_mb: float
    max_image_pixels: int
    max_audio_seconds: float
    request_timeout: float


class PluginInfo(BaseModel):
    """The distribution that provides the task."""

    distribution: str
    version: str


class PrimaryMetric(BaseModel):
    """The metric that ranks runs of this task."""

    name: str
    greater_is_better: bool = True


class InfoResponse(BaseModel):
    """What the run is and what ``POST /v1/predict`` accepts."""

    task: str = Field(examples=["text"])
    run: str = Field(description="the run directory's name", examples=["text-20260101-120000"])
    plugin: PluginInfo
    data: dict[str, Any] = Field(description="the data the run was trained on (run.json)")
    metrics: dict[str, Any] = Field(description="metrics.json of the run")
    config: dict[str, Any] = Field(description="the fully resolved task config")
    primary_metric: PrimaryMetric
    input_kind: str = Field(description="text | file | row | id | none", examples=["text"])
    input_suffixes: list[str] = Field(description="accepted file suffixes for input_kind 'file'")
    predict_options: dict[str, str] = Field(description="option name -> help text")
    option_defaults: dict[str, Any] = Field(
        default_factory=dict, description="the server's values (mltasks serve --set) of predict_options: every "
                                          "request gets them unless it gives its own", examples=[{"top_k": 3}])
    server_options: list[str] = Field(
        default_factory=list, description="options the server set (mltasks serve --set) that a request may neither "
                                          "give nor override (a module to import); their values are not shown",
        examples=[["env_module"]])
    max_batch: int = Field(description="inputs per predict call (= batching.max_batch_size)")
    max_upload_mb: float = Field(description="largest request body accepted (= limits.max_upload_mb)")
    batching: BatchingInfo
    limits: LimitsInfo
