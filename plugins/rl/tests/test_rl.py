"""The rl task end to end: environment ids, training, evaluation, GIFs, save/load, the CLI."""

from __future__ import annotations

import json

import mltasks
import numpy as np
import pytest
from mltasks.config import quick_config
from mltasks.errors import ConfigError, DataError
from mltasks.progress import null_progress

from mltasks_rl.config import RLConfig
from mltasks_rl.task import RLTask


def test_run_directory_holds_agent_curve_and_report(cartpole_run):
    run = cartpole_run.run_dir
    assert (run / "model" / "agent.zip").is_file() and (run / "model" / "agent.json").is_file()
    assert not (run / "model" / "vecnormalize.json").exists()  # CartPole's zoo setting: no VecNormalize
    assert not list(run.rglob("*.pkl"))
    assert (run / "reward_curve.png").read_bytes()[:4] == b"\x89PNG"
    rows = (run / "training_episodes.csv").read_text().splitlines()
    assert rows[0] == "timestep,return,length" and len(rows) > 10
    assert int(rows[-1].split(",")[0]) <= 2048
    report = (run / "report.md").read_text()
    assert "reward_curve.png" in report and "n_epochs" in report and "Evaluation episodes" in report
    assert f"mltasks predict {run} --set episodes=3 seed=1" in report
    assert cartpole_run.history and "timestep" in cartpole_run.history[0]  # rows count timesteps, not epochs
    info = json.loads((run / "run.json").read_text())["data"]
    assert info["sizes"] == {"train": 2048, "val": 5, "test": 5}
    assert info["info"]["env"] == "CartPole-v1"


def test_smoke_agent_beats_a_random_policy(cartpole_run):
    metrics = cartpole_run.metrics
    assert metrics["episodes"] == 5 and metrics["mean_length"] == metrics["mean_return"]
    assert metrics["mean_return"] > 50  # a random policy averages ~22 on CartPole-v1


def test_evaluate_run_reproduces_the_metrics(cartpole_run):
    again = mltasks.evaluate_run(cartpole_run.run_dir)
    assert again["metrics"] == pytest.approx(cartpole_run.metrics)


def test_predict_writes_a_readable_gif_outside_the_run(cartpole_run, tmp_path):
    from PIL import Image

    before = sorted(p.name for p in cartpole_run.run_dir.rglob("*"))
    gif = tmp_path / "episode.gif"
    records = mltasks.predict_run(cartpole_run.run_dir, None, episodes=2, record="gif", gif_path=str(gif),
                                  max_frames=60)
    assert [r["episode"] for r in records] == [0, 1] and records[0]["gif"] == str(gif)
    assert "gif" not in records[1]
    with Image.open(gif) as image:
        # at most max_frames; Pillow merges identical consecutive frames, so maybe fewer
        assert image.format == "GIF" and 10 < image.n_frames <= 60
        assert image.size == (300, 200)  # CartPole's 600x400 frames, halved
    assert sorted(p.name for p in cartpole_run.run_dir.rglob("*")) == before


def test_unwritable_gif_path_exits_2_naming_it(cartpole_run, mltasks_cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    gif = blocker / "episode.gif"  # a file where a folder would have to be
    result = mltasks_cli("predict", str(cartpole_run.run_dir), "--set", "episodes=1", f"gif_path={gif}")
    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(gif) in errors[0] and "cannot write" in errors[0]


def test_predict_takes_episode_seeds(cartpole_run):
    task = cartpole_run.task
    first = task.predict(["7", "8"])
    assert [r["seed"] for r in first] == [7, 8] and task.predict(["7"])[0] == first[0]
    with pytest.raises(DataError, match="seeds"):
        task.predict(["left"])
    with pytest.raises(ConfigError, match="unknown predict option"):
        task.predict(None, episode=3)
    assert [r["seed"] for r in task.predict(None, episodes=2, seed=5)] == [5, 6]
    assert task.predict(None, episodes=1, seed=7)[0] == first[0]
    with pytest.raises(DataError, match="negative"):
        task.predict(None, seed=-1)
    with pytest.raises(DataError, match="negative"):
        task.predict(["-3"])
    with pytest.raises(ConfigError, match="deterministic"):
        task.predict(None, deterministic="maybe")
    sampled = task.predict(None, episodes=1, seed=7, deterministic=False)
    assert sampled[0]["seed"] == 7 and sampled[0]["length"] >= 1


def test_cli_watch_it_play_command_from_the_report(cartpole_run, mltasks_cli):
    """The report's command, with several pairs after one --set; a negative seed exits 2."""
    result = mltasks_cli("predict", str(cartpole_run.run_dir), "--set", "episodes=2", "seed=1", "--json")
    assert result.exit_code == 0, result.output
    assert [r["seed"] for r in json.loads(result.output)] == [1, 2]
    bad = mltasks_cli("predict", str(cartpole_run.run_dir), "--set", "seed=-1")
    assert bad.exit_code == 2 and "negative" in bad.stderr and "Traceback" not in bad.output


def _observations(env_id, n=200):
    import gymnasium as gym

    env = gym.make(env_id)
    env.observation_space.seed(0)
    return np.stack([env.observation_space.sample() for _ in range(n)])


def test_save_load_gives_identical_actions(cartpole_run):
    loaded = RLTask.load(cartpole_run.run_dir / "model")
    obs = _observations("CartPole-v1")
    a, _ = cartpole_run.task.model_.predict(obs, deterministic=True)
    b, _ = loaded.model_.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a, b)


