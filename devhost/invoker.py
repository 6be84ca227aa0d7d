"""Invokes indexed functions the way the Python worker does: converters, Out bindings, threads."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions._abc import RetryContext, TraceContext

from devhost.indexing import IndexedFunction

log = logging.getLogger("devhost.host")
_REGISTRY = meta.get_binding_registry()


def new_invocation_id() -> str:
    """A random (version 4) UUID without a system call: uuid4() reads os.urandom, which costs
    more than the rest of a trivial activity's dispatch. Invocation ids only need uniqueness."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


class _GenericBinding:
    """The worker's fallback converter: raw str/bytes in, raw str/bytes out."""

    @staticmethod
    def decode(data: meta.Datum | None, *, trigger_metadata: Any) -> Any:
        return None if data is None else data.value

    @staticmethod
    def encode(obj: Any, *, expected_type: Any) -> meta.Datum:
        if isinstance(obj, str):
            return meta.Datum(obj, "string")
        if isinstance(obj, (bytes, bytearray)):
            return meta.Datum(bytes(obj), "bytes")
        raise TypeError(f"unexpected value of type {type(obj).__name__} for a generic binding")


def _has_implicit_output(converter: Any) -> bool:
    probe = getattr(converter, "has_implicit_output", None)
    return bool(probe()) if probe else False


def converter_for(binding_type: str, annotation: Any) -> Any:
    """Pick the converter the worker would: str/bytes annotations get the raw value."""
    conv = _REGISTRY.get(binding_type)
    if annotation in (str, bytes) and not (conv and _has_implicit_output(conv)):
        return _GenericBinding
    return conv or _GenericBinding


class _Out:
    """The worker's implementation of func.Out."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(TraceContext):
    def __init__(self) -> None:
        self._trace_parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """What a function's `context` parameter receives."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local_storage = threading.local()
        self._trace_context = _TraceContext()
        self._retry_context = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return self._retry_context


@dataclass
class InvocationResult:
    return_value: meta.Datum | None
    outputs: dict[str, meta.Datum]
    duration_ms: float


class FunctionInvocationError(Exception):
    """The user function raised; carries the worker-style message and the traceback text."""

    def __init__(self, function_name: str, exc: BaseException) -> None:
        self.function_name = function_name
        self.original = exc
        self.type_name = type(exc).__name__
        self.message = str(exc)
        self.stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        super().__init__(f"{self.type_name}: {self.message}")


