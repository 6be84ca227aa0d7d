"""The floor: the SDK's own replay time for the episode inputs devhost delivered."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

from bench.history import Episode, Event, Recorded
from devhost.durable.replay_inputs import context_json

Handle = Callable[[func.OrchestrationContext], str]


class ReplayMismatch(AssertionError):
    """A replayed episode did not end the way devhost's recorded one did."""


@dataclass
class Floor:
    """Total best-of-N replay seconds over an instance's episodes (and of first runs only)."""

    seconds: float
    first_run_s: float
    episodes: int
    events_replayed: int


def load_orchestrators(app_dir: Path) -> dict[str, Handle]:
    """Import the app's `function_app` and return its orchestrators' SDK entry points."""
    spec = importlib.util.spec_from_file_location("function_app", app_dir / "function_app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {app_dir / 'function_app.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    spec.loader.exec_module(module)
    logging.disable(logging.WARNING)  # get_functions() warns about auth levels on non-HTTP apps
    try:
        functions = module.app.get_functions()
    finally:
        logging.disable(logging.NOTSET)
    return {
        fn.get_function_name(): fn.get_user_function()
        for fn in functions
        if fn.get_trigger().type == "orchestrationTrigger"
    }


def context_body(recorded: Recorded, history: list[Event]) -> str:
    """The orchestration trigger payload, in the shape devhost's engine sends."""
    return context_json(history, recorded.input_token, recorded.instance_id)


def measure_floor(
    handle: Handle,
    recorded: Recorded,
    events: list[Event],
    episodes: list[Episode],
    repeat: int,
) -> Floor:
    """Replay every episode `repeat` times; sum each episode's fastest run."""
    played = [dict(ev, IsPlayed=True) for ev in events]
    fresh = [dict(ev, IsPlayed=False) for ev in events]
    total = first = 0.0
    replayed = 0
    for number, episode in enumerate(episodes, 1):
        history = played[: episode.start] + fresh[episode.start : episode.end]
        body = context_body(recorded, history)
        times = []
        with warnings.catch_warnings():
            # Events raised before their wait: the SDK warns "Potential duplicate Task completion".
            warnings.simplefilter("ignore")
            for _ in range(repeat):
                started = time.perf_counter()
                state_text = handle(func.OrchestrationContext(body))
                times.append(time.perf_counter() - started)
        _check(json.loads(state_text), recorded, last=number == len(episodes), number=number)
        total += min(times)
        first += times[0]
        replayed += len(history)
    return Floor(total, first, len(episodes), replayed)


def _check(state: dict[str, Any], recorded: Recorded, *, last: bool, number: int) -> None:
    """Only the last episode finishes, with devhost's recorded output."""
    where = f"{recorded.instance_id} episode {number}"
    if state.get("error"):
        raise ReplayMismatch(f"{where}: the orchestrator failed: {state['error']}")
    if bool(state.get("isDone")) != last:
        raise ReplayMismatch(f"{where}: isDone={state.get('isDone')}, expected {last}")
    if last and state.get("output") != recorded.output:
        raise ReplayMismatch(f"{where}: output {state.get('output')!r} != {recorded.output!r}")
