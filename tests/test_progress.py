"""Progress lines and the terminal bar: percent, elapsed, time left (a fake clock, no sleeping)."""

from __future__ import annotations

import io
import logging

import pytest

from tomobench.progress import Progress, format_duration, seconds_left


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture()
def records():
    logger = logging.getLogger("test_progress")
    logger.setLevel(logging.INFO)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler = Collect()
    logger.addHandler(handler)
    yield logger, lines
    logger.removeHandler(handler)


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (42.4, "42 s"), (59.4, "59 s"), (60, "1 min 00 s"), (185, "3 min 05 s"),
    (3599, "59 min 59 s"), (3600, "1 h 00 min"), (7620, "2 h 07 min"), (-3, "0 s"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_seconds_left_is_the_mean_pace_of_this_session():
    assert seconds_left(0, 10, 5.0) is None
    assert seconds_left(4, 10, 8.0) == pytest.approx(12.0)  # 2 s a step, 6 to go
    # resumed at step 100 of 200: 50 steps in 25 s, 50 to go -> 25 s (not 200 steps' pace)
    assert seconds_left(150, 200, 25.0, done_before=100) == pytest.approx(25.0)
    assert seconds_left(10, 10, 3.0) == 0.0


def test_logs_percent_elapsed_and_time_left_every_interval(records):
    logger, lines = records
    clock = FakeClock()
    progress = Progress("training step", 1600, logger, 30.0, clock=clock, stream=io.StringIO())
    for _ in range(849):
        clock.now += 0.02  # 849 steps in 16.98 s: no line yet
        progress.step()
    assert lines == []
    clock.now = 100.0 + 130.0  # step 850 after 130 s in all
    progress.step()
    assert lines == ["training step 850/1600 (53 %, elapsed 2 min 10 s, 1 min 54 s left, "
                     "152.9 ms each)"]
    clock.now += 10.0
    progress.step(": loss 0.5")
    assert len(lines) == 1  # 10 s after the last line: quiet
    clock.now += 20.0
    progress.step(": loss 0.4")
    assert len(lines) == 2 and lines[1].startswith("training step 852/1600 (53 %, elapsed 2 min")
    assert lines[1].endswith(": loss 0.4")


def test_resumed_loop_counts_earlier_steps_in_percent_only(records):
    logger, lines = records
    clock = FakeClock()
    progress = Progress("step", 100, logger, 0.0, done=50, clock=clock, stream=io.StringIO())
    clock.now += 10.0
    progress.step(count=25)
    assert lines == ["step 75/100 (75 %, elapsed 10 s, 10 s left, 400.0 ms each)"]


def test_terminal_bar_only_on_a_tty(records):
    logger, _ = records
    clock = FakeClock()
    plain = io.StringIO()
    Progress("rotation", 4, logger, clock=clock, stream=plain).step()
    assert plain.getvalue() == ""
    terminal = Terminal()
    progress = Progress("rotation", 4, logger, clock=clock, stream=terminal)
    clock.now += 1.0
    progress.step()
    assert terminal.getvalue().endswith("rotation [######..................] 1/4 25 % 3 s left")
    clock.now += 0.05  # within BAR_SECONDS of the last redraw: not redrawn
    progress.step()
    assert "2/4" not in terminal.getvalue()
    clock.now += 1.0
    progress.step(count=2)
    assert terminal.getvalue().endswith("rotation [########################] 4/4 100 % 0 s left\n")


def test_log_line_clears_the_bar_first(records):
    logger, lines = records
    clock = FakeClock()
    terminal = Terminal()
    progress = Progress("chunk", 10, logger, 30.0, clock=clock, stream=terminal)
    clock.now += 31.0
    progress.step()
    assert lines == ["chunk 1/10 (10 %, elapsed 31 s, 4 min 39 s left, 31000.0 ms each)"]
    assert terminal.getvalue().startswith("\r\x1b[K\r\x1b[Kchunk [")


def test_empty_loop_is_complete():
    progress = Progress("nothing", 0, logging.getLogger("x"), clock=FakeClock(),
                        stream=io.StringIO())
    assert progress.percent() == 100.0
    assert "0/0 (100 %" in progress.line()


def test_template_matching_chunk_logs_progress_over_its_rotations(caplog):
    import numpy as np
    from scipy.spatial.transform import Rotation

    from tomobench.methods.template_matching.correlation import LocalCorrelation
    from tomobench.methods.template_matching.templates import spherical_mask

    rng = np.random.default_rng(0)
    volume = rng.standard_normal((12, 12, 12)).astype(np.float32)
    template = rng.standard_normal((5, 5, 5)).astype(np.float32)
    rotations = Rotation.from_euler("ZXZ", [[0, 0, 0], [30, 40, 50], [60, 80, 100]],
                                    degrees=True)
    with caplog.at_level(logging.INFO, "tomobench.methods.template_matching.correlation"):
        LocalCorrelation(volume, spherical_mask(5, 2.0, 1.0)).search(
            [template], rotations, log_every_seconds=0.0)
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" (")[0] for line in lines] == [f"rotation {i}/3" for i in (1, 2, 3)]
    assert lines[0].startswith("rotation 1/3 (33 %, elapsed ") and " left, " in lines[0]
    assert lines[-1].startswith("rotation 3/3 (100 %, elapsed ") and ", 0 s left, " in lines[-1]
