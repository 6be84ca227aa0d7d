"""Timer triggers: NCRONTAB schedules, run-on-startup, the schedule monitor and past-due runs.

As in the host, the schedule status of a monitored timer lives in the AzureWebJobsStorage
account (blob `azure-webjobs-hosts/timers/<host id>/<function>/status`), so an occurrence
missed while devhost was down fires once at start with `past_due == True`; and one host at a
time runs each timer (a blob lease), with the status blob's ETag making every occurrence fire
once even if two hosts briefly overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.functions import meta
from croniter import croniter

from devhost.connections import ConnectionNotConfigured, StorageConnection, resolve_storage
from devhost.expressions import resolve
from devhost.hostid import host_id_for
from devhost.indexing import IndexedFunction
from devhost.invoker import FunctionInvocationError
from devhost.triggers.base import TriggerSource

HOSTS_CONTAINER = "azure-webjobs-hosts"
LEASE_SECONDS = 15
_TIMESPAN = re.compile(r"^\s*(\d+\.)?\d{1,2}:\d{2}(:\d{2})?\s*$")


class ScheduleError(ValueError):
    """A timer schedule devhost (and Flex Consumption) cannot run."""


class TimerSchedule:
    """A six-field NCRONTAB expression: second minute hour day month day-of-week (UTC)."""

    def __init__(self, expression: str) -> None:
        self.expression = expression.strip()
        if _TIMESPAN.match(self.expression):
            raise ScheduleError(
                f"'{expression}' is a TimeSpan schedule; Flex Consumption supports only NCRONTAB "
                "expressions such as '0 */5 * * * *'"
            )
        fields = self.expression.split()
        if len(fields) != 6 or not croniter.is_valid(self.expression, second_at_beginning=True):
            raise ScheduleError(
                f"'{expression}' is not a valid six-field NCRONTAB expression "
                "(second minute hour day month day-of-week), e.g. '0 0 2 * * *'"
            )

    def next_after(self, moment: datetime) -> datetime:
        return croniter(self.expression, moment, second_at_beginning=True).get_next(datetime)

    def interval(self) -> float:
        """Seconds between two consecutive occurrences (the first two from now)."""
        first = self.next_after(datetime.now(UTC))
        return (self.next_after(first) - first).total_seconds()


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class _StatusBlob:
    """The schedule status of one timer, updated with optimistic concurrency."""

    def __init__(self, storage: StorageConnection, host_id: str, function_name: str) -> None:
        service = storage.blob_service()
        self._container = service.get_container_client(HOSTS_CONTAINER)
        self._blob = self._container.get_blob_client(
            f"timers/{host_id}/Host.Functions.{function_name}/status"
        )
        self._lock = self._container.get_blob_client(
            f"locks/{host_id}/Host.Functions.{function_name}.Listener"
        )
        self._lease: Any = None

    def ensure(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self._container.create_container()
        with contextlib.suppress(ResourceExistsError):
            self._lock.upload_blob(b"", overwrite=False)

    def read(self) -> tuple[dict[str, str] | None, str | None]:
        try:
            download = self._blob.download_blob()
        except ResourceNotFoundError:
            return None, None
        return json.loads(download.readall()), download.properties.etag

    def write(self, status: dict[str, str], etag: str | None) -> bool:
        """Write if nobody else did since `etag` was read; False if another host won."""
        condition: dict[str, Any] = (
            {"etag": etag, "match_condition": MatchConditions.IfNotModified}
            if etag
            else {"match_condition": MatchConditions.IfMissing}
        )
        try:
            self._blob.upload_blob(json.dumps(status), overwrite=True, **condition)
        except (ResourceModifiedError, ResourceExistsError):
            return False
        return True

    def try_lock(self) -> bool:
        """Hold (or renew) the listener lease; False while another host holds it."""
        try:
            if self._lease is None:
                self._lease = self._lock.acquire_lease(lease_duration=LEASE_SECONDS)
            else:
                self._lease.renew()
        except HttpResponseError as exc:
            if exc.status_code in (409, 412):
                self._lease = None
                return False
            raise
        return True

    def unlock(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(HttpResponseError):
                self._lease.release()
            self._lease = None


@dataclass
class _Timer:
    function: IndexedFunction
    schedule: TimerSchedule
    run_on_startup: bool
    use_monitor: bool
    status: _StatusBlob | None = None
    # Computed when the source starts, so a test that moves virtual time right after
    # start-up cannot slip past the first occurrence.
    first_due: datetime | None = None
    task: asyncio.Task[None] | None = None
    running: asyncio.Task[Any] | None = None


class TimerSource(TriggerSource):
    trigger_type = "timerTrigger"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timers: list[_Timer] = []
        self._clock_moved = asyncio.Event()
        self._stopping = False

    def describe(self, fn: IndexedFunction) -> str:
        return f"timerTrigger ({fn.trigger.get('schedule')})"

    async def start(self) -> None:
        storage: StorageConnection | None
        try:
            storage = resolve_storage()
        except ConnectionNotConfigured:
            storage = None
        host_id = host_id_for(self.context.app_dir)
        for fn in self.functions:
            trigger = fn.trigger
            try:
                schedule = TimerSchedule(resolve(str(trigger.get("schedule", ""))))
            except ValueError as exc:
                self.log.error("Timer '%s' will not run: %s", fn.name, exc)
                continue
            monitor = trigger.get("useMonitor")
            timer = _Timer(
                fn,
                schedule,
                run_on_startup=bool(trigger.get("runOnStartup", False)),
                # The host monitors schedules by default unless they recur within a minute.
                use_monitor=bool(monitor) if monitor is not None else schedule.interval() >= 60,
            )
            if storage is not None:
                # Its container is created by the timer's own task (_run): storage that cannot
                # be reached delays that timer, never devhost's start, as in the real host.
                timer.status = _StatusBlob(storage, host_id, fn.name)
            else:
                self.log.warning(
                    "AzureWebJobsStorage is not set: timer '%s' runs without its schedule "
                    "monitor and without the single-instance lock",
                    fn.name,
                )
            timer.first_due = schedule.next_after(self.context.clock.now_datetime())
            self._timers.append(timer)
        self.context.clock.subscribe(self._clock_moved.set)
        for timer in self._timers:
            timer.task = asyncio.create_task(self._run(timer), name=f"timer:{timer.function.name}")
            timer.task.add_done_callback(self._report_crash)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error(
                "%s stopped: devhost internal error", task.get_name(), exc_info=task.exception()
            )

    async def stop(self, grace: float) -> None:
        self._stopping = True
        self._clock_moved.set()
        running = [
            t.running for t in self._timers if t.running is not None and not t.running.done()
        ]
        if running:
            await asyncio.wait(running, timeout=grace)
        for timer in self._timers:
            if timer.task is not None:
                timer.task.cancel()
        await asyncio.gather(*(t.task for t in self._timers if t.task), return_exceptions=True)
        for timer in self._timers:
            if timer.status is not None:
                await asyncio.to_thread(timer.status.unlock)

    async def _holds_lock(self, timer: _Timer) -> bool:
        if timer.status is None:
            return True
        return await asyncio.to_thread(timer.status.try_lock)

    async def _acquire(self, timer: _Timer) -> bool:
        """Wait until this host holds the timer's lock; False when stopping."""
        while not self._stopping:
            if await self._holds_lock(timer):
                return True
            await self._pause(LEASE_SECONDS / 3)
        return False

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking early when the (virtual) clock moves or devhost stops."""
        self._clock_moved.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._clock_moved.wait(), max(0.0, seconds))

    async def _wait_holding_lock(self, timer: _Timer, due: datetime) -> bool:
        """Sleep until `due`, renewing the lease; False if it was lost or devhost stops."""
        while not self._stopping:
            remaining = due.timestamp() - self.context.clock.now()
            if remaining <= 0:
                return True
            await self._pause(min(remaining, LEASE_SECONDS / 3))
            if not await self._holds_lock(timer):
                return False
        return False

    async def _ensure_status(self, timer: _Timer) -> bool:
        """Create the status container and lock blob, retrying while storage is unreachable;
        False when devhost stops first."""
        assert timer.status is not None
        delay = 1.0
        while not self._stopping:
            try:
                await asyncio.to_thread(timer.status.ensure)
                return True
            except Exception as exc:  # unreachable or refusing storage: the timer waits
                self.log.error(
                    "Timer '%s' cannot reach its schedule monitor in storage (%s); it will not "
                    "fire until it can, retrying in %.0f s",
                    timer.function.name,
                    type(exc).__name__,
                    delay,
                )
                await self._pause(delay)
                delay = min(delay * 2, 60.0)
        return False

    async def _run(self, timer: _Timer) -> None:
        if timer.status is not None and not await self._ensure_status(timer):
            return
        first = True
        while await self._acquire(timer):
            await self._after_acquiring(timer, first)
            first = False
            while not self._stopping:
                due = timer.schedule.next_after(self.context.clock.now_datetime())
                if timer.first_due is not None:
                    due, timer.first_due = min(due, timer.first_due), None
                if not await self._wait_holding_lock(timer, due):
                    break  # lost the lock (or stopping): wait for it again
                await self._fire(timer, due, past_due=False)

    async def _after_acquiring(self, timer: _Timer, first: bool) -> None:
        """Catch up a missed occurrence (past due), or run on start-up if asked to."""
        now = self.context.clock.now_datetime()
        if timer.use_monitor and timer.status is not None:
            status, _ = await asyncio.to_thread(timer.status.read)
            missed = status.get("Next") if status else None
            if missed and datetime.fromisoformat(missed) < now:
                self.log.info(
                    "Timer '%s' missed its occurrence at %s: running it now as past due",
                    timer.function.name,
                    missed,
                )
                await self._fire(timer, datetime.fromisoformat(missed), past_due=True)
                return
        if first and timer.run_on_startup:
            await self._fire(timer, now, past_due=False, startup=True)

    async def _fire(
        self, timer: _Timer, occurrence: datetime, *, past_due: bool, startup: bool = False
    ) -> None:
        now = self.context.clock.now_datetime()
        status = {
            "Last": _iso(occurrence),
            "Next": _iso(timer.schedule.next_after(max(now, occurrence))),
            "LastUpdated": _iso(now),
        }
        if timer.use_monitor and timer.status is not None:
            previous, etag = await asyncio.to_thread(timer.status.read)
            already = (
                previous
                and previous.get("Last")
                and not startup
                and (datetime.fromisoformat(previous["Last"]) >= occurrence)
            )
            if already or not await asyncio.to_thread(timer.status.write, status, etag):
                self.log.info(
                    "Timer '%s' occurrence %s already ran on another host",
                    timer.function.name,
                    _iso(occurrence),
                )
                return
        payload = {
            "Schedule": {"AdjustForDST": True},
            "ScheduleStatus": status if timer.use_monitor else None,
            "IsPastDue": past_due,
        }
        data = meta.Datum(json.dumps(payload), "json")
        timer.running = asyncio.ensure_future(self.context.invoke(timer.function, data))
        try:
            await asyncio.shield(timer.running)
        except FunctionInvocationError:
            pass  # logged by the invoker; the schedule goes on, as in the host
        except Exception:
            self.log.exception("Timer '%s' could not be invoked", timer.function.name)
