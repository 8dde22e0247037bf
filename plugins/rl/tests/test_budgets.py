"""Default budgets per environment family, and the expected time measured during training (issue #30)."""

from __future__ import annotations

import functools

import pytest
from mltasks.progress import null_progress

from mltasks_rl.budgets import CPU_STEPS, env_family
from mltasks_rl.config import RLConfig
from mltasks_rl.hyperparams import plan, zoo_timesteps
from mltasks_rl.task import RLTask
from mltasks_rl.timing import SpeedMeter, duration


@pytest.mark.parametrize(("env_id", "family"), [
    ("CartPole-v1", "classic-control"), ("Pendulum-v1", "classic-control"), ("FrozenLake-v1", "toy-text"),
    ("Blackjack-v1", "toy-text"), ("CliffWalking-v1", "toy-text"), ("Taxi-v4", "toy-text"),
    ("LunarLander-v3", "box2d"), ("HalfCheetah-v5", "mujoco"), ("NotAGame-v0", "other")])
def test_env_families_come_from_the_entry_point(env_id, family):
    assert env_family(env_id) == family


def test_cpu_budget_caps_the_zoo_and_zoo_budget_is_one_set_away():
    assert zoo_timesteps("ppo", "Acrobot-v1") == 1_000_000
    assert plan(RLConfig(), "Acrobot-v1").timesteps == CPU_STEPS["classic-control"][0] == 200_000
    assert plan(RLConfig(budget="zoo"), "Acrobot-v1").timesteps == 1_000_000
    assert plan(RLConfig(timesteps=12_345, budget="zoo"), "Acrobot-v1").timesteps == 12_345
    assert plan(RLConfig(), "CartPole-v1").timesteps == 100_000  # the zoo's, under the cap
    assert plan(RLConfig(algo="dqn"), "Acrobot-v1").timesteps == 50_000
    assert plan(RLConfig(algo="dqn", budget="zoo"), "Acrobot-v1").timesteps == 100_000


def test_toy_text_games_get_the_family_defaults():
    p = plan(RLConfig(), "Taxi-v4")
    assert (p.timesteps, p.n_envs, p.vec_env) == (200_000, 8, "dummy")
    assert p.kwargs["ent_coef"] == 0.05 and p.kwargs["batch_size"] == 256
    assert plan(RLConfig(ent_coef=0.0), "FrozenLake-v1").kwargs["ent_coef"] == 0.0
    assert plan(RLConfig(algo="a2c"), "FrozenLake-v1").kwargs == {}


def test_speed_meter_estimates_once_after_warmup_and_a_few_seconds():
    meter = SpeedMeter(total=10_000, warmup=100, zoo_steps=100_000, min_seconds=5.0, began=0.0)
    assert meter.boundary(50, now=0.5) is None  # still warming up
    assert meter.boundary(1_000, now=1.0) is None  # the clock starts here
    assert meter.boundary(3_000, now=3.0) is None  # measured for 2 s only
    message = meter.boundary(6_000, now=6.0)  # 5,000 steps in 5 s: 1,000 steps/s
    assert "1,000 steps/s" in message and "about 10 s for 10,000 steps" in message
    assert "the zoo's 100,000 with --set budget=zoo: about 1 min 40 s" in message
    assert meter.boundary(7_000, now=7.0) is None


def test_durations_read_naturally():
    assert [duration(s) for s in (4.4, 61, 3599, 3 * 3600 + 300)] == ["4 s", "1 min 01 s", "59 min 59 s", "3 h 05 min"]


def test_training_logs_its_budget_and_expected_time(monkeypatch):
    import mltasks_rl.agent

    monkeypatch.setattr(mltasks_rl.agent, "SpeedMeter", functools.partial(SpeedMeter, min_seconds=0.0))
    progress = null_progress()
    lines = []
    progress.subscribe(lambda event: lines.append(event.message) if event.kind == "log" else None)
    task = RLTask(RLConfig(num_threads=1, timesteps=512, n_envs=1, n_steps=64, n_epochs=1))
    task.train(task.load_data(None), progress)
    assert lines[0].startswith("rl: PPO on CartPole-v1, 512 steps (--set timesteps)")
    estimates = [line for line in lines if "steps/s" in line]
    assert len(estimates) == 1 and "training should take about" in estimates[0]
