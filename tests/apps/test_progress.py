"""Progress: a live bar on a terminal, whole lines (about ten) anywhere else."""

from __future__ import annotations

import io

from apps.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_output_gets_about_ten_whole_lines() -> None:
    out = io.StringIO()
    progress = Progress(20.0, desc="run", file=out)
    for k in range(1, 101):
        progress.update(0.2 * k, it=k)
    progress.close()
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and 9 <= len(lines) <= 11
    assert lines[0].startswith("run:  10.0% 2.0/20") and lines[-1].startswith("run: 100.0% 20.0/20")
    assert lines[-1].endswith("it=100")


def test_a_short_run_still_ends_with_its_last_state() -> None:
    out = io.StringIO()
    progress = Progress(20.0, desc="run", file=out)
    progress.update(0.5, it=1)  # interrupted early: below the first tenth
    progress.close()
    assert out.getvalue().splitlines() == ["run:   2.5% 0.5/20 "]


def test_a_terminal_gets_a_live_bar() -> None:
    out = Terminal()
    progress = Progress(4.0, desc="run", file=out)
    for k in range(1, 5):
        progress.update(float(k), mode="scan")
    progress.close()
    text = out.getvalue()
    assert "\r" in text and "4.0/4 s" in text and "mode=scan" in text


def test_a_slow_run_writes_a_line_every_interval() -> None:
    out = io.StringIO()
    now = [0.0]
    progress = Progress(100.0, desc="run", file=out, interval=30.0, clock=lambda: now[0])
    for k in range(1, 6):  # 1 % per update, 20 wall seconds each: below the 10 % steps
        now[0] += 20.0
        progress.update(float(k), it=k)
    lines = out.getvalue().splitlines()
    # Lines at 40 s (it=2) and 80 s (it=4): never more than 30 s of silence before an update.
    assert [line.split()[-1] for line in lines] == ["it=2", "it=4"]
