"""The ``rl`` task: train, evaluate and watch a stable-baselines3 agent on a gymnasium game.

    mltasks run rl                                   # PPO on CartPole-v1, zoo hyperparameters
    mltasks run rl --data Acrobot-v1 --set algo=a2c
    mltasks predict runs/rl-... --set episodes=3 seed=1 gif_path=cartpole.gif
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from mltasks import Evaluation, PredictOption, Report, RunContext, Splits, Task
from mltasks.errors import ConfigError, DataError
from mltasks.progress import Progress

from mltasks_rl.agent import EnvFactory, check_algo_fits, restore_model, train_agent
from mltasks_rl.config import RLConfig
from mltasks_rl.envs import (
    DEFAULT_ENV,
    SEED_BASE,
    EnvSplit,
    describe,
    is_registered,
    resolve_env_id,
    split_env_id,
)
from mltasks_rl.episodes import play, summarize, write_gif
from mltasks_rl.hyperparams import plan as make_plan
from mltasks_rl.hyperparams import zoo_timesteps
from mltasks_rl.modules import import_user_module, only_user_module, run_module_refused
from mltasks_rl.saving import (
    AGENT_FILE,
    NORMALIZER_FILE,
    STATE_FILE,
    ObservationNormalizer,
    read_json_file,
    read_weights,
)

#: Options of :meth:`RLTask.predict` (``mltasks predict RUN --set KEY=VALUE ...``).
PREDICT_OPTIONS = {
    "episodes": PredictOption(int, "number of episodes to play (default 5)"),
    "seed": PredictOption(int, "reset seed of the first episode (>= 0); episode i uses seed + i (default: fixed "
                               "seeds no evaluation uses)"),
    "deterministic": PredictOption(bool, "pick the most likely action (default true); false samples from the "
                                         "policy"),
    "record": PredictOption(Literal["gif", "none"], "'gif' records the first episode as an animated GIF"),
    "gif_path": PredictOption(str, "where the GIF goes (implies record=gif; default ./<env>-episode.gif, never "
                                   "inside the run)", remote=False),  # a path on the server: serve chooses it
    "max_frames": PredictOption(int, "most frames recorded in the GIF (default 400)"),
    # the command line's only (remote=False): serve refuses it from a client, a request never names a module
    "env_module": PredictOption(str, "a package to import that registers the run's environment (mltasks never "
                                     "imports a module the run directory names: you name it again)", remote=False),
}


class RLTask(Task):
    """A game-playing agent (PPO, A2C or DQN from stable-baselines3) on a gymnasium environment.

    The "data" is an environment id. Saved state: SB3's own ``agent.zip`` (of which loading
    reads only the weights, see :mod:`mltasks_rl.saving`), ``vecnormalize.json`` when
    observations were normalised, and ``agent.json`` naming the environment, the modules that
    registered it (for the user to see: a loaded run imports none of them), the resolved
    hyperparameters and the training episodes.
    """

    Config = RLConfig
    config: RLConfig
    primary_metric: ClassVar[str] = "mean_return"
    greater_is_better: ClassVar[bool] = True
    input_kind: ClassVar[str] = "none"
    predict_options: ClassVar[dict[str, PredictOption]] = PREDICT_OPTIONS

    @classmethod
    def sample_data(cls, directory: Path) -> str:
        """There is no file dataset: the sample "data" is the CartPole-v1 environment id."""
        return DEFAULT_ENV

    def load_data(self, source: str | Path | None) -> Splits:
        """Check the environment id and describe the splits.

        ``train`` is the training budget (``len`` = steps); ``val`` and ``test`` are sets of
        seeded evaluation episodes (``len`` = episodes) that never share seeds with training.
        A task loaded from a run imports only the ``env_module`` the user gives now
        (``evaluate --set env_module=PKG``); a ``module:EnvId`` naming another module is refused.
        :raises DataError: an unknown id (close matches listed), a path instead of an id, or a
            module only the run names. :raises ConfigError: an algo that cannot act in the
            environment's action space (DQN on a continuous one).
        """
        cfg = self.config
        loaded = getattr(self, "model_dir_", None) is not None
        if source is not None and cfg.env and str(source) != cfg.env and not loaded:
            raise ConfigError(f"--data {source} and --set env={cfg.env} name different environments; give one")
        text = source if source is not None else (cfg.env or DEFAULT_ENV)
        if loaded:
            self._ensure_env(cfg.env_module)
            importer = only_user_module(cfg.env_module, self._named_by(text))
            env_id, modules = resolve_env_id(text, cfg.env_module, importer)
        else:
            env_id, modules = resolve_env_id(text, cfg.env_module)
        info = describe(env_id, cfg.max_episode_steps,
                        check=lambda env: check_algo_fits(cfg.algo, env_id, env.action_space))
        plan = make_plan(cfg, env_id)
        episodes = cfg.eval_episodes  # --quick presets 5
        return Splits(
            train=EnvSplit(env_id, "train", plan.timesteps, cfg.seed, modules),
            val=EnvSplit(env_id, "val", episodes, SEED_BASE["val"] + cfg.seed, modules),
            test=EnvSplit(env_id, "test", episodes, SEED_BASE["test"] + cfg.seed, modules),
            info={**info, "hyperparameters": plan.describe()},
        )

    def _named_by(self, text: Any) -> str:
        """Where a loaded run's environment text comes from, for errors: the run's config.json
        or task_config.json when it is theirs, else the user's ``--data``."""
        from mltasks.errors import MltasksError
        from mltasks.rundir import read_json

        config_file = self.model_dir_.parent / "config.json"
        try:
            recorded = read_json(config_file).get("data")
        except (MltasksError, OSError, ValueError, AttributeError):
            recorded = None
        if recorded == text:
            return f"{config_file} (data {text})"
        if recorded is None and text == self.config.env:
            return f"{self.model_dir_ / 'task_config.json'} (env {text})"
        return f"--data {text}"

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> RLTask:
        """Train the agent on ``splits.train.env_id`` for the planned number of steps."""
        cfg = self.config
        env_id = splits.train.env_id
        plan = make_plan(cfg, env_id)
        zoo = zoo_timesteps(plan.algo, env_id)
        budget = "smoke" if cfg.smoke else "--set timesteps" if cfg.timesteps else f"budget={cfg.budget}"
        if budget != "budget=cpu" or not zoo or zoo <= plan.timesteps:
            zoo = None  # only a cpu-budget run is told about the zoo's longer one
        longer = f"; the zoo's {zoo:,} with --set budget=zoo" if zoo else ""
        progress.log(f"rl: {plan.algo.upper()} on {env_id}, {plan.timesteps:,} steps ({budget}{longer}), "
                     f"{plan.n_envs} env(s) ({plan.vec_env}){', VecNormalize' if plan.normalize else ''}")
        model, normalizer, curve = train_agent(plan, cfg.seed, cfg.device, progress, splits.train.modules,
                                               cfg.report_points, cfg.num_threads, zoo_steps=zoo)
        self.model_ = model
        self.normalizer_ = None if normalizer is None else ObservationNormalizer.from_vecnormalize(normalizer)
        self.env_id_ = env_id
        self.id_module_ = ""
        self.env_modules_ = tuple(splits.train.modules)
        self.plan_ = plan.describe()
        self.curve_ = curve
        return self

    def evaluate(self, dataset: EnvSplit) -> Evaluation:
        """Mean/std/min/max return, mean length and success rate (where the env reports
        ``is_success``) over the split's seeded, deterministic episodes; the episodes are in
        ``details["episodes"]``."""
        self.check_is_trained()
        self._ensure_env(self.config.env_module)
        if dataset.env_id != self.env_id_:
            self._check_compatible(dataset.env_id)
        factory = self._factory(dataset.env_id)
        episodes = [play(self.model_, self.normalizer_, factory, s) for s in dataset.episode_seeds()]
        rows = [{"seed": e.seed, "return": e.reward, "length": e.length} for e in episodes]
        return Evaluation(summarize(episodes), details={"episodes": rows})

    def _factory(self, env_id: str) -> EnvFactory:
        return EnvFactory(env_id, max_episode_steps=self.config.max_episode_steps)

    def _ensure_env(self, user_module: str = "") -> None:
        """Import the module the user names now, check a loaded run's environment, then
        rebuild its network.

        A loaded run imports no module it names itself: a ``module:EnvId`` in ``agent.json``
        needs the user to name ``module``, and an env id that is not registered needs the
        user to name the package that registers it.
        :raises DataError: saying which module the run used and how to pass it.
        """
        import_user_module(user_module)
        model_dir = getattr(self, "model_dir_", None)
        if model_dir is None:  # trained in this process: the user named every module
            return
        source = str(model_dir / STATE_FILE)
        if self.id_module_ and self.id_module_ != user_module:
            raise run_module_refused(self.id_module_, source)
        if not is_registered(self.env_id_):
            named = [m for m in self.env_modules_ if m != user_module]
            if named:
                raise run_module_refused(named[0], source)
            given = f"env_module {user_module!r} does not register it" if user_module else (
                "name the package that registers it: --set env_module=PKG")
            raise DataError(f"{source}: environment {self.env_id_!r} is not registered; {given}")
        if self.model_ is None:  # the network needs the environment's spaces
            path = model_dir / AGENT_FILE
            self.model_ = restore_model(make_plan(self.config, self.env_id_), read_weights(path),
                                        self.config.seed, str(path))

    def _check_compatible(self, env_id: str) -> None:
        env = self._factory(env_id)()
        try:
            if env.observation_space != self.model_.observation_space or env.action_space != self.model_.action_space:
                raise DataError(f"{env_id}: its spaces differ from those of {self.env_id_}, the agent's environment")
        finally:
            env.close()

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Play episodes and return one record per episode (episode, seed, return, length, success).

        :param inputs: episode reset seeds (integers >= 0); none: ``episodes`` episodes from
            ``seed`` (or fixed seeds no evaluation uses).
        :param options: see :data:`PREDICT_OPTIONS` (checked and converted to their types before
            predict runs); a GIF never goes into the run directory.
        :raises ConfigError: a count below 1. :raises DataError: a bad seed, or an environment
            module only the run names.
        """
        self.check_is_trained()
        seeds = self._seeds(inputs, options)
        want_gif = options.get("record") == "gif" or bool(options.get("gif_path"))
        deterministic = options.get("deterministic", True)
        max_frames = _count(options.get("max_frames", 400), "max_frames")
        self._ensure_env(str(options.get("env_module") or ""))
        records = []
        for i, seed in enumerate(seeds):
            gif_now = want_gif and i == 0
            episode = play(self.model_, self.normalizer_, self._factory(self.env_id_), seed, record=gif_now,
                           max_frames=max_frames, deterministic=deterministic)
            row: dict[str, Any] = {"episode": i, "seed": seed, "return": episode.reward, "length": episode.length}
            if episode.success is not None:
                row["success"] = episode.success
            if gif_now:
                default = Path.cwd() / f"{self.env_id_.replace('/', '_').replace(':', '_')}-episode.gif"
                path = Path(str(options.get("gif_path") or default))
                row["gif"] = str(write_gif(episode.frames, path))
            records.append(row)
        return records

    def _seeds(self, inputs: Any, options: dict[str, Any]) -> list[int]:
        """The reset seed of each episode to play, from ``inputs`` or ``episodes``/``seed``."""
        if isinstance(inputs, (str, int)):
            inputs = [inputs]
        if inputs:
            try:
                seeds = [int(str(x).strip()) for x in inputs]
            except ValueError:
                hint = "; options go after --set as KEY=VALUE" if any("=" in str(x) for x in inputs) else ""
                raise DataError(f"rl predict takes episode seeds (integers >= 0), got {list(inputs)!r}{hint}") from None
        else:
            count = _count(options.get("episodes", 5), "episodes")
            first = options.get("seed")
            start = SEED_BASE["predict"] + self.config.seed if first is None else first
            seeds = [start + i for i in range(count)]
        negative = [s for s in seeds if s < 0]
        if negative:
            raise DataError(f"episode seed {negative[0]} is negative: gymnasium resets take seeds >= 0")
        return seeds

    def save(self, directory: Path) -> None:
        """Write ``agent.zip`` (SB3), ``vecnormalize.json`` when used, ``agent.json`` and the config."""
        from mltasks.rundir import write_json

        self.check_is_trained()
        directory = Path(directory)
        self.model_.save(directory / AGENT_FILE)
        if self.normalizer_ is not None:
            self.normalizer_.save(directory / NORMALIZER_FILE)
        state = {"env_id": self.env_id_, "env_modules": list(self.env_modules_), "algo": self.config.algo,
                 "normalizer": self.normalizer_ is not None, "plan": self.plan_,
                 "curve": [list(c) for c in self.curve_]}
        write_json(directory / STATE_FILE, state)
        self.save_config(directory)

    @classmethod
    def load(cls, directory: Path) -> RLTask:
        """Rebuild a trained task from :meth:`save`'s folder, unpickling nothing and importing
        no module the folder names.

        The network is rebuilt from the saved config and given the zip's weights (read with
        ``weights_only=True``) when the environment is registered; otherwise on first use,
        once the user names the module that registers it (``--set env_module=PKG``). The
        config's ``env_module`` is the run's record, not an instruction: it is cleared here.
        :raises DataError: a missing or malformed file, named.
        """
        directory = Path(directory)
        config = _load_config(cls, directory)
        task = cls(replace(config, env_module=""))
        state = read_json_file(directory / STATE_FILE)
        try:
            module, env_id = split_env_id(str(state["env_id"]))
            recorded = [str(m) for m in state.get("env_modules", ())] + [config.env_module]
            task.env_id_, task.id_module_ = env_id, module
            task.env_modules_ = tuple(dict.fromkeys(m for m in recorded if m))
            task.plan_ = dict(state["plan"])
            task.curve_ = [(int(t), float(r), int(n)) for t, r, n in state["curve"]]
            uses_normalizer = bool(state.get("normalizer", False))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{directory / STATE_FILE}: not an rl agent description ({type(exc).__name__}: {exc})"
                            ) from None
        if state.get("algo", task.config.algo) != task.config.algo:
            raise DataError(f"{directory / STATE_FILE}: algo {state.get('algo')!r} differs from the config's "
                            f"{task.config.algo!r}")
        task.normalizer_ = ObservationNormalizer.load(directory / NORMALIZER_FILE) if uses_normalizer else None
        task.model_dir_ = directory
        task.model_ = None
        if module or not is_registered(env_id):
            read_weights(directory / AGENT_FILE)  # a bad file fails at load, not at the first episode
            return task  # the user names the module first (predict --set env_module=...)
        task._ensure_env()
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """The environment, the hyperparameters used, the Monitor reward curve, the scored episodes."""
        from mltasks_rl.plots import reward_curve, write_curve_csv

        report = Report()
        info = {k: v for k, v in splits.info.items() if k != "hyperparameters"}
        report.add_table("Environment", [info])
        report.add_table("Hyperparameters", [{"name": k, "value": v} for k, v in self.plan_.items()])
        if self.curve_:
            png = reward_curve(Path(run_dir) / "reward_curve.png", self.curve_, self.env_id_, self.plan_["algo"])
            report.add_figure("Learning curve: training episode return (SB3 Monitor)", png)
            report.add_artifact(write_curve_csv(Path(run_dir) / "training_episodes.csv", self.curve_))
        episodes = (evaluation.details.get("episodes") if isinstance(evaluation, Evaluation) else None) or []
        if episodes:
            report.add_table(f"Evaluation episodes ({evaluation.split or 'test'}, deterministic)", episodes)
        from mltasks.rundir import final_path

        report.add_section(
            "Watch it play",
            f"`mltasks predict {final_path(Path(run_dir))} --set episodes=3 seed=1 gif_path=episode.gif` plays "
            "three seeded, deterministic episodes and writes a GIF of the first (outside the run directory).",
        )
        return report


def _load_config(cls: type[RLTask], directory: Path) -> RLConfig:
    """The saved config; DataError naming the file when it is unreadable or binary. A ConfigError (an
    unknown key or a bad value: another task's config) goes through, so that ``load_run`` can say
    the run does not fit task 'rl'."""
    from mltasks.errors import MltasksError

    try:
        return cls.load_config(directory)  # type: ignore[return-value]
    except ConfigError:  # a config of another task (or edited by hand): load_run says the run does not fit rl
        raise
    except MltasksError as exc:
        raise DataError(str(exc)) from None
    except (UnicodeDecodeError, ValueError, TypeError) as exc:
        raise DataError(f"{directory / 'task_config.json'}: not a valid config ({type(exc).__name__})") from None


def _count(number: int, name: str) -> int:
    if number < 1:
        raise ConfigError(f"predict option {name!r} must be at least 1, got {number}")
    return number
