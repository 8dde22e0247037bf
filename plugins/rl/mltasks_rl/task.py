"""The ``rl`` task: train, evaluate and watch a stable-baselines3 agent on a gymnasium game.

    mltasks run rl                                   # PPO on CartPole-v1, zoo hyperparameters
    mltasks run rl --data Acrobot-v1 --set algo=a2c
    mltasks predict runs/rl-... --set episodes=3 record=gif gif_path=cartpole.gif
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mltasks import Report, Splits, Task
from mltasks.errors import ConfigError, DataError
from mltasks.progress import Progress, null_progress

from mltasks_rl.agent import EnvFactory, algo_class, train_agent
from mltasks_rl.config import RLConfig
from mltasks_rl.envs import DEFAULT_ENV, SEED_BASE, EnvSplit, describe, import_env_module, resolve_env_id
from mltasks_rl.episodes import play, summarize, write_gif
from mltasks_rl.hyperparams import plan as make_plan

AGENT_FILE = "agent.zip"
NORMALIZER_FILE = "vecnormalize.pkl"
STATE_FILE = "agent.json"


class RLTask(Task):
    """A game-playing agent (PPO, A2C or DQN from stable-baselines3) on a gymnasium environment.

    The "data" is an environment id. Saved state is SB3's own zip (which pickles, as SB3
    does; run directories are trusted like code), the VecNormalize statistics when used
    (SB3's pickle too), and a JSON file naming the environment and the hyperparameters.
    """

    Config = RLConfig
    config: RLConfig

    @classmethod
    def sample_data(cls, directory: Path) -> str:
        """There is no file dataset: the sample "data" is the CartPole-v1 environment id."""
        return DEFAULT_ENV

    def load_data(self, source: str | Path | None) -> Splits:
        """Check the environment id and describe the splits.

        ``train`` is the training budget (``len`` = steps); ``val`` and ``test`` are sets of
        seeded evaluation episodes (``len`` = episodes) that never share seeds with training.
        :raises DataError: an unknown id (close matches listed), or a path instead of an id.
        """
        cfg = self.config
        if source is not None and cfg.env and str(source) != cfg.env:
            raise ConfigError(f"--data {source} and --set env={cfg.env} name different environments; give one")
        env_id = resolve_env_id(source if source is not None else (cfg.env or DEFAULT_ENV), cfg.env_module)
        plan = make_plan(cfg, env_id)
        episodes = 5 if cfg.smoke else cfg.eval_episodes
        return Splits(
            train=EnvSplit(env_id, "train", plan.timesteps, cfg.seed),
            val=EnvSplit(env_id, "val", episodes, SEED_BASE["val"] + cfg.seed),
            test=EnvSplit(env_id, "test", episodes, SEED_BASE["test"] + cfg.seed),
            info={**describe(env_id), "hyperparameters": plan.describe()},
        )

    def train(self, splits: Splits, progress: Progress | None = None) -> RLTask:
        """Train the agent on ``splits.train.env_id`` for the planned number of steps."""
        progress = progress or null_progress()
        env_id = splits.train.env_id
        plan = make_plan(self.config, env_id)
        progress.log(f"rl: {plan.algo.upper()} on {env_id}, {plan.timesteps} steps, {plan.n_envs} env(s) "
                     f"({plan.vec_env}){', VecNormalize' if plan.normalize else ''}")
        model, normalizer, curve = train_agent(plan, self.config.seed, self.config.device, progress,
                                               self.config.env_module, self.config.report_points,
                                               self.config.num_threads)
        self.model_ = model
        self.normalizer_ = normalizer
        self.env_id_ = env_id
        self.plan_ = plan.describe()
        self.curve_ = curve
        return self

    def _factory(self) -> EnvFactory:
        return EnvFactory(self.env_id_, self.config.env_module)

    def evaluate(self, dataset: EnvSplit) -> dict[str, float]:
        """Mean/std/min/max return, mean length and success rate (where the env reports
        ``is_success``) over the split's seeded, deterministic episodes."""
        self.check_is_trained()
        if dataset.env_id != self.env_id_:
            self._check_compatible(dataset.env_id)
        factory = EnvFactory(dataset.env_id, self.config.env_module)
        return summarize([play(self.model_, self.normalizer_, factory, s) for s in dataset.episode_seeds()])

    def _check_compatible(self, env_id: str) -> None:
        env = EnvFactory(env_id, self.config.env_module)()
        try:
            if env.observation_space != self.model_.observation_space or env.action_space != self.model_.action_space:
                raise DataError(f"{env_id}: its spaces differ from those of {self.env_id_}, the agent's environment")
        finally:
            env.close()

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Play episodes and return one record per episode (seed, return, length, success).

        :param inputs: episode seeds (numbers, e.g. from the CLI); none: ``episodes`` episodes
            with fixed seeds.
        :param options: ``episodes`` (default 5), ``record="gif"`` to record the first
            episode, ``gif_path`` (default ``./<env>-episode.gif``; a finished run is never
            written to), ``max_frames`` (default 400).
        """
        self.check_is_trained()
        allowed = ("episodes", "record", "gif_path", "max_frames")
        unknown = set(options) - set(allowed)
        if unknown:
            raise ConfigError(f"unknown predict option(s) {sorted(unknown)}; use {', '.join(allowed)}")
        if inputs:
            try:
                seeds = [int(str(x).strip()) for x in inputs]
            except ValueError:
                hint = "; give options as --set KEY=VALUE, one per --set" if any("=" in str(x) for x in inputs) else ""
                raise DataError(f"rl predict takes episode seeds (integers), got {list(inputs)!r}{hint}") from None
        else:
            count = int(options.get("episodes", 5))
            if count < 1:
                raise ConfigError(f"predict option 'episodes' must be at least 1, got {count}")
            seeds = [SEED_BASE["predict"] + self.config.seed + i for i in range(count)]
        record = str(options.get("record") or "").lower()
        if record not in ("", "none", "gif"):
            raise ConfigError(f"predict option 'record' must be 'gif', got {record!r}")
        records = []
        for i, seed in enumerate(seeds):
            want_gif = record == "gif" and i == 0
            episode = play(self.model_, self.normalizer_, self._factory(), seed, record=want_gif,
                           max_frames=int(options.get("max_frames", 400)))
            row: dict[str, Any] = {"episode": i, "seed": seed, "return": episode.reward, "length": episode.length}
            if episode.success is not None:
                row["success"] = episode.success
            if want_gif:
                default = Path.cwd() / f"{self.env_id_.replace('/', '_').replace(':', '_')}-episode.gif"
                path = Path(str(options.get("gif_path") or default))
                row["gif"] = str(write_gif(episode.frames, path))
            records.append(row)
        return records

    def save(self, directory: Path) -> None:
        """Write ``agent.zip`` (SB3), ``vecnormalize.pkl`` when used, ``agent.json`` and the config."""
        self.check_is_trained()
        directory = Path(directory)
        self.model_.save(directory / AGENT_FILE)
        if self.normalizer_ is not None:
            self.normalizer_.save(str(directory / NORMALIZER_FILE))
        state = {"env_id": self.env_id_, "algo": self.config.algo, "plan": self.plan_,
                 "curve": [list(c) for c in self.curve_]}
        (directory / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
        self.save_config(directory)

    @classmethod
    def load(cls, directory: Path) -> RLTask:
        """Rebuild a trained task from :meth:`save`'s folder (a run directory is trusted like code)."""
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        directory = Path(directory)
        config = cls.load_config(directory)
        task = cls(config)
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        import_env_module(config.env_module)
        task.env_id_ = state["env_id"]
        task.plan_ = state["plan"]
        task.curve_ = [tuple(c) for c in state["curve"]]
        task.model_ = algo_class(state["algo"]).load(directory / AGENT_FILE, device="cpu")
        task.normalizer_ = None
        if (directory / NORMALIZER_FILE).is_file():
            venv = DummyVecEnv([task._factory()])
            task.normalizer_ = VecNormalize.load(str(directory / NORMALIZER_FILE), venv)
            task.normalizer_.training = False
            task.normalizer_.norm_reward = False
            venv.close()
        return task

    def report(self, splits: Splits, run_dir: Path) -> Report:
        """The Monitor reward curve, the hyperparameters used, and the environment."""
        from mltasks_rl.plots import reward_curve, write_curve_csv

        report = Report()
        info = {k: v for k, v in splits.info.items() if k != "hyperparameters"}
        report.add_table("Environment", [info])
        report.add_table("Hyperparameters", [{"name": k, "value": v} for k, v in self.plan_.items()])
        if self.curve_:
            png = reward_curve(Path(run_dir) / "reward_curve.png", self.curve_, self.env_id_, self.plan_["algo"])
            report.add_figure("Learning curve: training episode return (SB3 Monitor)", png)
            report.add_artifact(write_curve_csv(Path(run_dir) / "training_episodes.csv", self.curve_))
        report.add_section(
            "Watch it play",
            "`mltasks predict RUN_DIR --set episodes=3 record=gif gif_path=episode.gif` plays seeded, "
            "deterministic episodes and writes a GIF of the first.",
        )
        return report
