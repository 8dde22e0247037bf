"""Every kind of space trains, evaluates and plays (issue #30): toy-text games with Discrete
(or Tuple) observations, a Box action space and a Discrete one, through the runner, with
the actions converted in one place (:func:`mltasks_rl.actions.to_env_action`)."""

from __future__ import annotations

import json
import math

import mltasks
import numpy as np
import pytest
from gymnasium import spaces

from mltasks_rl.actions import to_env_action

#: (env id, algorithm, what the env exercises); 1,024 quick steps each.
ENVS = [
    ("FrozenLake-v1", "ppo", "Discrete observations (toy-text)"),
    ("Taxi-v4", "ppo", "Discrete observations (toy-text)"),
    ("CliffWalking-v1", "ppo", "no registered step limit (toy-text)"),
    ("Blackjack-v1", "ppo", "Tuple observations (toy-text)"),
    ("Pendulum-v1", "ppo", "Box actions"),
    ("Acrobot-v1", "dqn", "Discrete actions"),
]


@pytest.mark.parametrize(("env_id", "algo", "what"), ENVS, ids=[e[0] for e in ENVS])
def test_env_trains_evaluates_and_plays_from_its_run(env_id, algo, what, tmp_path, mltasks_cli):
    result = mltasks.run("rl", data=env_id, overrides={"algo": algo, "timesteps": 1024, "num_threads": 1},
                         out=tmp_path / "run", quick=True)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    recorded = metrics.get("metrics", metrics)
    assert all(math.isfinite(recorded[k]) for k in ("mean_return", "min_return", "max_return")), what
    assert recorded["episodes"] == 5 and recorded["mean_length"] >= 1
    assert result.metrics["mean_return"] == pytest.approx(recorded["mean_return"])
    played = mltasks_cli("predict", str(result.run_dir), "--set", "episodes=2", "seed=3", "--json")
    assert played.exit_code == 0, played.output
    rows = json.loads(played.output)
    assert [r["seed"] for r in rows] == [3, 4] and all(math.isfinite(r["return"]) for r in rows)
    again = mltasks_cli("evaluate", str(result.run_dir), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["metrics"]["mean_return"] == pytest.approx(recorded["mean_return"])


def test_toy_text_episode_records_a_gif(tmp_path):
    from PIL import Image

    run = mltasks.run("rl", data="FrozenLake-v1", overrides={"timesteps": 512, "num_threads": 1},
                      out=tmp_path / "run", quick=True).run_dir
    gif = tmp_path / "lake.gif"
    records = mltasks.predict_run(run, ["5"], gif_path=str(gif), max_frames=20)
    assert records[0]["gif"] == str(gif)
    with Image.open(gif) as image:
        assert image.format == "GIF" and 1 <= image.n_frames <= 20


def test_cliffwalking_episodes_end_at_the_fallback_limit():
    from mltasks_rl.envs import FALLBACK_EPISODE_STEPS, describe

    info = describe("CliffWalking-v1")
    assert info["max_episode_steps"] == FALLBACK_EPISODE_STEPS and info["family"] == "toy-text"
    assert describe("CliffWalking-v1", 50)["max_episode_steps"] == 50
    assert describe("CartPole-v1")["max_episode_steps"] == 500
    assert describe("Blackjack-v1")["observation_space"].startswith("Box(0")  # flattened one-hot


def test_discrete_actions_become_hashable_ints():
    space = spaces.Discrete(4)
    for action in (np.array(2), np.array([2]), np.int64(2), 2):
        converted = to_env_action(action, space)
        assert converted == 2 and type(converted) is int
    assert {converted: "hashable"}  # what toy-text's transition tables need
    with pytest.raises(ValueError, match="one number"):
        to_env_action(np.array([1, 2]), space)


def test_box_and_multi_actions_take_the_space_dtype_and_shape():
    box = spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
    out = to_env_action(np.array([[0.5]], dtype=np.float64), box)
    assert out.dtype == np.float32 and out.shape == (1,) and out[0] == pytest.approx(0.5)
    multi = to_env_action(np.array([1.0, 2.0]), spaces.MultiDiscrete([3, 3]))
    assert multi.dtype == np.int64 and multi.tolist() == [1, 2]
    assert to_env_action([1, 0, 1], spaces.MultiBinary(3)).tolist() == [1, 0, 1]


def test_tuple_and_dict_actions_are_converted_part_by_part():
    space = spaces.Tuple((spaces.Discrete(3), spaces.Box(0.0, 1.0, shape=(2,))))
    first, second = to_env_action((np.array(1), [0.25, 0.75]), space)
    assert first == 1 and type(first) is int and second.dtype == np.float32 and space.contains((first, second))
    nested = spaces.Dict({"move": spaces.Discrete(2), "aim": spaces.Box(-1.0, 1.0, shape=(1,))})
    action = to_env_action({"move": np.array([1]), "aim": np.array([0.5])}, nested)
    assert action["move"] == 1 and nested.contains(action)
