"""diff's Done-when on umoci-built versions that share their base layer.

The umoci test of the issue (test_diff_umoci) recompresses NEW's base layer, so OLD and NEW
share no blob and its ``comm`` check would pass even if OLD's blobs were never counted as held.
Here v1 and v2 are left as umoci wrote them (one base layer, the same digest on both sides):
the transfer delta must equal the bytes of the blobs ``comm -13`` over ``ls blobs/sha256``
finds only in NEW, and the text output must name exactly the changed files and the size
deltas, computed independently (tarfile, hashlib, the blob files' sizes).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import run_cli
from .test_diff_umoci import build_versions, layer_tars, manifest_of, tool, truth

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("umoci") is None, reason="needs umoci on PATH"),
]


def build(work: Path) -> tuple[Path, Path]:
    """OLD holds v1, NEW holds v2, both on one base layer written once by umoci."""
    layout = build_versions(work)
    index = json.loads((layout / "index.json").read_text())
    sides = []
    for tag, name in (("v1", "old"), ("v2", "new")):
        side = work / name
        shutil.copytree(layout, side)
        keep = [m for m in index["manifests"] if m["annotations"][REF] == tag]
        (side / "index.json").write_text(json.dumps({**index, "manifests": keep}))
        tool("umoci", "gc", "--layout", side)
        sides.append(side)
    return sides[0], sides[1]


REF = "org.opencontainers.image.ref.name"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("umoci-shared"))


def comm(old: Path, flag: str) -> list[str]:
    script = f"comm {flag} <(ls old/blobs/sha256 | sort) <(ls new/blobs/sha256 | sort)"
    return tool("bash", "-c", script, cwd=old.parent).split()


def test_transfer_delta_is_the_blobs_only_new_has(built: tuple[Path, Path]) -> None:
    old, new = built
    shared, only_new = comm(old, "-12"), comm(old, "-13")
    base = manifest_of(new, "v2")["layers"][0]["digest"].split(":")[1]
    assert base in shared  # the exports do share their base: the check below means something
    run = run_cli("diff", "--format", "json", str(old), str(new))
    assert run.code == 1, run.err
    d = json.loads(run.out)["delta"]
    expected = sum((new / "blobs" / "sha256" / h).stat().st_size for h in only_new)
    assert d["missing_bytes"] == expected
    assert sorted(b["digest"].split(":")[1] for b in d["missing"]) == sorted(only_new)
    everything = sum(p.stat().st_size for p in (new / "blobs" / "sha256").iterdir())
    assert (d["bytes"], d["missing_blobs"]) == (everything, len(only_new))


def human(n: int) -> str:
    """Powers of 1000, one decimal, signed (README: Sizes): written here from the rule."""
    sign = "+" if n > 0 else "-"
    n = abs(n)
    if n < 1000:
        return f"{sign}{n:.1f} B"
    return f"{sign}{n / 1000:.1f} KB"


def stored(layout: Path, tag: str) -> int:
    return sum(layer["size"] for layer in manifest_of(layout, tag)["layers"])


def files_lines(text: str) -> list[str]:
    """The file change lines under the image's ``files:`` line (text output)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  files: "))
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        out.append(line)
    return out


def test_text_names_exactly_the_changed_files_and_the_size_deltas(
    built: tuple[Path, Path],
) -> None:
    old, new = built
    run = run_cli("diff", str(old), str(new))
    assert run.code == 1, run.err
    mark = {"added": "+", "removed": "-", "changed": "~"}
    expected = truth(old, new)
    got = [(line[4], line[6:].split("  (")[0]) for line in files_lines(run.out)]
    assert got == [(mark[change], path) for path, change, _ in expected]
    assert "    ~ app/config  (content; 9 B)" in run.out.splitlines()  # same size, new bytes
    rows = {line.split()[0]: line.split() for line in run.out.splitlines() if line[:4] == "    "}
    size = stored(new, "v2") - stored(old, "v1")
    assert rows["size"][-2:] == human(size).split()
    raw = sum(map(len, layer_tars(new, manifest_of(new, "v2")))) - sum(
        map(len, layer_tars(old, manifest_of(old, "v1")))
    )
    assert rows["uncompressed_size"][-2:] == human(raw).split()
    last = run.out.splitlines()[-1]
    counts = {c: sum(1 for _, x, _ in expected if x == c) for c in mark}
    files = f"files: +{counts['added']} -{counts['removed']} ~{counts['changed']}"
    assert last.startswith("summary: differences; images: 1 changed, 0 same, 0 added, 0 removed;")
    assert files in last
