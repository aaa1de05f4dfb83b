import time

from paperlib.timing import Timer


def test_steps_accumulate_and_the_total_covers_them():
    timer = Timer()
    for _ in range(2):
        with timer("step"):
            time.sleep(0.02)
    with timer("other"):
        pass
    assert 0.04 <= timer.times["step"] < 0.5 and timer.times["other"] < timer.times["step"]
    assert timer.total_s >= timer.times["step"] + timer.times["other"]
