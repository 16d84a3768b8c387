"""diff's text on very long names: every line fits 100 columns and still says what changed
(the kind of change, the file name at the end of the path, the verdict on the image), with
its middle elided and escapes kept whole."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

from . import exports as ex
from .conftest import run_cli

ESC_PATH = "d/" + "x" * 150 + "/\x1b[31m" + "\u202e" * 30 + "/name-" + "y" * 40
LONG_DIR = "e" * 90 + "/" + "z" * 20
TAG = "example/" + "n" * 120


def tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), ex.MTIME, 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def escaped(text: str) -> str:
    """ls --quoting-style=escape, for the characters used here."""
    return text.replace("\x1b", "\\033").replace("\u202e", "\\342\\200\\256")


def test_long_paths_keep_their_end_and_what_changed(tmp_path: Path) -> None:
    old = [tar({ESC_PATH: b"1" * 10, LONG_DIR: b"q"})]
    new = [tar({ESC_PATH: b"2" * 10, LONG_DIR: b"qq"})]
    a = ex.to_dir(ex.oci([ex.Image(old, TAG + ":1")]), tmp_path / "a")
    b = ex.to_dir(ex.oci([ex.Image(new, TAG + ":2")]), tmp_path / "b")
    run = run_cli("diff", str(a), str(b))
    assert run.code == 1 and run.err == ""
    lines = run.out.splitlines()
    assert max(map(len, lines)) <= 100
    for path, suffix in ((ESC_PATH, "  (content; 10 B)"), (LONG_DIR, "  (content,size; 1 -> 2 B)")):
        [line] = [x for x in lines if x.startswith("    ~ ") and x.endswith(suffix)]
        shown = line.removeprefix("    ~ ").removesuffix(suffix)
        head, tail = shown.split("…")
        full = escaped(path)
        assert full.startswith(head) and full.endswith(tail) and len(head) >= 20
        assert len(line) > 100 - len("\\342\\200\\256")  # the room is used, less one escape
    # the file name survives; an escape is whole or absent, never cut
    assert any(x.endswith("/name-" + "y" * 40 + "  (content; 10 B)") for x in lines)
    assert not re.search(r"\\(?!033|342|200|256)[0-7]", run.out)
    [header] = [x for x in lines if x.startswith("image ")]
    assert header.endswith(":2 linux/amd64: changed") and len(header) <= 100
    assert re.fullmatch(
        r"image example/n+…n+:1 linux/amd64 -> example/n+…n+:2 linux/amd64: changed", header
    )


def test_notices_are_one_line_per_side_as_verify_says_them() -> None:
    """Each notice had its own line on stderr (14 for this export against itself); verify
    and the README ("every problem goes to stderr as usual") give one count line."""
    from .conftest import SAMPLES

    sample = SAMPLES / "debootstrap"
    [layer] = [p for p in (sample / "blobs/sha256").iterdir() if p.stat().st_size > 4096]
    with tarfile.open(layer) as tf:
        members = tf.getmembers()
    setuid = sum(1 for m in members if m.mode & 0o6000)
    names = [m.name.rstrip("/").lower() for m in members]
    collisions = len(names) - len(set(names))
    assert (setuid, collisions) == (11, 1)  # what the sample was made with
    run = run_cli("diff", str(sample), str(sample))
    line = (
        f"ocianalyze: {sample}: notices: setuid_setgid \u00d7{setuid}, "
        f"case_collision \u00d7{collisions} (see report)\n"
    )
    assert (run.code, run.err) == (0, line * 2)


def test_config_values_are_escaped_once(tmp_path: Path) -> None:
    """A label's newline was written ``\\\\n`` in text (JSON's escape, then its backslash
    escaped again) and with eight backslashes in markdown."""
    from .test_diff_core import Image

    tars = [tar({"a": b"1"})]
    old = ex.to_dir(ex.oci([Image(tars, labels={"k": "a\nb|c\u202e"})]), tmp_path / "old")
    new = ex.to_dir(ex.oci([Image(tars, labels={"k": "a\\nb\x1b"})]), tmp_path / "new")
    text = run_cli("diff", str(old), str(new))
    assert text.code == 1 and text.err == ""
    assert '    label.k: "a\\nb|c\\342\\200\\256" -> "a\\\\nb\\u001b"\n' in text.out
    md = run_cli("diff", "--format", "markdown", str(old), str(new))
    assert '| label.k | "a\\\\nb\\|c\\\\342\\\\200\\\\256" | "a\\\\\\\\nb\\\\u001b" |\n' in md.out
    assert "\x1b" not in text.out + md.out and "\u202e" not in text.out + md.out
