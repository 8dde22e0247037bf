"""Dynamic batching across requests: concurrent requests share ``predict`` calls and each gets
its own records back; a full queue answers 503 with ``Retry-After``; a request that waits too
long answers 504; tasks that cannot be batched run alone."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("fastapi")

from mltasks.serve.batcher import Batcher  # noqa: E402


def _queued(client: Any, inputs: int, timeout: float = 10.0) -> None:
    """Wait until ``inputs`` inputs wait in the app's queue."""
    batcher = client.app.state.model.batcher
    deadline = time.monotonic() + timeout
    while batcher.depth < inputs:
        assert time.monotonic() < deadline, f"{batcher.depth} inputs queued, expected {inputs}"
        time.sleep(0.01)


def _hold_first_call(client: Any, task: Any, pool: ThreadPoolExecutor) -> Any:
    """Send one request and keep its ``predict`` call running until ``task.gate`` is set."""
    task.gate.clear()
    task.entered.clear()
    first = pool.submit(client.post, "/v1/predict", json={"inputs": ["first"]})
    assert task.entered.wait(10)
    return first


def _behind_first_call(client: Any, task: Any, pool: ThreadPoolExecutor,
                       bodies: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    """Post ``bodies`` while a first request's ``predict`` call is held, release it once all their
    inputs wait in the queue, and return the first response and the futures of the others."""
    first = _hold_first_call(client, task, pool)
    futures = [pool.submit(client.post, "/v1/predict", json=body) for body in bodies]
    _queued(client, sum(len(body["inputs"]) for body in bodies))
    task.gate.set()
    return first.result(timeout=20), futures


def test_concurrent_requests_share_a_call_and_each_gets_its_own_records(serve_task, echo_cls):
    task = echo_cls()
    client = serve_task(task, max_batch_size=32, max_batch_wait_ms=50)
    with ThreadPoolExecutor(12) as pool:
        texts = [f"text-{i}" for i in range(10)]
        first, futures = _behind_first_call(client, task, pool, [{"inputs": [t]} for t in texts])
        answers = {t: f.result(timeout=20) for t, f in zip(texts, futures)}
        assert first.json()["predictions"] == [{"text": "first", "echo": "first"}]
    for text, response in answers.items():
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == [{"text": text, "echo": text}]
    assert task.calls[0] == ["first"]
    assert sorted(task.calls[1]) == sorted(texts)  # the ten waiting requests: one predict call
    assert len(task.calls) == 2


def test_requests_with_several_inputs_get_theirs_in_order(serve_task, echo_cls):
    task = echo_cls()
    client = serve_task(task, max_batch_size=8)
    with ThreadPoolExecutor(6) as pool:
        bodies = [[f"r{r}-{i}" for i in range(n)] for r, n in enumerate((3, 1, 4, 2, 5))]
        _, futures = _behind_first_call(client, task, pool, [{"inputs": b} for b in bodies])
        for body, future in zip(bodies, futures):
            assert [r["text"] for r in future.result(timeout=20).json()["predictions"]] == body
    # no call above max_batch_size; requests are never split between calls unless longer than it
    assert all(len(call) <= 8 for call in task.calls) and sum(map(len, task.calls)) == 1 + 15


def test_different_options_never_share_a_call(serve_task, echo_cls):
    task = echo_cls()
    client = serve_task(task)
    with ThreadPoolExecutor(6) as pool:
        bodies = [{"inputs": [f"p{i}"]} for i in range(2)] + [{"inputs": [f"b{i}"], "options": {"suffix": "!"}}
                                                              for i in range(2)]
        _, futures = _behind_first_call(client, task, pool, bodies)
        plain, bang = futures[:2], futures[2:]
        assert [f.result(timeout=20).json()["predictions"][0]["echo"] for f in plain] == ["p0", "p1"]
        assert [f.result(timeout=20).json()["predictions"][0]["echo"] for f in bang] == ["b0!", "b1!"]
    assert sorted(map(sorted, task.calls[1:])) == [["b0", "b1"], ["p0", "p1"]]


def test_a_bad_input_fails_only_its_own_request(serve_task, echo_cls):
    task = echo_cls()
    client = serve_task(task)
    with ThreadPoolExecutor(6) as pool:
        _, futures = _behind_first_call(client, task, pool, [{"inputs": [x]} for x in ("g0", "g1", "g2", "boom")])
        good, bad = futures[:3], futures[3]
        assert [f.result(timeout=20).json()["predictions"][0]["text"] for f in good] == ["g0", "g1", "g2"]
        response = bad.result(timeout=20)
    assert response.status_code == 400 and "'boom'" in response.json()["error"]
    assert len(task.calls[1]) == 4  # tried together first, then each alone
    assert sorted(map(tuple, task.calls[2:])) == [("boom",), ("g0",), ("g1",), ("g2",)]


def test_a_full_queue_answers_503_with_retry_after(serve_task, echo_cls):
    task = echo_cls()
    client = serve_task(task, max_queue=3, max_inputs=3)
    with ThreadPoolExecutor(4) as pool:
        first = _hold_first_call(client, task, pool)  # running: no longer in the queue
        waiting = pool.submit(client.post, "/v1/predict", json={"inputs": ["a", "b"]})
        _queued(client, 2)
        refused = client.post("/v1/predict", json={"inputs": ["c", "d"]})  # 2 + 2 > 3
        fits = pool.submit(client.post, "/v1/predict", json={"inputs": ["e"]})  # 2 + 1 <= 3
        _queued(client, 3)
        task.gate.set()
        assert first.result(timeout=20).status_code == waiting.result(timeout=20).status_code == 200
        assert fits.result(timeout=20).status_code == 200
    assert refused.status_code == 503
    assert "queue is full" in refused.json()["error"] and "--max-queue" in refused.json()["error"]
    assert int(refused.headers["retry-after"]) >= 1
    assert client.post("/v1/predict", json={"inputs": ["c", "d"]}).status_code == 200  # drained: room again


def test_a_request_that_waits_too_long_answers_504_and_leaves_the_queue(serve_task, echo_cls):
    task = echo_cls()
    client = serve_task(task, request_timeout=0.5)
    with ThreadPoolExecutor(2) as pool:
        first = _hold_first_call(client, task, pool)
        started = time.monotonic()
        late = client.post("/v1/predict", json={"inputs": ["late"]})
        assert time.monotonic() - started < 5
        assert late.status_code == 504 and "--request-timeout" in late.json()["error"]
        assert client.app.state.model.batcher.depth == 0  # it left the queue
        task.gate.set()
        assert first.result(timeout=20).status_code == 504  # it waited as long, in predict
    assert ["late"] not in task.calls  # never run
    assert client.post("/v1/predict", json={"inputs": ["next"]}).json()["predictions"][0]["text"] == "next"


def test_a_task_that_writes_files_runs_each_request_alone(serve_task, wave_task, make_wav):
    task = wave_task
    client = serve_task(task, max_batch_size=2)
    assert client.get("/v1/info").json()["batching"]["enabled"] is False
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client.post, "/v1/predict", files=[("files", (f"c{i}.wav", make_wav(0.5)))])
                   for i in range(4)]
        for i, future in enumerate(futures):
            records = future.result(timeout=20).json()["predictions"]
            assert records[0]["input"] == f"c{i}.wav" and records[1]["picture"].startswith("data:image/gif")
    assert task.calls == [1, 1, 1, 1]