class Invoker:
    """Runs functions: async ones on the host's single event loop, sync ones in a thread pool."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        function_directory: str,
        max_threads: int | None = None,
        quiet_types: frozenset[str] = frozenset(),
    ) -> None:
        self._loop = loop
        self._function_directory = function_directory
        self._max_threads = max_threads or 32
        self._pool = ThreadPoolExecutor(
            max_workers=self._max_threads, thread_name_prefix="devhost-worker"
        )
        self._plans: dict[int, _Plan] = {}
        # Trigger types whose per-invocation console lines are written at DEBUG level,
        # so thousands of activity calls do not flood the console.
        self._quiet_types = quiet_types

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def max_threads(self) -> int:
        """How many sync functions may run at once (PYTHON_THREADPOOL_THREAD_COUNT)."""
        return self._max_threads

    def _plan(self, fn: IndexedFunction) -> _Plan:
        """The converters for `fn`'s bindings, worked out once: they depend only on its
        bindings and type hints, and an activity may be invoked thousands of times."""
        cached = self._plans.get(id(fn))
        if cached is not None and cached.fn is fn:
            return cached
        inputs: list[tuple[str, Any, bool]] = []
        outs: list[tuple[str, str]] = []
        return_converter = None
        for binding in fn.bindings:
            name, btype, direction = binding["name"], binding["type"], binding.get("direction")
            if name == "$return":
                return_converter = _REGISTRY.get(btype) or _GenericBinding
            elif direction == "OUT":
                outs.append((name, btype))
            else:
                conv = converter_for(btype, fn.type_hints.get(name))
                if _has_implicit_output(conv) and return_converter is None:
                    return_converter = conv
                inputs.append((name, conv, btype.endswith("Trigger")))
        level = logging.DEBUG if fn.trigger_type in self._quiet_types else logging.INFO
        plan = _Plan(fn, tuple(inputs), tuple(outs), return_converter, level)
        self._plans[id(fn)] = plan
        return plan

    def _bind(
        self,
        fn: IndexedFunction,
        plan: _Plan,
        inputs: Mapping[str, meta.Datum | None],
        trigger_metadata: Mapping[str, meta.Datum] | None,
        invocation_id: str,
    ) -> tuple[dict[str, Any], dict[str, tuple[str, _Out]]]:
        args: dict[str, Any] = {}
        outs: dict[str, tuple[str, _Out]] = {}
        for name, btype in plan.outs:
            out = _Out()
            outs[name] = (btype, out)
            args[name] = out
        for name, conv, is_trigger in plan.inputs:
            metadata = dict(trigger_metadata or {}) if is_trigger else None
            args[name] = conv.decode(inputs.get(name), trigger_metadata=metadata)
        if fn.wants_context:
            args["context"] = InvocationContext(invocation_id, fn.name, self._function_directory)
        return args, outs

    def _begin(
        self,
        fn: IndexedFunction,
        inputs: Mapping[str, meta.Datum | None],
        trigger_metadata: Mapping[str, meta.Datum] | None,
        invocation_id: str,
    ) -> tuple[_Plan, dict[str, Any], dict[str, tuple[str, _Out]]]:
        if fn.load_error:
            raise RuntimeError(f"function '{fn.name}' failed to load: {fn.load_error}")
        plan = self._plan(fn)
        args, outs = self._bind(fn, plan, inputs, trigger_metadata, invocation_id)
        return plan, args, outs

    async def invoke(
        self,
        fn: IndexedFunction,
        inputs: Mapping[str, meta.Datum | None],
        trigger_metadata: Mapping[str, meta.Datum] | None = None,
        invocation_id: str | None = None,
    ) -> InvocationResult:
        """Invoke `fn`; raises FunctionInvocationError when the user code raises."""
        invocation_id = invocation_id or new_invocation_id()
        level = self._log_executing(fn, invocation_id)
        started = time.perf_counter()
        try:
            plan, args, outs = self._begin(fn, inputs, trigger_metadata, invocation_id)
            if fn.is_async:
                result = await fn.user_function(**args)
            else:
                result = await self._loop.run_in_executor(
                    self._pool, lambda: fn.user_function(**args)
                )
            returned, outputs = _encode(fn, plan, result, outs)
        except Exception as exc:
            raise self._failed(fn, invocation_id, started, level, exc) from exc
        return self._succeeded(fn, invocation_id, started, level, returned, outputs)

    def invoke_here(
        self,
        fn: IndexedFunction,
        inputs: Mapping[str, meta.Datum | None],
        invocation_id: str | None = None,
    ) -> InvocationResult:
        """Invoke a sync `fn` on the calling thread, which the caller provides as the worker's
        thread pool would (durable activities run on their own threads; see ActivityWorkers)."""
        if fn.is_async:
            raise TypeError(f"function '{fn.name}' is async: it runs on the event loop")
        invocation_id = invocation_id or new_invocation_id()
        level = self._log_executing(fn, invocation_id)
        started = time.perf_counter()
        try:
            plan, args, outs = self._begin(fn, inputs, None, invocation_id)
            returned, outputs = _encode(fn, plan, fn.user_function(**args), outs)
        except Exception as exc:
            raise self._failed(fn, invocation_id, started, level, exc) from exc
        return self._succeeded(fn, invocation_id, started, level, returned, outputs)

    def _log_executing(self, fn: IndexedFunction, invocation_id: str) -> int:
        level = self._plan(fn).level if not fn.load_error else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "Executing 'Functions.%s' (Id=%s)", fn.name, invocation_id)
        return level

    def _failed(
        self, fn: IndexedFunction, invocation_id: str, started: float, level: int, exc: Exception
    ) -> FunctionInvocationError:
        duration = (time.perf_counter() - started) * 1000
        error = FunctionInvocationError(fn.name, exc)
        log.log(
            level if _is_expected_durable_failure(fn) else logging.ERROR,
            "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)\n%s",
            fn.name,
            invocation_id,
            duration,
            error.stack.rstrip(),
        )
        return error

    def _succeeded(
        self,
        fn: IndexedFunction,
        invocation_id: str,
        started: float,
        level: int,
        returned: meta.Datum | None,
        outputs: dict[str, meta.Datum],
    ) -> InvocationResult:
        duration = (time.perf_counter() - started) * 1000
        if log.isEnabledFor(level):
            log.log(
                level,
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)",
                fn.name,
                invocation_id,
                duration,
            )
        return InvocationResult(returned, outputs, duration)


@dataclass(frozen=True)
class _Plan:
    """How to bind one function: its input converters, Out bindings and return converter."""

    fn: IndexedFunction
    inputs: tuple[tuple[str, Any, bool], ...]  # (name, converter, is the trigger)
    outs: tuple[tuple[str, str], ...]  # (name, binding type)
    return_converter: Any
    level: int  # the console lines' log level


def _encode(
    fn: IndexedFunction, plan: _Plan, result: Any, outs: dict[str, tuple[str, _Out]]
) -> tuple[meta.Datum | None, dict[str, meta.Datum]]:
    """The return value and Out values as the host receives them."""
    outputs = {
        name: (_REGISTRY.get(btype) or _GenericBinding).encode(out.get(), expected_type=None)
        for name, (btype, out) in outs.items()
        if out.get() is not None
    }
    if plan.return_converter is not None:
        returned = (
            plan.return_converter.encode(result, expected_type=None) if result is not None else None
        )
    elif result is not None:
        raise RuntimeError(
            f"function '{fn.name}' returned a value but has no $return output binding"
        )
    else:
        returned = None
    return returned, outputs


def _is_expected_durable_failure(fn: IndexedFunction) -> bool:
    # An orchestrator "fails" by raising with its state attached; the engine reports it.
    return fn.trigger_type == "orchestrationTrigger"
