"""The small rules of diff: digest lists, repositories of refs, pairing, file aspects."""

from __future__ import annotations

import hashlib
import json

import pytest

from ocianalyze.diff import _repository
from ocianalyze.diff.delta import looks_like_list, parse_list
from ocianalyze.diff.files import aspects
from ocianalyze.diff.result import Aspect, FileState
from ocianalyze.errors import OciError

from .conftest import SAMPLES, run_cli

HEX = hashlib.sha256(b"x").hexdigest()


def test_digest_lists() -> None:
    lines = [
        "# what the site imported",
        "",
        f"sha256:{HEX}",
        f"{HEX.upper()}",  # `ls blobs/sha256`, any case
        f"{hashlib.sha256(b'y').hexdigest()}  blobs/sha256/y",  # sha256sum output
        f"sha512:{hashlib.sha512(b'z').hexdigest()} # a comment",
    ]
    assert parse_list(lines, "list") == {
        f"sha256:{HEX}",
        f"sha256:{hashlib.sha256(b'y').hexdigest()}",
        f"sha512:{hashlib.sha512(b'z').hexdigest()}",
    }
    with pytest.raises(OciError, match="line 2: not a digest"):
        parse_list([f"sha256:{HEX}", "latest"], "list")
    assert looks_like_list(f"sha256:{HEX}\n".encode())
    assert not looks_like_list((SAMPLES / "oci-archive.tar").read_bytes()[:4096])


@pytest.mark.parametrize(
    ("ref", "repository"),
    [
        ("app:1", "app"),
        ("docker.io/example/app:2.0", "docker.io/example/app"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("localhost:5000/app:3", "localhost:5000/app"),
        ("app@sha256:" + HEX, "app"),
        ("1.0", ""),  # an OCI ref.name that is a tag alone
    ],
)
def test_repository_of_a_ref(ref: str, repository: str) -> None:
    assert _repository(ref) == repository


def state(**kw: object) -> FileState:
    base = {"type": "file", "size": 3, "mode": 0o644, "uid": 0, "gid": 0, "link": "", "sha256": "a"}
    return FileState(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("new", "what"),
    [
        (state(sha256="b"), (Aspect.content,)),  # the same size, other bytes
        (state(sha256="b", size=4), (Aspect.content, Aspect.size)),
        (state(mode=0o755), (Aspect.mode,)),
        (state(gid=1), (Aspect.owner,)),
        (state(type="symlink", size=0, sha256=None, link="x"), (Aspect.type, Aspect.link)),
        (state(sha256=None), ()),  # not hashed (sparse): not a content change
        (state(), ()),
    ],
)
def test_aspects(new: FileState, what: tuple[Aspect, ...]) -> None:
    assert aspects(state(), new) == what


def test_images_of_other_names_pair_by_their_one_platform() -> None:
    """The sample OCI layout's "1.0" and the Docker 25 save's example/modern:2.0 share no
    repository; each export holds one linux/amd64 image, so they pair."""
    run = run_cli(
        "diff", "--format", "json", str(SAMPLES / "oci-layout"), str(SAMPLES / "docker-25.tar")
    )
    assert run.code == 1
    doc = json.loads(run.out)
    assert [(i["old"]["name"], i["new"]["name"]) for i in doc["images"]] == [
        ("1.0", "docker.io/example/modern:2.0")
    ]
    assert doc["added"] == doc["removed"] == []
