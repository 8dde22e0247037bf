"""The MLflow pyfunc model of an mltasks run: the run directory, loaded with ``mltasks.load_run``.

MLflow loads it through *models from code* (:mod:`mltasks.tracking.model_code`): no pickle is
written or read, and loading opens the run directory exactly as ``mltasks predict`` does (safe
formats only), so::

    model = mlflow.pyfunc.load_model("runs:/<run id>/model")
    model.predict(["a text", "another"], params={"top_k": "3"})

returns the records ``mltasks predict RUN "a text" "another" --set top_k=3`` prints.
"""

from __future__ import annotations

import warnings
from typing import Any

from mlflow.pyfunc import PythonModel

from mltasks.tracking.model_inputs import as_inputs, as_options

#: the name of the run directory among the model's artifacts
ARTIFACT = "run"

with warnings.catch_warnings(record=True):
    # MLflow warns a PythonModel subclass without a list[...] type hint on its input (it infers a
    # schema from it, and forces its warnings "once", past any filter: recorded here, not shown);
    # the inputs depend on the task (texts, paths, rows), so the model has no input schema

    class RunModel(PythonModel):
        """An mltasks run as an MLflow model: ``predict`` is the task's ``predict``.

        Inputs are read by the task's ``input_kind`` (:func:`~mltasks.tracking.model_inputs.as_inputs`);
        ``params`` are the task's predict options as text (:func:`~mltasks.tracking.model_inputs.as_options`).
        """

        task_: Any = None

        def load_context(self, context: Any) -> None:
            """Load the run directory shipped as the model's ``run`` artifact."""
            from mltasks import load_run

            self.task_ = load_run(context.artifacts[ARTIFACT])

        def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
            """The records ``Task.predict`` returns for ``model_input`` with ``params`` as options
            (only those a remote client may set: the model may be behind ``mlflow models serve``)."""
            from mltasks.predict_options import check

            kind = str(getattr(self.task_, "input_kind", "text") or "text")
            options = check(self.task_, as_options(params), remote=True)
            return self.task_.predict(as_inputs(model_input, kind), **options)
