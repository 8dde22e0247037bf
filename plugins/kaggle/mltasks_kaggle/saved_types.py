"""The exact types a saved kaggle pipeline may hold: the allow-list ``mltasks.sklearn_io``
checks a ``pipeline.skops`` file against before it builds anything from it.

Written here, in the plugin's code, never read from a run directory (whoever wrote the run
would write the list too). Every model, preprocessing step and problem type the plugin can
fit is covered; ``tests/test_safe_loading.py`` fits each of them and checks the list.
"""

from __future__ import annotations

SAVED_TYPES = frozenset({
    # the plugin's own pieces: blends, and the functions its FunctionTransformers wrap
    "mltasks_kaggle.models.BlendClassifier",
    "mltasks_kaggle.models.BlendRegressor",
    "mltasks_kaggle.features.as_object",
    "mltasks_kaggle.features.as_text",
    "mltasks_kaggle.features.date_parts",
    # preprocessing
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.HashingVectorizer",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelEncoder",
    # models
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # the gradient-boosting losses and links
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
})
