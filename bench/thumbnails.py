"""`python -m bench.thumbnails`: the thumbnail job's CPU cost against libvips, its storage I/O, and
the whole upload-to-thumbnails time on devhost, each reported separately.

1. CPU: decode + resize + encode of one generated 12 MP JPEG (identical bytes for both), for
   each size: the app's own code (adapters/images.py: header check, Pillow with draft()
   shrink-on-load, Lanczos, JPEG q85) against `pyvips.Image.thumbnail_buffer` + JPEG q85
   encode. Runs alternate between the two so both see the same machine load; the median of
   `--runs` is kept. libvips runs on one thread (as each Pillow call does, and as one activity
   does) for the target, and on its default thread pool for information.
2. Storage: upload and download of the same JPEG, and a thumbnail write, on a private Azurite.
3. End to end: on devhost with that Azurite, the time from an upload's completion to its job's
   completion, split into the trigger's latency (the local watcher lists every 0.5 s) and the
   orchestration's run.

Figures go to bench/results/thumbnails-<time>.json and into docs/thumbnails.md by hand.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from adapters.images import JPEG_QUALITY, render
from domain.images import read_header, thumbnail_instance_id

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
TARGET_RATIO = 1.15


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.thumbnails", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement")
    parser.add_argument("--sizes", default="128,256,512", help="thumbnail sizes (longest side)")
    parser.add_argument("--uploads", type=int, default=5, help="uploads timed end to end")
    parser.add_argument("--no-devhost", action="store_true", help="skip storage and end to end")
    return parser


def photo(width: int = 4000, height: int = 3000, seed: int = 12) -> bytes:
    """A 12 MP JPEG with photo-like detail (gradients, shapes, noise): identical every run."""
    rng = random.Random(seed)
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    )
    draw = ImageDraw.Draw(base)
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(20, 600), rng.randrange(20, 600)
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + w, y + h), fill=fill)
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(base.filter(ImageFilter.GaussianBlur(2)), noise, 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(work: Callable[[], object], cpu_times: list[float] | None = None) -> float:
    """Wall-clock seconds of one call; its process CPU seconds are appended to `cpu_times`."""
    cpu_started, started = time.process_time(), time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    if cpu_times is not None:
        cpu_times.append(time.process_time() - cpu_started)
    return elapsed


def cpu(data: bytes, sizes: list[int], runs: int) -> list[dict[str, Any]]:
    """Ours against libvips, alternating, per size."""
    import pyvips

    def ours(size: int) -> bytes:
        return render(data, read_header(data), size).data

    def vips(size: int) -> bytes:
        image = pyvips.Image.thumbnail_buffer(data, size, height=size, size="down")
        return image.write_to_buffer(".jpg", Q=JPEG_QUALITY)

    rows = []
    for size in sizes:
        for warm in (ours, vips):  # first calls load codecs and caches
            warm(size)
        samples: dict[str, list[float]] = {"ours": [], "vips_1_thread": [], "vips_default": []}
        cpu_ours: list[float] = []
        cpu_vips: list[float] = []
        default_threads = pyvips.concurrency_get()
        for _ in range(runs):
            samples["ours"].append(_timed(lambda s=size: ours(s), cpu_ours))
            pyvips.concurrency_set(1)
            samples["vips_1_thread"].append(_timed(lambda s=size: vips(s), cpu_vips))
            pyvips.concurrency_set(default_threads)
            samples["vips_default"].append(_timed(lambda s=size: vips(s)))
        medians = {key: _median_ms(values) for key, values in samples.items()}
        # CPU time is what other processes on a shared machine disturb least.
        cpu_ratio = statistics.median(cpu_ours) / statistics.median(cpu_vips)
        rows.append(
            {
                "size": size,
                "ours_ms": medians["ours"],
                "vips_1_thread_ms": medians["vips_1_thread"],
                "vips_default_ms": medians["vips_default"],
                "vips_default_threads": default_threads,
                "ratio": medians["ours"] / medians["vips_1_thread"],
                "ratio_vs_default_threads": medians["ours"] / medians["vips_default"],
                "ours_cpu_ms": _median_ms(cpu_ours),
                "vips_1_thread_cpu_ms": _median_ms(cpu_vips),
                "cpu_ratio": cpu_ratio,
                "thumbnail_bytes": len(ours(size)),
            }
        )
    return rows


def storage(connection_string: str, data: bytes, runs: int) -> dict[str, float]:
    """Upload, download and thumbnail-write medians on Azurite."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    container = service.get_container_client(f"bench-{uuid.uuid4().hex[:8]}")
    container.create_container()
    blob = container.get_blob_client("photo.jpg")
    thumb = render(data, read_header(data), 256).data
    small = container.get_blob_client("256/photo.jpg")
    up = [_timed(lambda: blob.upload_blob(data, overwrite=True)) for _ in range(runs)]
    down = [_timed(lambda: blob.download_blob(max_concurrency=1).readall()) for _ in range(runs)]
    write = [_timed(lambda: small.upload_blob(thumb, overwrite=True)) for _ in range(runs)]
    return {
        "upload_ms": _median_ms(up),
        "download_ms": _median_ms(down),
        "thumbnail_write_ms": _median_ms(write),
    }


