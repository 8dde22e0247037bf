"""Building and training a stable-baselines3 agent from a :class:`~mltasks_rl.hyperparams.Plan`.

Training goes through SB3's own pieces: ``make_vec_env`` (a Monitor around each env),
``VecNormalize`` where the plan asks for it, and ``learn`` with one callback that turns
the Monitor's episode returns into the run's reward curve and progress reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mltasks.errors import ConfigError, DataError
from mltasks.progress import Progress

from mltasks_rl.envs import make_env
from mltasks_rl.hyperparams import Plan
from mltasks_rl.modules import import_user_module
from mltasks_rl.timing import SpeedMeter


def algo_class(algo: str) -> Any:
    """The SB3 class of an algorithm name (ppo, a2c, dqn)."""
    import stable_baselines3

    return {"ppo": stable_baselines3.PPO, "a2c": stable_baselines3.A2C, "dqn": stable_baselines3.DQN}[algo]


@dataclass
class EnvFactory:
    """A picklable env constructor: subprocess envs import ``modules`` (named by the user for
    training) before making the env; envs for playing a loaded agent get none (a loaded run
    imports only what the user names again, once, through :mod:`mltasks_rl.modules`).

    :param max_episode_steps: the config's limit (0: the env's own, see :func:`~mltasks_rl.envs.episode_limit`).
    """

    env_id: str
    modules: tuple[str, ...] = ()
    render_mode: str | None = None
    max_episode_steps: int = 0

    def __call__(self) -> Any:
        for name in self.modules:
            import_user_module(name)
        return make_env(self.env_id, self.render_mode, self.max_episode_steps)


def make_training_env(plan: Plan, seed: int, modules: tuple[str, ...] = ()) -> Any:
    """The vectorised training env: Monitor-wrapped copies, seeded ``seed + rank``, VecNormalize if planned."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    cls = SubprocVecEnv if plan.vec_env == "subproc" else DummyVecEnv
    factory = EnvFactory(plan.env_id, modules, max_episode_steps=plan.max_episode_steps)
    venv = make_vec_env(factory, n_envs=plan.n_envs, seed=seed, vec_env_cls=cls)
    if plan.normalize:
        venv = VecNormalize(venv, gamma=float(plan.kwargs.get("gamma", 0.99)))
    return venv


def policy_name(observation_space: Any) -> str:
    """MlpPolicy for vectors, CnnPolicy for images, MultiInputPolicy for dict observations."""
    from gymnasium import spaces
    from stable_baselines3.common.preprocessing import is_image_space

    if isinstance(observation_space, spaces.Dict):
        return "MultiInputPolicy"
    if is_image_space(observation_space):
        return "CnnPolicy"
    return "MlpPolicy"


def check_algo_fits(algo: str, env_id: str, action_space: Any) -> None:
    """Refuse an algorithm that cannot act in ``action_space`` (DQN needs a discrete one); PPO
    and A2C take boxes, discrete, multi-discrete and multi-binary spaces, SB3 checks those.

    :raises ConfigError: naming the algo, the environment and its action space.
    """
    from gymnasium import spaces

    if algo == "dqn" and not isinstance(action_space, spaces.Discrete):
        raise ConfigError(f"algo 'dqn' needs a discrete action space; {env_id} has {action_space} "
                          "(use --set algo=ppo or algo=a2c)")


def build_model(plan: Plan, venv: Any, seed: int, device: str) -> Any:
    """The SB3 model for the plan (raises ConfigError when the algorithm cannot act in the env)."""
    check_algo_fits(plan.algo, plan.env_id, venv.action_space)
    policy_kwargs = {"net_arch": list(plan.net_arch)} if plan.net_arch else None
    policy = policy_name(venv.observation_space)
    if device == "auto" and policy != "CnnPolicy":
        device = "cpu"  # SB3: small MLP policies run faster on the CPU than on a GPU
    from stable_baselines3.common.logger import Logger

    try:
        model = algo_class(plan.algo)(policy, venv, seed=seed, device=device,
                                      policy_kwargs=policy_kwargs, verbose=0, **plan.kwargs)
    except (TypeError, AssertionError) as exc:  # SB3 rejects an argument or a space with these
        raise ConfigError(f"{plan.algo} on {plan.env_id}: {exc}") from None
    # progress goes through the run's stream; SB3's default logger would leave an empty
    # SB3-<time> folder in $TMPDIR on every learn()
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


