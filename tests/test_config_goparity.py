"""configtypes.py against Go's encoding/json: a config is bad metadata exactly when Go cannot
unmarshal it into the image-spec types (tests/goconfig/main.go), as Docker and containerd
then refuse it. Skips where `go` is not installed; CI installs Debian's golang-go."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ocianalyze.configtypes import check_config_types
from ocianalyze.errors import BadManifest

from . import exports as ex
from .conftest import run_cli
from .gotar import build_go

MAIN = Path(__file__).parent / "goconfig" / "main.go"
DIFF_ID = "sha256:" + "ab" * 32


class GoJSON:
    """One long-running goconfig process: a document in, "ok" or "error ..." out."""

    def __init__(self, exe: Path) -> None:
        self.proc = subprocess.Popen(
            [str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def accepts(self, docs: list[bytes]) -> list[bool]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("".join(d.hex() + "\n" for d in docs))
        self.proc.stdin.flush()
        return [self.proc.stdout.readline().startswith("ok") for _ in docs]


@pytest.fixture(scope="module")
def go_json(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoJSON]:
    exe = build_go(MAIN, tmp_path_factory.mktemp("goconfig"))
    reader = GoJSON(exe)
    yield reader
    assert reader.proc.stdin is not None
    reader.proc.stdin.close()
    reader.proc.wait(timeout=30)


def ours(doc: dict[str, Any]) -> bool:
    try:
        check_config_types(doc, "config")
    except BadManifest:
        return False
    return True


# Times every Go since 1.20 (strict RFC 3339, what Docker is built with) and the Go 1.19 of
# Debian's golang-go agree on: no "," fraction, no one-digit hour, no 24-hour offset.
TIMES = [
    "2024-02-29T03:04:05Z",
    "2024-01-02T03:04:05.123456789Z",
    "2024-01-02T03:04:05+02:00",
    "1999-12-31T23:59:59-07:30",
    "2023-02-29T03:04:05Z",
    "2024-13-02T03:04:05Z",
    "2024-01-02T03:04:60Z",
    "2024-04-31T00:00:00Z",
    "2024-01-02",
    "2024-01-02 03:04:05Z",
    "2024-01-02T03:04:05",
    "2024-01-02t03:04:05z",
    "",
    "yesterday",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "a=b", "x"]),
    st.sampled_from(TIMES),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["k", "80/tcp"]), inner, max_size=2),
    ),
    max_leaves=6,
)
RUN_KEYS = ["User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
            "Labels", "StopSignal", "ArgsEscaped", "env", "LABELS", "Unknown"]  # fmt: skip
HISTORY_KEYS = ["created", "created_by", "author", "comment", "empty_layer", "Created"]
TOP_KEYS = ["created", "author", "os.version", "os.features", "variant", "Created", "Extra"]


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [DIFF_ID]},
    }
    doc |= draw(st.dictionaries(st.sampled_from(TOP_KEYS), VALUES, max_size=2))
    if draw(st.booleans()):
        doc["config"] = draw(
            st.one_of(st.dictionaries(st.sampled_from(RUN_KEYS), VALUES, max_size=3), VALUES)
        )
    if draw(st.booleans()):
        entry = st.dictionaries(st.sampled_from(HISTORY_KEYS), VALUES, max_size=3)
        doc["history"] = draw(st.one_of(st.lists(entry, max_size=2), VALUES))
    return doc


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(configs(), min_size=50, max_size=50))
def test_configs_are_refused_exactly_when_go_cannot_unmarshal_them(
    go_json: GoJSON, docs: list[dict[str, Any]]
) -> None:
    verdicts = go_json.accepts([json.dumps(d).encode() for d in docs])
    for doc, go_ok in zip(docs, verdicts, strict=True):
        assert ours(doc) == go_ok, doc


def test_known_configs(go_json: GoJSON) -> None:
    base = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    cases = [
        ({"config": {"Env": ["A=1", None]}}, True),  # null: an empty string, no error
        ({"config": {"Env": ["A=1", 5]}}, False),
        ({"config": {"env": [True]}}, False),  # Go matches the key case-insensitively
        ({"config": {"Labels": {"a": None}}}, True),
        ({"config": {"Labels": {"a": ["x"]}}}, False),
        ({"config": {"ExposedPorts": {"80/tcp": {}}}}, True),
        ({"config": {"ExposedPorts": {"80/tcp": "yes"}}}, False),
        ({"created": "2024-01-02T03:04:05Z"}, True),
        ({"created": "2024-01-02"}, False),
        ({"created": "2024-02-29T00:00:00Z"}, True),  # a leap day
        ({"created": "2023-02-29T00:00:00Z"}, False),
        ({"history": [{"created": "2024-04-31T00:00:00+01:00"}]}, False),
        ({"history": [{"created": "2024-01-02T03:04:05.5-07:30"}]}, True),
        ({"history": [{"empty_layer": "true"}]}, False),
        ({"config": None, "history": None, "created": None}, True),
    ]
    docs = [base | extra for extra, _ in cases]
    assert go_json.accepts([json.dumps(d).encode() for d in docs]) == [ok for _, ok in cases]
    assert [ours(d) for d in docs] == [ok for _, ok in cases]


def test_verify_reports_a_config_docker_cannot_load(tmp_path: Path) -> None:
    """The handed shape: Env holding a number. verify must not say OK."""
    extra = {"config": {"Env": ["PATH=/bin", 5]}}
    image = ex.Image([ex.layer_tar({"a": b"a"})], tag="app:1", config_extra=extra)
    root = ex.to_dir(ex.oci([image]), tmp_path / "x")
    run = run_cli("verify", "--format", "json", str(root))
    assert run.code == 1, run.err
    kinds = [(p["kind"], p["message"]) for p in run.json()["problems"]]
    assert any(k == "bad_metadata" and "'Env'" in m for k, m in kinds), kinds
