"""The code MLflow logs as an mltasks run's model ("models from code": nothing is pickled).

MLflow copies this file into the logged model and executes it on load; the model it names
loads the run directory shipped beside it with ``mltasks.load_run`` and predicts with it
(:class:`mltasks.tracking.run_model.RunModel`).
"""

import mlflow

from mltasks.tracking.run_model import RunModel

mlflow.models.set_model(RunModel())