@dataclass
class CurveRecorder:
    """Collects ``(timestep, return, length)`` of every finished training episode from the Monitor info."""

    total: int
    points: int
    progress: Progress
    meter: SpeedMeter | None = None
    episodes: list[tuple[int, float, int]] = field(default_factory=list)

    def make_callback(self) -> Any:
        """An SB3 callback feeding this recorder, the progress bar and ``progress.report``."""
        from stable_baselines3.common.callbacks import BaseCallback

        recorder = self

        class _Callback(BaseCallback):
            def _on_training_start(self) -> None:
                self._every = max(1, recorder.total // recorder.points)
                self._next = self._every
                self._bar_cm = recorder.progress.bar("training", total=recorder.total, unit="step")
                self._bar = self._bar_cm.__enter__()

            def _on_rollout_start(self) -> None:
                message = recorder.meter.boundary(self.num_timesteps) if recorder.meter else None
                if message:
                    recorder.progress.log(message)

            def _on_step(self) -> bool:
                n = self.num_timesteps
                for info in self.locals.get("infos", ()):
                    episode = info.get("episode")
                    if episode is not None:
                        recorder.episodes.append((n, float(episode["r"]), int(episode["l"])))
                self._bar.advance(self.training_env.num_envs)
                if n >= self._next:
                    self._next += self._every
                    recorder.report(n)
                return True

            def _on_training_end(self) -> None:
                self._bar_cm.__exit__(None, None, None)

        return _Callback()

    def report(self, timestep: int) -> None:
        """Report the mean return of the last 20 episodes (what SB3 logs as ep_rew_mean)."""
        recent = self.episodes[-20:]
        if recent:
            self.progress.report(timestep, unit="timestep", train_return=sum(r for _, r, _ in recent) / len(recent))


def train_agent(plan: Plan, seed: int, device: str, progress: Progress, modules: tuple[str, ...] = (),
                report_points: int = 20, num_threads: int = 0,
                zoo_steps: int | None = None) -> tuple[Any, Any, list[tuple[int, float, int]]]:
    """Train an agent; returns the model, the VecNormalize (or None) and the episode curve.

    Once the speed is measured (a few seconds in), the expected duration is logged.
    :param num_threads: torch CPU threads; 0 means 1 for MLP policies (their matrices are tiny:
        more threads only add contention, and runs on 2 cores were 2-6x steadier with one).
    :param zoo_steps: the zoo's budget, estimated too when longer than the plan's.
    """
    import torch
    from stable_baselines3.common.vec_env import VecNormalize

    venv = make_training_env(plan, seed, modules)
    try:
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        elif policy_name(venv.observation_space) == "MlpPolicy":
            torch.set_num_threads(1)
        model = build_model(plan, venv, seed, device)
        warmup = int(plan.kwargs.get("learning_starts", 100)) if plan.algo == "dqn" else 0
        recorder = CurveRecorder(plan.timesteps, report_points, progress, SpeedMeter(plan.timesteps, warmup, zoo_steps))
        model.learn(total_timesteps=plan.timesteps, callback=recorder.make_callback())
    finally:
        venv.close()
    normalizer = model.get_vec_normalize_env()
    if isinstance(normalizer, VecNormalize):
        normalizer.training = False
        normalizer.norm_reward = False
    return model, normalizer, recorder.episodes


def restore_model(plan: Plan, params: dict[str, Any], seed: int, source: str) -> Any:
    """An SB3 model rebuilt from ``plan`` (the saved config) with the saved weights set.

    The algorithm is constructed on one env of ``plan.env_id`` (for its spaces), with a
    one-slot replay buffer for off-policy algorithms (playing needs none), then
    ``set_parameters(params, exact_match=True)`` checks every weight is there.

    :param source: the weights file, named in errors.
    :raises DataError: the weights do not fit the network the config describes.
    """
    from dataclasses import replace

    from stable_baselines3.common.vec_env import DummyVecEnv

    kwargs = dict(plan.kwargs)
    if plan.algo == "dqn":
        kwargs["buffer_size"] = 1
    if plan.algo == "ppo":  # one env: keep the minibatch within the rollout, as training did
        kwargs["batch_size"] = min(int(kwargs.get("batch_size", 64)), int(kwargs.get("n_steps", 2048)))
    venv = DummyVecEnv([EnvFactory(plan.env_id, max_episode_steps=plan.max_episode_steps)])
    try:
        model = build_model(replace(plan, n_envs=1, kwargs=kwargs), venv, seed, "cpu")
    finally:
        venv.close()
    try:
        model.set_parameters(params, exact_match=True, device="cpu")
    except (ValueError, RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(f"{source}: the saved weights do not fit the {plan.algo.upper()} network of the run's "
                        f"config ({first})") from None
    return model
