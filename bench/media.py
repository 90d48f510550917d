"""Benchmark the media pipeline on a generated 1080p H.264 + AAC recording.

HLS packaging is measured against bare ``ffmpeg -c copy -f hls`` (fMP4, 4 s) on the same file
in the same run (goal: our speed >= 0.8x bare); package_hls includes the playback self-check
(transcode/selfcheck.py), whose own cost is reported beside it (goal: <= 10% of the packaging
time of a stream-copied item); trickplay and waveform in x real time (trickplay
goal >= 100x with a 2 s keyframe interval). Also measures, once, the two alternatives the
code chose between: a PyAV in-process remux vs the ffmpeg binary for stream copy, and seeking vs
sequential decoding for trickplay when keyframes are sparse.

    .venv/bin/python bench/media.py --minutes 10 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av  # noqa: E402

from transcode._tools import ffmpeg_exe  # noqa: E402
from transcode.hls import package_hls  # noqa: E402
from transcode.probe import probe  # noqa: E402
from transcode.trickplay import make_trickplay  # noqa: E402
from transcode.waveform import make_waveform  # noqa: E402


def generate(path: Path, minutes: float, gop_s: float, size: str = "1920x1080") -> Path:
    """A testsrc2 + sine recording, H.264 ultrafast, fixed GOP, AAC; cached by name."""
    if path.exists():
        return path
    seconds = minutes * 60
    gop = str(round(25 * gop_s))
    tmp = path.with_suffix(".partial.mp4")
    print(f"generating {path} ({minutes:g} min {size}, gop {gop_s:g} s) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
            str(tmp),
        ],
        check=True,
    )  # fmt: skip
    tmp.rename(path)
    print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def bare_ffmpeg_hls(src: Path, out: Path) -> None:
    out.mkdir(parents=True)
    subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-i", str(src), "-c", "copy", "-f", "hls",
            "-hls_segment_type", "fmp4", "-hls_time", "4", "-hls_playlist_type", "vod",
            str(out / "index.m3u8"),
        ],
        check=True,
    )  # fmt: skip


def pyav_remux_hls(src: Path, out: Path) -> None:
    """The in-process alternative: PyAV demux -> hls muxer with stream templates."""
    out.mkdir(parents=True)
    options = {
        "hls_segment_type": "fmp4",
        "hls_time": "4",
        "hls_playlist_type": "vod",
        "hls_flags": "independent_segments",
        "hls_fmp4_init_filename": "init.mp4",
        "hls_segment_filename": str(out / "seg-%05d.m4s"),
    }
    with (
        av.open(str(src)) as inp,
        av.open(str(out / "index.m3u8"), "w", format="hls", options=options) as outp,
    ):
        streams = [inp.streams.video[0], *inp.streams.audio[:1]]
        mapping = {s.index: outp.add_stream_from_template(s) for s in streams}
        for packet in inp.demux(streams):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            outp.mux(packet)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--src", type=Path, help="use this recording instead of generating one")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "custodian-bench")
    ap.add_argument("--sparse-minutes", type=float, default=1.0,
                    help="length of the 10 s-GOP file for the sparse-keyframe comparison")  # fmt: skip
    args = ap.parse_args()

    args.cache.mkdir(parents=True, exist_ok=True)
    src = args.src or generate(args.cache / f"bench-{args.minutes:g}min-1080p.mp4", args.minutes, 2)
    t_probe, p = timed(probe, src)
    duration = p.duration_s or 0.0
    size_mb = src.stat().st_size / 1e6
    print(f"source: {src} ({duration:.0f} s, {size_mb:.0f} MB); probe {t_probe * 1000:.0f} ms")

    work = Path(tempfile.mkdtemp(prefix="custodian-bench-", dir=args.cache))
    bare: list[float] = []
    ours: list[float] = []
    pyav: list[float] = []
    checks: list[float] = []
    packaging: list[float] = []
    check_cpu: list[float] = []
    packaging_cpu: list[float] = []
    try:
        for i in range(args.rounds):
            t, _ = timed(bare_ffmpeg_hls, src, work / f"bare{i}")
            bare.append(t)
            c0 = time.process_time()
            t, rendition = timed(package_hls, src, work / f"ours{i}", p)
            cpu = time.process_time() - c0
            ours.append(t)
            check_cpu.append(rendition.check.cpu_s)
            packaging_cpu.append(cpu - rendition.check.cpu_s)
            checks.append(rendition.check.elapsed_s)
            packaging.append(t - rendition.check.elapsed_s)
            t, _ = timed(pyav_remux_hls, src, work / f"pyav{i}")
            pyav.append(t)
            shutil.rmtree(work / f"bare{i}")
            shutil.rmtree(work / f"ours{i}")
            shutil.rmtree(work / f"pyav{i}", ignore_errors=True)
            print(
                f"  round {i + 1}: bare {bare[-1]:.2f} s, package_hls {ours[-1]:.2f} s, pyav remux {pyav[-1]:.2f} s",
                flush=True,
            )

        tp_times: list[float] = []
        for i in range(args.rounds):
            t, tp = timed(make_trickplay, src, work / f"tp{i}", p)
            tp_times.append(t)
        wf_times: list[float] = []
        for i in range(args.rounds):
            t, wf = timed(make_waveform, src, work / f"wf{i}.json", p)
            wf_times.append(t)

        sparse = generate(args.cache / f"bench-sparse-{args.sparse_minutes:g}min.mp4",
                          args.sparse_minutes, 10)  # fmt: skip
        sp = probe(sparse)
        strategies = {}
        for strategy in ("keyframes", "decode", "seek"):
            t, r = timed(make_trickplay, sparse, work / f"sparse-{strategy}", sp, strategy=strategy)
            strategies[strategy] = (t, len(r.cues))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med_bare, med_ours = statistics.median(bare), statistics.median(ours)
    rows = [
        ("bare ffmpeg -c copy -f hls", f"{med_bare:.2f} s", f"{duration / med_bare:.0f}x rt", ""),
        ("package_hls (copy, hashed)", f"{med_ours:.2f} s", f"{duration / med_ours:.0f}x rt",
         f"speed ratio {med_bare / med_ours:.2f}x of bare (goal >= 0.8)"),
        ("  of which self-check", f"{statistics.median(checks):.2f} s",
         f"{duration / statistics.median(checks):.0f}x rt",
         f"{100 * statistics.median(c / q for c, q in zip(checks, packaging, strict=True)):.1f}% "
         f"of packaging without it (goal <= 10%); step {rendition.step}, "
         f"{'full decode' if rendition.check.full_decode else 'first frames of each segment'}"),
        ("  self-check, CPU time", f"{statistics.median(check_cpu):.2f} s", "",
         f"{100 * statistics.median(c / q for c, q in zip(check_cpu, packaging_cpu, strict=True)):.1f}% "
         f"of the packaging's CPU time ({statistics.median(packaging_cpu):.2f} s); "
         "wall times swing with the load of a shared machine"),
        ("bare PyAV in-process remux", f"{statistics.median(pyav):.2f} s",
         f"{duration / statistics.median(pyav):.0f}x rt",
         f"{med_bare / statistics.median(pyav):.2f}x of bare"),
        ("trickplay (keyframes)", f"{statistics.median(tp_times):.2f} s",
         f"{duration / statistics.median(tp_times):.0f}x rt",
         f"{len(tp.cues)} cues, {len(tp.sheets)} sheets (goal >= 100x)"),
        ("waveform", f"{statistics.median(wf_times):.2f} s",
         f"{duration / statistics.median(wf_times):.0f}x rt", f"{wf.peak_count} peaks"),
    ]  # fmt: skip
    sparse_dur = sp.duration_s or 1.0
    for strategy, (t, n) in strategies.items():
        rows.append((f"trickplay sparse GOP 10 s: {strategy}", f"{t:.2f} s",
                     f"{sparse_dur / t:.0f}x rt", f"{n} cues"))  # fmt: skip
    print()
    print(
        f"{args.rounds} rounds, medians; source {duration:.0f} s 1080p25 H.264+AAC, {size_mb:.0f} MB"
    )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("step", "time", "speed", "note")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    os.environ.setdefault("AV_LOG_FORCE_NOCOLOR", "1")
    main()
