"""Images compared across a legacy ``docker save`` (no manifest: the image is named by its
config digest) and an OCI layout: the same image is the same, whatever names it."""

from __future__ import annotations

from pathlib import Path

from . import exports as ex
from .conftest import run_cli
from .test_diff_core import diff_json

PLAIN = "application/vnd.oci.image.layer.v1.tar"  # as a legacy save stores layers
TARS = [ex.layer_tar({"a": b"one"}), ex.layer_tar({"b": b"two"})]


def test_a_legacy_save_of_the_same_image_is_no_difference(tmp_path: Path) -> None:
    image = ex.Image(TARS)
    oci = ex.to_dir(ex.oci([image], encode=lambda t: t, media=PLAIN), tmp_path / "oci")
    legacy = tmp_path / "legacy.tar"
    legacy.write_bytes(ex.to_tar(ex.legacy([image])))
    for old, new in ((oci, legacy), (legacy, oci)):
        code, doc, err = diff_json(old, new)
        assert (code, err, doc["differs"]) == (0, "", False)
        [pair] = doc["images"]
        assert pair["differs"] is False and pair["config"] == []
        assert [x["status"] for x in pair["layers"]] == ["shared", "shared"]
        assert [x["new_digest"] for x in pair["layers"]] == [ex.sha(t) for t in TARS]


def test_a_legacy_save_of_another_config_differs(tmp_path: Path) -> None:
    oci = ex.to_dir(ex.oci([ex.Image(TARS)], encode=lambda t: t, media=PLAIN), tmp_path / "o")
    legacy = tmp_path / "legacy.tar"
    written = ex.legacy([ex.Image(TARS)])
    config = written.files[written.config_name].replace(b'"layer 1"', b'"layer one"')
    del written.files[written.config_name]
    name = ex.sha(config).split(":")[1] + ".json"
    written.files[name] = config
    written.files["manifest.json"] = written.files["manifest.json"].replace(
        written.config_name.encode(), name.encode()
    )
    legacy.write_bytes(ex.to_tar(written))
    code, doc, err = diff_json(oci, legacy)
    assert (code, err, doc["differs"]) == (1, "", True)
    [pair] = doc["images"]
    assert pair["differs"] is True
    assert pair["config"] == [
        {"field": "history", "old": ["layer 0", "layer 1"], "new": ["layer 0", "layer one"]}
    ]


def test_a_platform_neither_export_has_is_refused(tmp_path: Path) -> None:
    """A mistyped platform paired nothing and said "no differences", exit 0."""
    old = ex.to_dir(ex.oci([ex.Image(TARS[:1])]), tmp_path / "old")
    new = ex.to_dir(ex.oci([ex.Image(TARS), ex.Image(TARS, arch="arm64")]), tmp_path / "new")
    run = run_cli("diff", "--platform", "linux/amd46", str(old), str(new))
    assert (run.code, run.out) == (2, "")
    assert run.err == "ocianalyze: --platform linux/amd46: no image of it in OLD or in NEW\n"
    code, doc, err = diff_json(old, new, "--platform", "linux/arm64")  # only NEW has it
    assert (code, err, doc["images"], doc["removed"]) == (1, "", [], [])
    assert [(r["name"], r["platform"]) for r in doc["added"]] == [
        ("example/app:1.0", "linux/arm64")
    ]


def test_standard_input_for_two_inputs_is_a_usage_error(tmp_path: Path) -> None:
    """The second reader found standard input drained: "not a tar archive", a wrong cause."""
    written = ex.oci([ex.Image(TARS[:1])])
    old = ex.to_dir(written, tmp_path / "old")
    usage = (
        "ocianalyze: usage: Invalid value: standard input (-) can be only one of OLD, NEW and"
        " --have (see python -m ocianalyze diff --help)\n"
    )
    for args in (("-", "-"), ("--have", "-", "-", str(old))):
        run = run_cli("diff", *args, stdin=ex.to_tar(written))
        assert (run.code, run.out, run.err) == (2, "", usage)
    run = run_cli("diff", "-", str(old), stdin=ex.to_tar(written))  # once is fine
    assert (run.code, run.err) == (0, "")