def test_a_task_can_refuse_batching(serve_task, echo_cls):
    class Alone(echo_cls):  # type: ignore[misc,valid-type]
        batchable = False

    task = Alone()
    client = serve_task(task)
    with ThreadPoolExecutor(4) as pool:
        _, futures = _behind_first_call(client, task, pool, [{"inputs": [f"t{i}"]} for i in range(3)])
        assert [f.result(timeout=20).json()["predictions"][0]["text"] for f in futures] == ["t0", "t1", "t2"]
    assert sorted(task.calls[1:]) == [["t0"], ["t1"], ["t2"]]  # one call each


def test_records_that_do_not_match_the_inputs_are_not_split(serve_task, echo_cls):
    class Summary(echo_cls):  # type: ignore[misc,valid-type]
        def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
            return [*super().predict(inputs, **options), {"summary": len(inputs)}]

    task = Summary()
    client = serve_task(task)
    with ThreadPoolExecutor(4) as pool:
        _, futures = _behind_first_call(client, task, pool, [{"inputs": [f"t{i}"]} for i in range(2)])
        for i, future in enumerate(futures):
            assert future.result(timeout=20).json()["predictions"] == [{"text": f"t{i}", "echo": f"t{i}"},
                                                                       {"summary": 1}]


def test_a_lone_client_is_not_kept_waiting():
    batcher = Batcher(lambda payloads: list(payloads), max_batch_size=32, max_wait_s=5.0, max_queue=10)
    assert batcher.target() == 1  # nothing seen yet: a batch of one goes at once
    batcher.recent.extend([1, 30, 3])
    assert batcher.target() == 30
    batcher.recent.extend([64] * 8)
    assert batcher.target() == 32  # never above max_batch_size


def test_one_client_after_another_is_answered_without_the_batch_wait(serve_task, echo_cls):
    task = echo_cls()
    client = serve_task(task, max_batch_wait_ms=2000)
    started = time.monotonic()
    for i in range(5):
        assert client.post("/v1/predict", json={"inputs": [f"t{i}"]}).status_code == 200
    assert time.monotonic() - started < 2.0
