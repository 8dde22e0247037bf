"""The zoo table, --set overrides and smoke limits resolve into the plan SB3 receives."""

from __future__ import annotations

import pytest
from mltasks.config import quick_config, resolve
from mltasks.errors import ConfigError

from mltasks_rl.config import RLConfig
from mltasks_rl.hyperparams import LinearSchedule, plan


def test_cartpole_ppo_takes_the_zoo_values():
    p = plan(RLConfig(), "CartPole-v1")
    assert (p.timesteps, p.n_envs, p.vec_env, p.normalize) == (100_000, 8, "dummy", False)
    assert p.kwargs["n_steps"] == 32 and p.kwargs["batch_size"] == 256 and p.kwargs["n_epochs"] == 20
    assert p.kwargs["gamma"] == 0.98 and p.kwargs["gae_lambda"] == 0.8
    lr = p.kwargs["learning_rate"]
    assert isinstance(lr, LinearSchedule) and lr(1.0) == pytest.approx(1e-3) and lr(0.5) == pytest.approx(5e-4)
    assert p.describe()["learning_rate"] == "lin_0.001"


def test_overrides_win_over_the_table():
    cfg = resolve(RLConfig, {"timesteps": "5e4", "n_envs": "4", "learning_rate": "3e-4", "gamma": "0.99",
                             "lr_schedule": "constant", "net_arch": "32,32", "vec_env": "subproc"})
    p = plan(cfg, "CartPole-v1")
    assert (p.timesteps, p.n_envs, p.vec_env, p.net_arch) == (50_000, 4, "subproc", (32, 32))
    assert p.kwargs["learning_rate"] == 3e-4 and p.kwargs["gamma"] == 0.99


def test_acrobot_normalizes_and_unknown_envs_use_sb3_defaults():
    assert plan(RLConfig(), "Acrobot-v1").normalize is True
    assert plan(RLConfig(algo="dqn"), "Acrobot-v1").net_arch == (256, 256)
    other = plan(RLConfig(), "MyGame-v0")
    assert other.kwargs == {} and other.n_envs == 1 and other.timesteps == 100_000


def test_smoke_uses_one_env_and_few_steps():
    p = plan(quick_config(RLConfig()), "CartPole-v1")
    assert (p.n_envs, p.vec_env, p.timesteps) == (1, "dummy", 2048)
    assert p.kwargs["batch_size"] == 32  # capped at the rollout of one env
    assert plan(quick_config(RLConfig(algo="dqn")), "CartPole-v1").kwargs["learning_starts"] == 256


def test_auto_vectorisation_uses_subprocesses_for_costly_envs():
    assert plan(RLConfig(n_envs=4), "LunarLander-v3").vec_env == "subproc"
    assert plan(RLConfig(n_envs=4), "CartPole-v1").vec_env == "dummy"


@pytest.mark.parametrize("values", [{"eval_episodes": "0"}, {"gamma": "1.5"}, {"n_steps": "0"},
                                    {"net_arch": "64,0"}, {"learning_rate": "-1"}, {"learning_rate": "nan"},
                                    {"gae_lambda": "2"}, {"gae_lambda": "-0.1"}, {"gae_lambda": "nan"},
                                    {"ent_coef": "-0.01"}, {"ent_coef": "inf"}, {"gamma": "nan"},
                                    {"batch_size": "1"}, {"n_epochs": "0"}, {"report_points": "0"},
                                    {"max_episode_steps": "-1"}])
def test_bad_values_raise_config_error(values):
    (key,) = values
    with pytest.raises(ConfigError, match=f"'{key}'"):
        resolve(RLConfig, values)


def test_edge_values_are_accepted():
    config = resolve(RLConfig, {"gae_lambda": "0", "ent_coef": "0", "gamma": "1", "batch_size": "1", "algo": "dqn"})
    assert (config.gae_lambda, config.ent_coef, config.gamma, config.batch_size) == (0.0, 0.0, 1.0, 1)


def test_quick_presets_yield_to_what_you_set():
    mine = resolve(RLConfig, {"smoke": "true", "n_envs": "2", "timesteps": "512"})  # --quick --set ...
    p = plan(mine, "CartPole-v1")
    assert (p.n_envs, p.timesteps, mine.eval_episodes) == (2, 512, 5)
    full = plan(resolve(RLConfig, {}), "CartPole-v1")
    assert full.n_envs == 8 and full.timesteps > 2048