def end_to_end(connection_string: str, data: bytes, uploads: int) -> dict[str, Any]:
    """Upload-to-thumbnails on devhost with the repository's app (real trigger and activities)."""
    from azure.storage.blob import BlobServiceClient

    from devhost.testing import PROJECT_ROOT, DevHostProcess

    service = BlobServiceClient.from_connection_string(connection_string)
    container = service.get_container_client("uploads")
    if not container.exists():
        container.create_container()
    env = {
        "AzureWebJobsStorage": connection_string,
        "ServiceBusConnection": (
            "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
        ),
    }
    totals, starts, runs_ = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-thumbs-") as state:
        host = DevHostProcess(
            PROJECT_ROOT, state_dir=Path(state), env=env, extra_args=["--log-level", "WARNING"]
        )
        with host:
            for index in range(uploads + 1):  # the first one warms imports up and is not kept
                name = f"bench/{uuid.uuid4().hex[:8]}.jpg"
                blob = container.get_blob_client(name)
                blob.upload_blob(data)
                uploaded = time.perf_counter()
                job = thumbnail_instance_id(name, str(blob.get_blob_properties().etag))
                while (status := host.status(job)) is None:
                    time.sleep(0.02)
                started = time.perf_counter()
                status = host.wait_for(job, timeout=300)
                done = time.perf_counter()
                if status["output"]["status"] != "completed":
                    raise RuntimeError(f"job {job} ended {status['output']}")
                if index:
                    totals.append(done - uploaded)
                    starts.append(started - uploaded)
                    runs_.append(done - started)
    return {
        "uploads": uploads,
        "total_median_ms": _median_ms(totals),
        "total_max_ms": max(totals) * 1000,
        "trigger_median_ms": _median_ms(starts),
        "run_median_ms": _median_ms(runs_),
    }


def render_report(result: dict[str, Any]) -> str:
    lines = [
        f"12 MP JPEG, {result['source_bytes']} bytes; median of {result['runs']} runs; "
        f"load average before: {result['load_average_before'][0]:.2f} on {os.cpu_count()} CPUs",
        "",
        "size  ours ms  vips(1 thread) ms  ratio  target  | CPU ms: ours  vips  ratio"
        "  | vips(default threads) ms",
    ]
    for row in result["cpu"]:
        verdict = "ok" if row["ratio"] <= TARGET_RATIO else "MISSED"
        lines.append(
            f"{row['size']:>4}  {row['ours_ms']:7.1f}  {row['vips_1_thread_ms']:17.1f}  "
            f"{row['ratio']:5.2f}  {verdict:>6}  | {row['ours_cpu_ms']:10.1f} "
            f"{row['vips_1_thread_cpu_ms']:5.1f}  {row['cpu_ratio']:5.2f}  | "
            f"{row['vips_default_ms']:.1f} ({row['vips_default_threads']} threads)"
        )
    if "storage" in result:
        s = result["storage"]
        lines += [
            "",
            f"Azurite: upload {s['upload_ms']:.1f} ms, download {s['download_ms']:.1f} ms, "
            f"thumbnail write {s['thumbnail_write_ms']:.1f} ms",
        ]
    if "end_to_end" in result:
        e = result["end_to_end"]
        lines.append(
            f"devhost upload-to-thumbnails ({e['uploads']} uploads): median "
            f"{e['total_median_ms']:.0f} ms (max {e['total_max_ms']:.0f}) = trigger "
            f"{e['trigger_median_ms']:.0f} ms + job {e['run_median_ms']:.0f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()
    data = photo()
    result: dict[str, Any] = {
        "source_bytes": len(data),
        "runs": args.runs,
        "load_average_before": list(load),
        "cpu": cpu(data, sizes, args.runs),
    }
    if not args.no_devhost:
        from devhost.azurite import Azurite
        from devhost.testing import PROJECT_ROOT

        with tempfile.TemporaryDirectory(prefix="bench-azurite-") as folder:
            azurite = Azurite(Path(folder), project_root=PROJECT_ROOT)
            azurite.start()
            try:
                result["storage"] = storage(azurite.connection_string, data, args.runs)
                result["end_to_end"] = end_to_end(azurite.connection_string, data, args.uploads)
            finally:
                azurite.stop()
    result["load_average_after"] = list(os.getloadavg())
    print(render_report(result))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"thumbnails-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    return 0  # a benchmark, not a test: the verdicts are printed, as bench/ does elsewhere


if __name__ == "__main__":
    sys.exit(main())
