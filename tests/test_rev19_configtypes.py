"""configtypes.py on the configs real builders write (no false refusal) and on keys Go matches
through Unicode case folding (no miss), each verdict also held to Go's encoding/json
(tests/goconfig/main.go) where `go` is installed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .test_config_goparity import GoJSON, go_json, ours

__all__ = ["go_json"]  # the fixture, used by name below

BASE: dict[str, Any] = {
    "architecture": "amd64",
    "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "ab" * 32]},
}

# Docker's classic builder: container_config, Healthcheck (durations are numbers), OnBuild,
# Shell, StopTimeout and the rest of Docker's container.Config, unknown to the image-spec.
DOCKER = {
    "created": "2016-03-01T18:43:44.493427011Z",
    "docker_version": "1.10.2",
    "container": "3b1c",
    "container_config": {
        "Hostname": "x", "AttachStdin": False, "Env": ["A=1"], "Cmd": ["/bin/sh", "-c", "#(nop)"],
        "Image": "sha256:00", "Volumes": None, "OnBuild": None, "Labels": {},
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30000000000},
        "Shell": ["/bin/sh", "-c"], "StopTimeout": 10, "ExposedPorts": {"80/tcp": {}},
    },
    "config": {
        "Hostname": "", "User": "", "Tty": False, "Env": None, "Cmd": ["nginx"],
        "Healthcheck": {"Test": ["NONE"]}, "ArgsEscaped": True, "Volumes": None,
        "Entrypoint": None, "OnBuild": [], "Labels": None, "StopSignal": "SIGQUIT",
        "Shell": ["cmd"], "StopTimeout": 5, "ExposedPorts": {"80/tcp": None},
    },
    "history": [{"created": "2016-03-01T18:43:44.493427011Z", "empty_layer": True}],
    "Size": 0,
    "id": "x",
}  # fmt: skip
WINDOWS = {
    "os": "windows",
    "os.version": "10.0.17763.5820",
    "os.features": ["win32k"],
    "created": "2024-05-09T17:53:34.0413377-07:00",
}
COSIGN = {  # a signature image's config (go-containerregistry's zero time)
    "architecture": "",
    "os": "",
    "created": "0001-01-01T00:00:00Z",
    "history": [{"created": "0001-01-01T00:00:00Z"}],
    "config": {},
}
ACCEPTED = [
    DOCKER,
    WINDOWS,
    COSIGN,
    {"created": "0000-02-29T00:00:00Z"},  # year 0 is a leap year for Go
    {"created": "1970-01-01T00:00:01Z"},  # nix, ko, kaniko reproducible builds
    {"created": "2024-01-02T03:04:05.1234567891234+05:45"},  # past nanoseconds, odd offset
    {"created": "2024-01-02T03:04:05-00:00"},
    {"created": "2024-01-02T03:04:05+23:59"},
]
# Go folds the long s with "s" (and the Kelvin sign with "k"): these keys are the fields.
FOLDED = [
    ({"config": {"U\u017fer": 5}}, False),
    ({"config": {"Expo\u017fedPorts": []}}, False),
    ({"config": {"Wor\u212aingDir": 5}}, False),
    ({"config": {"U\u017fer": "app"}}, True),
    ({"hi\u017ftory": "x"}, False),
    ({"history": [{"empty_layer": True, "created_by": "a", "EMPTY_LAYER": 1}]}, False),
]


def test_builders_configs_are_accepted() -> None:
    assert [ours(BASE | c) for c in ACCEPTED] == [True] * len(ACCEPTED)


def test_keys_matched_through_unicode_folding() -> None:
    assert [ours(BASE | c) for c, _ in FOLDED] == [ok for _, ok in FOLDED]


@pytest.mark.parametrize("cases", [[(c, True) for c in ACCEPTED], FOLDED])
def test_go_agrees(go_json: GoJSON, cases: list[tuple[dict[str, Any], bool]]) -> None:
    docs = [json.dumps(BASE | c).encode() for c, _ in cases]
    assert go_json.accepts(docs) == [ok for _, ok in cases]
