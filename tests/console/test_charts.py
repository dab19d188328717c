"""The dashboard's charts: whole-number y-axis ticks at round steps, day labels thinned so they never overlap."""
from __future__ import annotations

import re

import pytest

from adapters.console.charts import FRAMES, label_step, nice_ticks, stacked_bars


@pytest.mark.parametrize("peak, ticks", [
    (0, [0, 1, 2, 3, 4]), (1, [0, 1, 2, 3, 4]), (5, [0, 1, 2, 3, 4, 5]), (7, [0, 2, 4, 6, 8]),
    (18, [0, 5, 10, 15, 20]), (20, [0, 5, 10, 15, 20]), (21, [0, 5, 10, 15, 20, 25]), (37, [0, 10, 20, 30, 40]),
    (100, [0, 20, 40, 60, 80, 100]), (101, [0, 25, 50, 75, 100, 125]), (2.4, [0, 1, 2, 3, 4]),
    (12_345, [0, 2500, 5000, 7500, 10000, 12500]),
])
def test_y_ticks_are_whole_round_steps_from_zero_past_the_peak(peak, ticks):
    assert nice_ticks(peak) == ticks


@pytest.mark.parametrize("peak", [0, 1, 3, 9, 19, 47, 333, 999, 1001, 54_321, 7_654_321])
def test_every_peak_gets_five_or_six_labelled_ticks_of_one_whole_step_covering_it(peak):
    ticks = nice_ticks(peak)
    steps = {b - a for a, b in zip(ticks, ticks[1:])}
    assert 5 <= len(ticks) <= 6 and ticks[0] == 0 and ticks[-1] >= peak and len(steps) == 1
    step = steps.pop()
    assert isinstance(step, int) and re.fullmatch(r"(1|2|25|5)0*", str(step))


@pytest.mark.parametrize("days, room, label, step", [(7, 910, 50, 1), (30, 910, 50, 2), (90, 910, 50, 5),
                                                     (30, 310, 50, 5), (90, 310, 50, 15), (366, 310, 50, 90)])
def test_day_labels_are_thinned_to_a_round_step_that_fits(days, room, label, step):
    assert label_step(days, room, label) == step
    assert -(-days // step) * label <= room + label  # the labels shown fit side by side


def test_the_bar_chart_draws_a_wide_and_a_phone_frame_with_gridlines_and_today_labelled():
    days = [f"2026-03-{d:02d}" for d in range(1, 31)]
    html = stacked_bars(days, {"web": [d % 7 for d in range(30)], "telegram": [3] * 30}, "每日消息数")
    assert html.count('role="img"') == len(FRAMES) and 'class="wide"' in html and 'class="narrow"' in html
    wide, narrow = html.split('<svg class="narrow"')
    narrow = narrow.split('<ul class="legend">')[0]
    y_labels = re.findall(r'class="tick y">(\d+)</text>', wide)
    assert y_labels == ["0", "2", "4", "6", "8", "10"]  # peak 6 + 3 = 9
    assert wide.count('class="gridline"') == 5 and wide.count('class="axis"') == 1
    x_wide, x_narrow = (re.findall(r'class="tick x">([\d-]+)</text>', part) for part in (wide, narrow))
    assert x_wide[-1] == x_narrow[-1] == "03-30" and len(x_wide) == 15 and len(x_narrow) == 6
    assert "<title>2026-03-30 web: 1</title>" in html