def test_vecnormalize_statistics_are_saved_as_json_and_used(tmp_path):
    task = RLTask(quick_config(RLConfig(num_threads=1, algo="a2c", timesteps=1000)))
    splits = task.load_data("Acrobot-v1")
    task.train(splits, null_progress())
    assert task.normalizer_ is not None and task.normalizer_.count > 1000
    # the statistics are the ones SB3's VecNormalize applies
    sb3 = task.model_.get_vec_normalize_env()
    obs = _observations("Acrobot-v1")
    np.testing.assert_array_equal(task.normalizer_.normalize_obs(obs), sb3.normalize_obs(obs))
    task.save(tmp_path)
    assert (tmp_path / "vecnormalize.json").is_file() and not list(tmp_path.glob("*.pkl"))
    loaded = RLTask.load(tmp_path)
    np.testing.assert_array_equal(loaded.normalizer_.stats[""][0], task.normalizer_.stats[""][0])
    obs = _observations("Acrobot-v1")
    a, _ = task.model_.predict(task.normalizer_.normalize_obs(obs), deterministic=True)
    b, _ = loaded.model_.predict(loaded.normalizer_.normalize_obs(obs), deterministic=True)
    np.testing.assert_array_equal(a, b)
    assert loaded.predict(["3"]) == task.predict(["3"])


def test_unknown_env_id_lists_close_matches():
    with pytest.raises(DataError, match="CartPole-v1"):
        RLTask().load_data("CartPol-v1")


def test_env_and_data_must_agree():
    with pytest.raises(ConfigError, match="different environments"):
        RLTask(RLConfig(env="Acrobot-v1")).load_data("CartPole-v1")
    assert RLTask(RLConfig(env="Acrobot-v1")).load_data(None).train.env_id == "Acrobot-v1"


def test_missing_env_module_is_a_data_error():
    with pytest.raises(DataError, match="no_such_games_pkg"):
        RLTask(RLConfig(env_module="no_such_games_pkg")).load_data(None)


def test_dqn_refuses_a_continuous_action_space():
    task = RLTask(quick_config(RLConfig(algo="dqn", timesteps=100)))
    with pytest.raises(ConfigError, match="algo 'dqn' needs a discrete action space; Pendulum-v1"):
        task.load_data("Pendulum-v1")  # before the runner logs the data line
    assert RLTask(quick_config(RLConfig(algo="dqn"))).load_data("CartPole-v1").train.env_id == "CartPole-v1"


def test_cli_unknown_env_exits_2(mltasks_cli, tmp_path):
    result = mltasks_cli("run", "rl", "--data", "Acrobat-v1", "--quick", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "unknown gymnasium environment id" in result.stderr and "Acrobot-v1" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_default_ppo_solves_cartpole(tmp_path):
    """The zoo setting (100k steps, 8 envs) reaches the 475 threshold (several minutes on 2 cores)."""
    result = mltasks.run("rl", overrides={"num_threads": 1}, out=tmp_path / "run")
    assert result.metrics["mean_return"] >= 475


def test_subprocess_envs_train_and_record_every_env():
    cfg = RLConfig(num_threads=1, timesteps=512, n_envs=2, vec_env="subproc", n_steps=64, n_epochs=1, eval_episodes=1)
    task = RLTask(cfg)
    task.train(task.load_data(None), null_progress())
    assert task.plan_["vec_env"] == "subproc" and task.plan_["n_envs"] == 2
    assert task.curve_ and task.curve_[-1][0] <= 512
    assert sum(length for _, _, length in task.curve_) <= 512
