"""Archive reading benchmark: X's data archive of N DMs, read as a stream of events.

Builds archives in X's format with tests/archive_factory.py (one-to-one and group conversations,
part files of 25 MB, photos and videos) at each size, kept in var/bench/ and reused, then reads
each one in a fresh process so its peak memory is its own. Prints events per second beside two
floors measured in the same run (inflating the data files only; ijson's parse events with nothing
built), and the peak RSS at each size, which should stay flat as the archive grows.

Run: .venv/bin/python bench/archive_bench.py [--sizes 50000,200000]
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from conversations.archive import open_archive  # noqa: E402
from tests.archive_factory import generate_history, write_archive  # noqa: E402

CACHE = REPO / "var" / "bench"
PART_BYTES = 25 * 1024**2


def build(messages: int) -> Path:
    path = CACHE / f"archive-{messages}.zip"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    history = generate_history(
        messages=messages, conversations=max(40, messages // 250), media_every=50, seed=11
    )
    partial = path.with_suffix(".partial")
    write_archive(partial, history.one_to_one, history.groups, part_bytes=PART_BYTES)
    partial.rename(path)
    print(f"  built {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's VmHWM belongs to the process image, while getrusage's
    ru_maxrss carries over the parent's peak at fork (here, the parent that built the archive)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(path: Path, mode: str) -> dict:
    """Run in a child process: read the archive one way and report time and peak memory."""
    import ijson

    baseline = peak_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    events = 0
    with open_archive(path) as archive:
        files = archive.files
        if mode == "events":
            for _event in archive.events():
                events += 1
            media = archive.media_names
        else:
            for data_file in files:
                with archive._source.open(data_file.name) as raw:
                    if mode == "inflate":
                        while raw.read(1024**2):
                            pass
                    else:  # the parser alone: every parse event, nothing built
                        while raw.read(1) not in (b"=", b""):  # past "window.YTD…partN ="
                            pass
                        for _ in ijson.parse(raw):
                            pass
            media = []
    return {
        "seconds": time.perf_counter() - started,
        # On a shared machine wall time says more about the neighbours than about the code.
        "cpu_seconds": time.process_time() - cpu_started,
        "events": events,
        "files": len(files),
        "data_bytes": sum(f.size for f in files),
        "media": len(media),
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


def child(path: Path, mode: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(path), mode],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,200000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1])))
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"Archive reading, sizes {sizes} (archives in {CACHE.relative_to(REPO)}/)")
    rows = []
    for size in sizes:
        path = build(size)
        read = child(path, "events")
        inflate = child(path, "inflate")
        parse = child(path, "parse")
        rows.append((size, path, read, inflate, parse))

    print()
    print(
        f"{'messages':>9} {'zip MB':>7} {'data MB':>8} {'parts':>5} {'media':>6} "
        f"{'events/s':>9} {'read s':>7} {'floors: inflate s':>18} {'ijson only s':>13} "
        f"{'peak RSS MB':>12} {'(python+imports)':>17}"
    )
    for _size, path, read, inflate, parse in rows:
        for label, key in (("wall", "seconds"), ("cpu", "cpu_seconds")):
            print(
                f"{read['events']:>9,} {path.stat().st_size / 1e6:>7.1f} "
                f"{read['data_bytes'] / 1e6:>8.1f} {read['files']:>5} {read['media']:>6,} "
                f"{read['events'] / read[key]:>9,.0f} {read[key]:>7.2f} "
                f"{inflate[key]:>18.2f} {parse[key]:>13.2f} "
                f"{read['peak_rss_mb']:>12.1f} {read['baseline_rss_mb']:>17.1f}  {label}"
            )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        small, large = first[2]["peak_rss_mb"], last[2]["peak_rss_mb"]
        print(
            f"\n{last[0] / first[0]:.0f}x the messages: peak RSS {small:.1f} MB -> {large:.1f} MB "
            f"({large / small:.2f}x); {first[2]['baseline_rss_mb']:.1f} MB of it is Python and "
            "the imports, before reading"
        )


if __name__ == "__main__":
    main()
