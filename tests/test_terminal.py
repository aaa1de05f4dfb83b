import io

import nbformat

from paperlib.terminal import ProgressOnly, kernel_manager_logging_to

BAR_0 = "fits:   0%|          | 0/2 [00:00<?, ?it/s]"
BAR_1 = "fits:  50%|█████     | 1/2 [00:32<00:32, 32.95s/it]"
CLEAR = " " * len(BAR_1)


def _filtered(chunks: list[str]) -> str:
    terminal = io.StringIO()
    stream = ProgressOnly(terminal)
    for chunk in chunks:
        assert stream.write(chunk) == len(chunk)
    return terminal.getvalue()


def test_only_step_lines_and_bars_reach_the_terminal_whatever_the_chunks():
    """What a transferability run's kernel sends: TensorFlow and DeePMD-kit start-up logs, a library warning,
    a bar that noise interrupts, tqdm clearing its bar, and a step line whose newline comes in a chunk of its own."""
    chunks = ["WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
              "[paperlib 15:04:35] labels: started", "\n",
              "I0000 port.cc:153] oneDNN custom operations are on.\n",
              "\r" + BAR_0,
              "DeePMD-kit: Cannot find libcudart.so.12\n",
              "\r" + BAR_1,
              "\r" + CLEAR + "\r",
              "[paperlib 15:07:35] training: done after 170.6 s\n",
              "/x/e3nn/o3/_wigner.py:10: UserWarning: forcing weights_only=False.\n  torch.load(path)\n"]
    assert _filtered(chunks) == ("[paperlib 15:04:35] labels: started\n\r" + BAR_0 + "\r" + BAR_1 + "\r" + CLEAR
                                 + "\r[paperlib 15:07:35] training: done after 170.6 s\n")


def test_a_step_line_is_never_drawn_over():
    """A step line whose newline never came (noise took its place) is followed by a new line, not overwritten by
    the bar that comes next with its carriage return, nor joined by the next step line."""
    assert _filtered(["[paperlib 00:00:01] a: started", "noise", "\n", "\r" + BAR_0]) == \
        "[paperlib 00:00:01] a: started\n" + BAR_0
    assert _filtered(["[paperlib 00:00:01] a: started", "noise\n", "[paperlib 00:00:02] a: done after 1.0 s\n"]) == \
        "[paperlib 00:00:01] a: started\n[paperlib 00:00:02] a: done after 1.0 s\n"


class _Recorder:
    """A stream that keeps each write as one chunk, as the kernel sends tqdm's writes."""

    def __init__(self):
        self.chunks: list[str] = []

    def write(self, text: str) -> int:
        self.chunks.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_nested_tqdm_bars_and_step_lines_come_through_as_drawn_whatever_lines_come_between():
    """Real tqdm, an epoch bar inside a learning-curve bar (as the gradients study draws them), between two step
    lines: the filter passes this stream unchanged, and with a library's line after every write, even one split
    over two chunks or one sharing a chunk with a step line, the terminal receives the same."""
    from tqdm import tqdm

    out = _Recorder()
    out.write("[paperlib 10:00:00] curves: started")
    out.write("\n")
    for _ in tqdm(range(2), desc="learning curve", file=out, leave=False, mininterval=0):
        for _ in tqdm(range(3), desc="epochs", file=out, leave=False, mininterval=0):
            pass
    out.write("[paperlib 10:00:01] curves: done after 1.0 s\n")
    clean = out.chunks
    assert any("\x1b[A" in c for c in clean) and sum("epochs" in c for c in clean) >= 6  # nested, drawn
    noisy = []
    for i, chunk in enumerate(clean):
        noisy += [chunk, f"W0000 {i} library log\n", "a library's line split over ", "two chunks\n"]
    noisy[-1] = "a line with no newline before[paperlib 10:00:02] figures: started\n"
    assert _filtered(clean) == "".join(clean)
    assert _filtered(noisy) == "".join(clean) + "[paperlib 10:00:02] figures: started\n"


def test_a_kernel_keeps_its_own_output_in_the_log_and_the_terminal_gets_only_the_step_line(tmp_path, capfd):
    """Executed as run_study executes a chapter: what a C library writes to descriptor 2 reaches the kernel's log
    (and the chapter too, where ipykernel captures the descriptor, which it does not under pytest), a Python warning
    the chapter, and neither this process's terminal."""
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import os, sys, warnings\n"
        "os.write(2, b'noise from a C library\\n')\n"
        "warnings.warn('a library warning')\n"
        "print('[paperlib 00:00:00] step: started', file=sys.stderr, flush=True)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, log, terminal = tmp_path / "in.ipynb", tmp_path / "kernel.log", io.StringIO()
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(tmp_path / "out.ipynb"), progress_bar=False, kernel_name="python3",
                               stderr_file=ProgressOnly(terminal), kernel_manager_class=kernel_manager_logging_to(log))
    assert terminal.getvalue() == "[paperlib 00:00:00] step: started\n"
    shown = "".join(o.get("text", "") for o in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs)
    assert "a library warning" in shown
    assert "noise from a C library" in log.read_text()
    printed = capfd.readouterr()
    assert "noise from a C library" not in printed.err + printed.out and "IPKernelApp" not in printed.err
