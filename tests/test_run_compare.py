"""How new outputs are compared with saved ones, and how failed runs are classed (no kernel needed)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from nbsql.execute.compare import compare, normalise, same_image
from nbsql.execute.failures import classify


def _png(size=(40, 30), changed: int = 0, colour=(200, 30, 30)) -> str:
    image = Image.new("RGB", size, colour)
    for x in range(changed):
        image.putpixel((x % size[0], x // size[0]), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _image(data: str) -> dict:
    return {"output_type": "display_data", "data": {"image/png": data, "text/plain": "<Figure size 640x480>"},
            "metadata": {}}


@pytest.mark.parametrize("saved, new", [
    ("<object at 0x7f3b2c1d5e50>", "<object at 0x55d0aa01ff10>"),
    ("ran at 2024-03-01 10:00:02.123", "ran at 2026-12-05T04:22:03Z"),
    ("CPU times: user 1.2 s, sys: 30 ms\nWall time: 1.5 s", "CPU times: user 900 ms, sys: 12 ms\nWall time: 2 s"),
    # IPython writes microseconds with the micro sign (U+00B5) or, in newer versions, the Greek mu (U+03BC)
    ("CPU times: user 8 \u00b5s, sys: 2 \u00b5s\nWall time: 12.6 \u00b5s", "CPU times: user 4 \u03bcs, sys: 1 \u03bcs\nWall time: 7.87 \u03bcs"),
    (" 45%|████▌     | 45/100 [00:01<00:02]\ndone", "100%|██████████| 100/100 [00:03<00:00]\ndone"),
    ("saved to /tmp/tmpa1b2c3/out.csv", "saved to /var/folders/x1/T/tmpzz/out.csv"),
    ("\x1b[31mred\x1b[0m", "red"),
    ("step 1\rstep 2\rdone", "done"),
])
def test_noise_is_normalised_away(saved, new):
    assert normalise(saved) == normalise(new)


@pytest.mark.parametrize("saved, new", [("total: 10", "total: 11"), ("0.5488135039273248", "0.6998816015707334"),
                                        ("took 3 attempts", "took 4 attempts")])
def test_real_differences_stay(saved, new):
    assert normalise(saved) != normalise(new)


def test_the_run_folder_is_masked():
    assert normalise("/tmp/nbsql-run-x/folder/data.csv", ["/tmp/nbsql-run-x/folder"]) == \
        normalise("/home/me/project/data.csv", ["/home/me/project"])


def test_images_are_compared_by_decoded_pixels():
    assert same_image(_png(), _png(changed=0))
    assert same_image(_png(), _png(changed=5)), "5 of 1,200 pixels is within the 1% tolerance"
    assert not same_image(_png(), _png(changed=60))
    assert not same_image(_png(), _png(size=(41, 30)))
    assert same_image(_png(colour=(200, 30, 30)), _png(colour=(205, 28, 33))), "a shade within 16 levels"
    assert not same_image(_png(), "bm90IGFuIGltYWdl")


def test_cell_verdicts():
    assert compare([], []).verdict == "same"
    assert compare([_stream("a")], []).verdict == "missing"
    assert compare([], [_stream("a")]).verdict == "new"
    assert compare([_stream("a\n"), _image(_png())], [_stream("a"), _image(_png(changed=3))]).verdict == "same"
    different = compare([_stream("a"), _image(_png())], [_stream("b"), _image(_png(changed=300))])
    assert (different.verdict, different.differences) == ("different", ("text", "image"))
    error = {"output_type": "error", "ename": "KeyError", "evalue": "'x'", "traceback": []}
    assert compare([_stream("a")], [_stream("a"), error]).differences == ("error",)
    html = {"output_type": "execute_result", "data": {"text/html": "<b>1</b>", "text/plain": "1"}, "metadata": {}}
    assert compare([html], [{**html, "data": {"text/html": "<b>2</b>", "text/plain": "1"}}]).differences == ("data",)


@pytest.mark.parametrize("status, name, value, expected", [
    ("ok", None, None, None),
    ("error", "ModuleNotFoundError", "No module named 'sklearn.datasets'", ("missing-module", "sklearn")),
    ("error", "ImportError", "cannot import name 'x' from 'y'", ("code", None)),
    # pandas' words for the libraries it imports when asked to (seen running the shared corpus)
    ("error", "ImportError", 'matplotlib is required for plotting when the default backend "matplotlib" is selected.',
     ("missing-module", "matplotlib")),
    ("error", "ImportError", "Missing optional dependency 'openpyxl'.  Use pip or conda to install openpyxl.",
     ("missing-module", "openpyxl")),
    ("error", "ValueError", "matplotlib is required for this", ("code", None)),
    ("error", "FileNotFoundError", "[Errno 2] No such file or directory: 'data.csv'", ("missing-file", None)),
    ("error", "OSError", "[Errno 28] No space left on device", ("code", None)),
    ("error", "OSError", "File b'x.csv' does not exist", ("missing-file", None)),
    ("error", "URLError", "<urlopen error [Errno -3] Temporary failure in name resolution>", ("network", None)),
    ("error", "ConnectionError", "HTTPSConnectionPool: Max retries exceeded", ("network", None)),
    ("error", "MemoryError", "", ("out-of-memory", None)),
    ("timeout", "TimeoutError", "", ("timeout", None)),
    ("kernel-missing", "NoSuchKernel", "", ("missing-kernel", None)),
    ("crashed", "DeadKernelError", "Kernel died", ("kernel-died", None)),
    ("error", "ZeroDivisionError", "division by zero", ("code", None)),
])
def test_failure_classes(status, name, value, expected):
    failure = classify(status, name, value)
    assert (failure and (failure.failure_class, failure.missing_module)) == expected
