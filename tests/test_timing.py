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


def test_each_step_announces_its_start_and_its_wall_time_on_stderr(capsys):
    timer = Timer()
    with timer("labelling"):
        time.sleep(0.02)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].endswith("labelling: started")
    took = float(lines[1].split("after ")[1].removesuffix(" s"))
    assert lines[1].split("] ")[1].startswith("labelling: done") and abs(took - timer.times["labelling"]) <= 0.05
    with timer("quiet"), Timer(quiet=True)("silent"):
        pass
    assert "silent" not in capsys.readouterr().err
