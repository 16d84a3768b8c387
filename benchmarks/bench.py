"""`make bench`: how fast, and in how much memory, `ocianalyze verify` checks real layers.

Builds once (cached in ~/.cache/ocianalyze-bench/<version>-<MB>mb, without ocianalyze code) a
tar of real files from /usr/lib and /usr/share, packed as three OCI layouts: one tar+gzip layer,
one tar+zstd layer, and four tar+gzip layers. Then it times `ocianalyze verify` against the shell
pipelines that do the same reads (hash the blob, decompress it, hash the tar), running the
contenders of each measurement round-robin, and prints medians, ratios and peak RSS against the
targets in benchmarks/README.md.

OCIANALYZE_BENCH_MB (default 500) sets the size of the data; `--rounds`, `--json FILE`, `--check`.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import hashlib
import importlib.util
import io
import json
import os
import platform
import resource
import shlex
import shutil
import stat
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scale import DEPTH, FANOUT, FILES, LEVELS, MEMBERS, TOO_MANY, build_scale

VERSION = "v1"  # bump when the built data changes: the cache is keyed by it
MB = 1_000_000
SOURCES = (("/usr/share", 0.4), ("/usr/lib", 1.0))  # root, share of the budget it may fill
PARTS = 4  # layers of the multi-layer image, MB/5 of files each
RSS_TARGET_MIB = 64

OCI = [sys.executable, "-m", "ocianalyze", "verify", "--quiet"]
SCALE_GROUPS = ("million", "deep", "fanout", "members")
SCALE_TIMEOUT = 60.0  # seconds: a run past it is killed and shown as ERROR, the rest goes on
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
TAR_LAYER = "application/vnd.oci.image.layer.v1.tar"
# The console script next to the interpreter, as users run it (`-m` adds runpy's imports).
SCRIPT = Path(sys.executable).with_name("ocianalyze")
START = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "ocianalyze"]
PEER_OUT = Path(tempfile.gettempdir()) / f"ocianalyze-bench-peers-{os.getpid()}"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ocianalyze-bench"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class Item:
    path: str  # absolute path on this machine
    kind: str  # "file" or "symlink"
    size: int


def _walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every file and symlink under root in sorted order (directories depth first)."""
    for top, dirs, names in os.walk(root, onerror=lambda _exc: None):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(top, name)  # noqa: PTH118 - str paths: cheaper over ~100k files
            try:
                yield path, os.lstat(path)
            except OSError:
                continue


def _readable(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError:
        return False
    return True


def collect(total_bytes: int) -> list[Item]:
    """Regular files (and the symlinks met on the way) worth about total_bytes, sorted."""
    cap = max(1 << 20, total_bytes // 16)  # no single file dominates a layer
    items: list[Item] = []
    taken = 0
    for root, share in SOURCES:
        budget = min(total_bytes - taken, int(total_bytes * share))
        got = 0
        for path, st in _walk(root):
            if got >= budget:
                break
            if stat.S_ISLNK(st.st_mode):
                items.append(Item(path, "symlink", 0))
            elif stat.S_ISREG(st.st_mode) and st.st_size <= cap and _readable(path):
                items.append(Item(path, "file", st.st_size))
                got += st.st_size
        taken += got
    items.sort(key=lambda i: i.path)
    return items


def _info(path: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path.lstrip("/"))
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = int(st.st_mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def write_tar(items: list[Item], out: Path) -> int:
    """A PAX tar of items with their parent directories; returns how many files went in."""
    done_dirs: set[str] = set()
    files = 0
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for item in items:
            parents = Path(item.path).parents
            for parent in reversed(parents[:-1]):  # /usr, /usr/lib, ... (not /)
                if str(parent) not in done_dirs:
                    done_dirs.add(str(parent))
                    info = _info(str(parent), parent.lstat())
                    info.type = tarfile.DIRTYPE
                    tf.addfile(info)
            try:
                files += _add(tf, item)
            except OSError as exc:  # vanished or changed since it was listed
                say(f"  skipped {item.path}: {exc}")
    return files


def _add(tf: tarfile.TarFile, item: Item) -> int:
    if item.kind == "symlink":
        info = _info(item.path, os.lstat(item.path))
        info.type = tarfile.SYMTYPE
        info.linkname = str(Path(item.path).readlink())
        tf.addfile(info)
        return 0
    with open(item.path, "rb") as f:  # read first: a header is never left without its data
        st = os.fstat(f.fileno())
        data = f.read()
    info = _info(item.path, st)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))
    return 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def compress(src: Path, dst: Path, how: str) -> str:
    """Compress src into dst; returns the tool used."""
    if how == "none":
        shutil.copyfile(src, dst)
        return "none"
    with src.open("rb") as fin, dst.open("wb") as fout:
        if how == "zstd":
            subprocess.run(["zstd", "-3", "-q", "-c"], stdin=fin, stdout=fout, check=True)
            return "zstd -3"
        if shutil.which("pigz"):
            subprocess.run(["pigz", "-6", "-n", "-c"], stdin=fin, stdout=fout, check=True)
            return "pigz -6"
        with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=fout, mtime=0) as gz:
            shutil.copyfileobj(fin, gz, 1 << 20)
        return "python gzip -6"


def _put(blobs: Path, data: bytes, media_type: str) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _json(doc: object) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"


def make_layout(layout: Path, tars: list[Path], how: str, media_type: str) -> dict[str, object]:
    """An OCI image layout of one image whose layers are the given tars, compressed."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layers, diff_ids, tool = [], [], ""
    for tar in tars:
        diff_ids.append(f"sha256:{sha256_file(tar)}")
        tmp = blobs / "incoming"
        tool = compress(tar, tmp, how)
        digest, size = sha256_file(tmp), tmp.stat().st_size
        tmp.rename(blobs / digest)
        layers.append({"mediaType": media_type, "digest": f"sha256:{digest}", "size": size})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"ocianalyze bench layer {i + 1}"} for i in range(len(tars))],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": _put(blobs, _json(config), "application/vnd.oci.image.config.v1+json"),
        "layers": layers,
    }
    desc = _put(blobs, _json(manifest), "application/vnd.oci.image.manifest.v1+json")
    desc["annotations"] = {"org.opencontainers.image.ref.name": "bench"}
    desc["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [desc],
    }
    (layout / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_bytes(_json(index))
    return {"tool": tool, "layers": [(layer["digest"], layer["size"]) for layer in layers]}


def split(items: list[Item], parts: int, each: int) -> list[list[Item]]:
    """Consecutive runs of items holding about `each` bytes of files each."""
    out: list[list[Item]] = [[]]
    got = 0
    for item in items:
        if got >= each:
            if len(out) == parts:
                break
            out.append([])
            got = 0
        out[-1].append(item)
        got += item.size
    return out


def build(mb: int) -> Path:
    """The cached layouts for this size; built once (into a temporary directory, then renamed)."""
    root = cache_root() / f"{VERSION}-{mb}mb"
    if (root / "built.json").exists():
        return root
    cache_root().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{VERSION}-{mb}mb-", dir=cache_root()))
    try:
        t0 = time.perf_counter()
        say(f"building benchmark images ({mb} MB of files) in {root} ...")
        items = collect(mb * MB)
        tars = work / "tars"
        tars.mkdir()
        full = tars / "full.tar"
        files = write_tar(items, full)
        parts = []
        for i, part in enumerate(split(items, PARTS, mb * MB // 5)):
            parts.append(tars / f"part{i + 1}.tar")
            write_tar(part, parts[-1])
        tiny = tars / "tiny.tar"
        write_tar([i for i in items if i.kind == "file"][:1], tiny)
        info: dict[str, object] = {
            "version": VERSION,
            "mb": mb,
            "files": files,
            "tar_bytes": full.stat().st_size,
            "part_tar_bytes": [p.stat().st_size for p in parts],
            "layouts": {
                "gzip": make_layout(work / "gzip", [full], "gzip", GZIP_LAYER),
                "zstd": make_layout(work / "zstd", [full], "zstd", ZSTD_LAYER),
                "gzip4": make_layout(work / "gzip4", parts, "gzip", GZIP_LAYER),
                "tiny": make_layout(work / "tiny", [tiny], "gzip", GZIP_LAYER),
            },
        }
        shutil.rmtree(tars)
        (work / "built.json").write_bytes(_json(info))
        if root.exists():  # a half-built leftover from an older interrupted run
            shutil.rmtree(root)
        work.rename(root)
        say(f"built in {time.perf_counter() - t0:.0f} s")
    finally:
        if work.exists():
            shutil.rmtree(work)
    return root


def bundle(root: Path) -> Path:
    """One OCI layout holding the gzip, zstd and 4-layer images (~480 MB of blobs at the default
    size), made from the built layouts with hard links: enough bytes for `--fast` to measure
    hashing throughput rather than Python's start-up."""
    out = root / "bundle"
    if (out / "index.json").exists():
        return out
    work = Path(tempfile.mkdtemp(prefix=".bundle-", dir=root))
    blobs = work / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    manifests = []
    for name in ("gzip", "zstd", "gzip4"):
        for blob in (root / name / "blobs" / "sha256").iterdir():
            if not (blobs / blob.name).exists():
                try:
                    os.link(blob, blobs / blob.name)
                except OSError:
                    shutil.copyfile(blob, blobs / blob.name)
        desc = json.loads((root / name / "index.json").read_text())["manifests"][0]
        desc["annotations"] = {"org.opencontainers.image.ref.name": name}
        manifests.append(desc)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }
    (work / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    (work / "index.json").write_bytes(_json(index))
    work.rename(out)
    return out


def layer_blobs(layout: Path) -> list[Path]:
    """The layer blobs of the layout's only image."""
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    blobs = layout / "blobs" / "sha256"
    return [blobs / layer["digest"].split(":")[1] for layer in manifest["layers"]]


# --------------------------------------------------------------------------- measuring


@dataclass
class Contender:
    key: str
    label: str
    cmd: list[str] | None  # None: skipped
    skip_reason: str = ""
    ocianalyze: bool = False
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)  # minor page faults (ocianalyze runs)
    cpu: list[float] = field(default_factory=list)  # CPU seconds of the run's processes
    others: list[float] = field(default_factory=list)  # cores busy with other work meanwhile
    errors: list[str] = field(default_factory=list)
    rss_target_mib: int = RSS_TARGET_MIB
    timeout: float | None = None  # seconds; None: no limit
    peer: bool = False  # another tool doing the same job: its peak RSS is shown too

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


@dataclass(frozen=True)
class Comparison:
    name: str
    ours: str  # contender key in the "ocianalyze" column
    base: str  # contender key in the "baseline" column
    target: float | None  # base/ours time must be at least this; None: shown, not judged
    # (fixed-cost contender, units, unit name): also show (ours - fixed) / units in µs
    per: tuple[str, int, str] | None = None
    limit: float | None = None  # seconds: ours' median must be at most this (start-up rows)

    @property
    def target_text(self) -> str:
        if self.limit is not None:
            return f"<= {self.limit * 1000:.0f} ms"
        return "-" if self.target is None else f">= {self.target}x"

    def passed(self, ours: float, ratio: float) -> str:
        if self.limit is not None:
            return "PASS" if ours <= self.limit else "MISS"
        return "" if self.target is None else "PASS" if ratio >= self.target else "MISS"


@dataclass
class Group:
    name: str
    contenders: list[Contender]
    comparisons: list[Comparison]


def bash(script: str) -> list[str]:
    return ["bash", "-c", script]


def _missing(*tools: str) -> str:
    gone = [t for t in tools if shutil.which(t) is None]
    return f"{', '.join(gone)} not installed" if gone else ""


def shell_contender(key: str, label: str, script: str, *tools: str) -> Contender:
    reason = _missing(*tools)
    return Contender(key, label, None if reason else bash(script), reason)


def openssl_dgst(key: str, what: str, layout: Path) -> Contender:
    blobs = sorted(str(p) for p in (layout / "blobs" / "sha256").iterdir())
    cmd = ["openssl", "dgst", "-sha256", *blobs] if shutil.which("openssl") else None
    return Contender(key, f"openssl dgst -sha256 ({what})", cmd, _missing("openssl"))


def oci(key: str, label: str, *args: str | Path) -> Contender:
    return Contender(key, label, [*OCI, *map(str, args)], ocianalyze=True)


def oci_cmd(key: str, label: str, *args: str | Path, rss: int = RSS_TARGET_MIB) -> Contender:
    """Any ocianalyze command line (``args`` start with the command), with the scale rows'
    time limit and its own RSS target."""
    cmd = [sys.executable, "-m", "ocianalyze", *map(str, args)]
    return Contender(key, label, cmd, ocianalyze=True, rss_target_mib=rss, timeout=SCALE_TIMEOUT)


def scale_groups(scale: Path, root: Path) -> list[Group]:
    """Rows whose cost follows an input's shape (see scale.py): informational, no targets."""
    layer = shlex.quote(str(layer_blobs(scale / "million")[0]))
    n = f"{FILES // 1_000_000}M files"
    per = ("oci-m-tiny", FILES, "file")
    million = Group(
        "million",
        [
            oci("oci-m-tiny", "verify, one 1-file layer (fixed cost)", root / "tiny"),
            oci_cmd("oci-m-verify", f"verify, {n}", "verify", "--quiet", scale / "million"),
            oci_cmd("oci-m-report", f"report, {n}", "report", scale / "million", rss=96),
            oci_cmd(
                "oci-m-files",
                f"files --format json, {n}",
                "files",
                "--format",
                "json",
                scale / "million",
            ),
            oci_cmd("oci-m-text", f"files, {n}", "files", scale / "million"),
            shell_contender("tar-m", f"tar -tzvf, {n}", f"tar -tzvf {layer}", "tar"),
        ],
        [
            Comparison(f"{n}: verify vs tar -tzvf", "oci-m-verify", "tar-m", None, per),
            Comparison(f"{n}: report vs tar -tzvf", "oci-m-report", "tar-m", None, per),
            Comparison(f"{n}: files --format json vs tar -tzvf", "oci-m-files", "tar-m", None, per),
            Comparison(f"{n}: files vs tar -tzvf", "oci-m-text", "tar-m", None, per),
        ],
    )
    deep, shallow = scale / "deep", scale / "shallow"
    depth = f"{DEPTH:,} levels deep"
    deep_group = Group(
        "deep",
        [
            c
            for cmd in ("verify", "report", "files")
            for c in (
                oci_cmd(f"oci-deep-{cmd}", f"{cmd}, 4 files {depth} + a whiteout", cmd, deep),
                oci_cmd(f"oci-shallow-{cmd}", f"{cmd}, the same 1 level deep", cmd, shallow),
            )
        ],
        [
            Comparison(f"{cmd}: {depth} vs 1 level", f"oci-deep-{cmd}", f"oci-shallow-{cmd}", None)
            for cmd in ("verify", "report", "files")
        ],
    )
    fan = f"{LEVELS} nested indexes x {FANOUT}"
    fanout = Group(
        "fanout",
        [
            c
            for cmd in ("inspect", "verify")
            for c in (
                oci_cmd(f"oci-fan-{cmd}", f"{cmd}, {fan}", cmd, scale / "fanout"),
                oci_cmd(
                    f"oci-flat-{cmd}", f"{cmd}, the same image listed once", cmd, scale / "flat"
                ),
            )
        ],
        [
            Comparison(f"{cmd}: {fan} vs listed once", f"oci-fan-{cmd}", f"oci-flat-{cmd}", None)
            for cmd in ("inspect", "verify")
        ],
    )
    return [million, deep_group, fanout, members_group(scale)]


def members_group(scale: Path) -> Group:
    """A tarball export with many members: seekable, from a gzip stream on standard input, and
    past the member limit (refused: the row passes when the exit status is 2)."""
    members = scale / "members"
    python = shlex.quote(sys.executable)
    stream = shlex.quote(str(members / "stream.tar.gz"))
    too_many = shlex.quote(str(members / "toomany.tar.gz"))
    n = f"{MEMBERS:,} members"
    return Group(
        "members",
        [
            oci_cmd(
                "oci-mem-seek", f"verify, {n}, seekable tar", "verify", members / "seek.tar", rss=96
            ),
            _scale_shell(
                "oci-mem-stream",
                f"verify -, {n}, gzip on stdin",
                f"exec {python} -m ocianalyze verify - < {stream}",
            ),
            _scale_shell(
                "oci-mem-refused",
                f"verify, {TOO_MANY:,} members (refused)",
                f"{python} -m ocianalyze verify {too_many} 2>/dev/null; test $? -eq 2",
            ),
            oci("oci-mem-flat", "verify, the export alone", scale / "flat"),
        ],
        [
            Comparison(f"{n}, seekable vs the export alone", "oci-mem-seek", "oci-mem-flat", None),
            Comparison(f"{n}, stream vs the export alone", "oci-mem-stream", "oci-mem-flat", None),
        ],
    )


def _scale_shell(key: str, label: str, script: str) -> Contender:
    """An ocianalyze run through a shell line (a redirection, an exit status test)."""
    return Contender(
        key, label, bash(script), ocianalyze=True, rss_target_mib=96, timeout=SCALE_TIMEOUT
    )


def layer_group(
    kind: str,
    layout: Path,
    fast_tool: str,
    vs_coreutils: float | None,
    vs_best: float,
    tag: str = "",
) -> Group:
    """The layout's one layer against `sha256sum; <kind> -dc | sha256sum` (unless
    `vs_coreutils` is None) and against openssl with the fastest decompressor (`fast_tool`).
    `tag` names a second layout of the same kind (keys and labels)."""
    blob = shlex.quote(str(layer_blobs(layout)[0]))
    pipe = "{} {b}; {} -dc {b} | {}"
    key, what = f"{kind}{tag}", f"{tag.strip('-')} {kind}".strip()
    contenders = [
        oci(f"oci-{key}", f"verify, 1 {what} layer", layout),
        shell_contender(
            f"openssl-{key}",
            f"openssl + {fast_tool} -dc | openssl ({what})",
            pipe.format("openssl dgst -sha256", fast_tool, "openssl dgst -sha256", b=blob),
            "openssl",
            fast_tool,
        ),
    ]
    comparisons = [
        Comparison(f"{what} layer vs {fast_tool}+openssl", f"oci-{key}", f"openssl-{key}", vs_best)
    ]
    if vs_coreutils is not None:
        contenders.insert(
            1,
            shell_contender(
                f"coreutils-{key}",
                f"sha256sum + {kind} -dc | sha256sum",
                pipe.format("sha256sum", kind, "sha256sum", b=blob),
                kind,
                "sha256sum",
            ),
        )
        comparisons.insert(
            0,
            Comparison(
                f"{what} layer vs coreutils", f"oci-{key}", f"coreutils-{key}", vs_coreutils
            ),
        )
    return Group(kind, contenders, comparisons)


def small_zstd(root: Path) -> Path:
    """`zstd-small/`: the first layer of gzip4/ (~100 MB of tar) as one `zstd -3` layer of
    ~40 MB, the size of a real distribution base layer, where start-up weighs more. Made from
    gzip4/ when first needed, with the standard library and the zstd command only."""
    done = root / "zstd-small"
    if (done / "index.json").exists():
        return done
    work = Path(tempfile.mkdtemp(prefix=".zstd-small-", dir=root))
    try:
        tar = work / "layer.tar"
        with gzip.open(layer_blobs(root / "gzip4")[0]) as fin, tar.open("wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        make_layout(work / "layout", [tar], "zstd", ZSTD_LAYER)
        (work / "layout").rename(done)
    finally:
        shutil.rmtree(work)
    return done


def peer(key: str, label: str, script: str, *tools: str) -> Contender:
    """Another tool doing (part of) verify's job, writing into a scratch directory that is
    emptied before each run; its peak RSS is measured as ocianalyze's is."""
    out = shlex.quote(str(PEER_OUT / key))
    clean = f"rm -rf {out} && mkdir -p {shlex.quote(str(PEER_OUT))}"
    c = shell_contender(key, label, f"{clean} && {script.format(out=out)}", *tools)
    c.peer = True
    return c


def skopeo_copy(key: str, label: str, layout: Path, *flags: str) -> Contender:
    source = shlex.quote(f"oci:{layout}:bench")
    return peer(key, label, f"skopeo copy -q {' '.join(flags)} {source} dir:{{out}}", "skopeo")


def startup_group(root: Path) -> Group:
    """What a run costs before it reads anything, against the bare interpreter and skopeo."""
    tiny = root / "tiny"
    return Group(
        "startup",
        [
            Contender("py-pass", "python -c pass", [sys.executable, "-c", "pass"]),
            Contender(
                "oci-version", "ocianalyze --version", [*START, "--version"], ocianalyze=True
            ),
            Contender(
                "oci-inspect",
                "ocianalyze inspect, tiny",
                [*START, "inspect", str(tiny)],
                ocianalyze=True,
            ),
            Contender(
                "oci-tiny",
                "verify, one 1-file layer (startup cost)",
                [*START, "verify", "--quiet", str(tiny)],
                ocianalyze=True,
            ),
            shell_contender(
                "skopeo-inspect",
                "skopeo inspect oci:tiny",
                f"skopeo inspect {shlex.quote(f'oci:{tiny}:bench')}",
                "skopeo",
            ),
        ],
        [
            Comparison("--version vs python -c pass", "oci-version", "py-pass", None, limit=0.05),
            Comparison(
                "inspect tiny vs skopeo inspect", "oci-inspect", "skopeo-inspect", None, limit=0.05
            ),
            Comparison("verify tiny vs python -c pass", "oci-tiny", "py-pass", None, limit=0.06),
        ],
    )


def stream_archive(root: Path) -> Path:
    """``docker save | gzip``: the 4-layer image with its layers stored as plain tars (as
    docker save stores them), in one tar compressed whole with pigz -6 (``image.tar.gz``),
    and the same export as a directory (``layout/``). Made from gzip4/ when first needed,
    with the standard library and pigz only."""
    done = root / "stream"
    if (done / "image.tar.gz").exists():
        return done
    work = Path(tempfile.mkdtemp(prefix=".stream-", dir=root))
    try:
        tars = []
        for i, blob in enumerate(layer_blobs(root / "gzip4")):
            tars.append(work / f"layer{i}.tar")
            with gzip.open(blob) as fin, tars[-1].open("wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        make_layout(work / "layout", tars, "none", TAR_LAYER)
        for t in tars:
            t.unlink()
        with tarfile.open(work / "image.tar", "w", format=tarfile.PAX_FORMAT) as tf:
            tf.add(work / "layout", arcname=".")  # sorted: blobs/ first, index.json last
        compress(work / "image.tar", work / "image.tar.gz", "gzip")
        (work / "image.tar").unlink()
        if done.exists():
            shutil.rmtree(done)
        work.rename(done)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return done


def stream_group(root: Path) -> Group:
    """`verify -` on a tarball compressed whole, against the pipeline that inflates it once,
    hashes it, and hashes every blob it holds; and against the same export as a directory."""
    stream = stream_archive(root)
    image = shlex.quote(str(stream / "image.tar.gz"))
    python = shlex.quote(START[0]) if len(START) == 1 else shlex.join(START)
    return Group(
        "stream",
        [
            Contender(
                "oci-stream",
                "verify - < image.tar.gz (4 plain layers)",
                bash(f"exec {python} verify --quiet - < {image}"),
                ocianalyze=True,
            ),
            oci("oci-stream-dir", "verify, the same export as a directory", stream / "layout"),
            shell_contender(
                "pipe-stream",
                "pigz -dc | tee >(openssl) | tar -xO blobs | openssl",
                f"set -o pipefail; pigz -dc {image} | tee >(openssl dgst -sha256 >/dev/null)"
                " | tar -xO --wildcards '*blobs/*' | openssl dgst -sha256",
                "pigz",
                "openssl",
            ),
        ],
        [
            Comparison(
                "verify - < image.tar.gz vs pigz+tar+openssl", "oci-stream", "pipe-stream", None
            ),
            Comparison(
                "stream vs the same export as a directory", "oci-stream", "oci-stream-dir", None
            ),
        ],
    )


def groups(root: Path) -> list[Group]:
    four = root / "gzip4"
    big = bundle(root)
    small = small_zstd(root)
    return [
        layer_group("gzip", root / "gzip", "pigz", 3.0, 1.8),
        layer_group("zstd", root / "zstd", "zstd", 2.0, 1.3),
        layer_group("zstd", small, "zstd", None, 1.0, tag="-small"),
        Group(
            "jobs",
            [
                oci("oci-jobs1", "verify --jobs 1, 4 gzip layers", "--jobs", "1", four),
                oci("oci-jobs0", "verify (default jobs), 4 gzip layers", four),
                skopeo_copy(
                    "skopeo-decompress4",
                    "skopeo copy --dest-decompress oci: dir:, 4 layers",
                    four,
                    "--dest-decompress",
                ),
                peer(
                    "umoci-unpack4",
                    "umoci unpack, 4 layers",
                    f"umoci unpack --image {shlex.quote(f'{four}:bench')} {{out}} >/dev/null",
                    "umoci",
                ),
            ],
            [
                Comparison("4 layers: default jobs vs --jobs 1", "oci-jobs0", "oci-jobs1", 1.7),
                Comparison(
                    "4 layers: verify vs skopeo copy --dest-decompress",
                    "oci-jobs0",
                    "skopeo-decompress4",
                    None,
                ),
                Comparison("4 layers: verify vs umoci unpack", "oci-jobs0", "umoci-unpack4", None),
            ],
        ),
        Group(
            "fast",
            [
                oci("oci-fast-all", "verify --fast, all 3 images", "--fast", big),
                openssl_dgst("openssl-fast-all", "all blobs of the 3 images", big),
                oci("oci-fast", "verify --fast, 4 gzip layers", "--fast", four),
                openssl_dgst("openssl-fast", "all blobs of the 4-layer image", four),
                skopeo_copy("skopeo-fast4", "skopeo copy oci: dir:, 4 layers", four),
                skopeo_copy(
                    "skopeo-fast-gzip", "skopeo copy oci: dir:, 1 gzip layer", root / "gzip"
                ),
                oci("oci-fast-gzip", "verify --fast, 1 gzip layer", "--fast", root / "gzip"),
                skopeo_copy(
                    "skopeo-fast-zstd", "skopeo copy oci: dir:, 1 zstd layer", root / "zstd"
                ),
                oci("oci-fast-zstd", "verify --fast, 1 zstd layer", "--fast", root / "zstd"),
                skopeo_copy(
                    "skopeo-fast-small", "skopeo copy oci: dir:, 1 small zstd layer", small
                ),
                oci("oci-fast-small", "verify --fast, 1 small zstd layer", "--fast", small),
            ],
            [
                Comparison("--fast vs openssl dgst", "oci-fast-all", "openssl-fast-all", 0.9),
                Comparison("--fast vs openssl, 4-layer image", "oci-fast", "openssl-fast", 1.0),
                Comparison(
                    "--fast vs skopeo copy oci: dir:, 4 layers", "oci-fast", "skopeo-fast4", 1.0
                ),
                Comparison(
                    "--fast vs skopeo copy oci: dir:, 1 gzip layer",
                    "oci-fast-gzip",
                    "skopeo-fast-gzip",
                    1.0,
                ),
                Comparison(
                    "--fast vs skopeo copy oci: dir:, 1 zstd layer",
                    "oci-fast-zstd",
                    "skopeo-fast-zstd",
                    1.0,
                ),
                Comparison(
                    "--fast vs skopeo copy oci: dir:, 1 small zstd layer",
                    "oci-fast-small",
                    "skopeo-fast-small",
                    1.0,
                ),
            ],
        ),
        startup_group(root),
        stream_group(root),
        diff_group(root),
    ]


def diff_group(root: Path) -> Group:
    """diff's cost: both exports verified with every file's content hashed, and the merged
    filesystems compared path by path (16,534 paths of the one-layer image, 10,115 of the
    four-layer one), next to verifying the two exports one after the other. diff's memory per
    file and per changed path: ``python benchmarks/per_file_cost.py --diff``."""
    one, four = shlex.quote(str(root / "gzip")), shlex.quote(str(root / "gzip4"))
    cmd = f"{sys.executable} -m ocianalyze"
    return Group(
        "diff",
        [
            Contender(
                "verify-both",
                "verify the 1-layer and the 4-layer image, one after the other",
                bash(f"{cmd} verify -q {one} && {cmd} verify -q {four}"),
                ocianalyze=True,
            ),
            Contender(
                "oci-diff",
                "diff the 1-layer and the 4-layer image (files hashed, compared)",
                bash(f"{cmd} diff -q {one} {four} >/dev/null; test $? -eq 1"),
                ocianalyze=True,
            ),
        ],
        [Comparison("diff vs verifying both", "oci-diff", "verify-both", None)],
    )


def run_ocianalyze(c: Contender) -> None:
    """Time one run; peak RSS comes from wait4 on the child itself."""
    assert c.cmd is not None
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(c.cmd, stdout=out, stderr=subprocess.STDOUT)
        killer = threading.Timer(c.timeout, proc.kill) if c.timeout else None
        if killer is not None:
            killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        if killer is not None:
            killer.cancel()
            if c.timeout is not None and elapsed >= c.timeout:
                c.errors.append(f"killed after {c.timeout:.0f} s")
        proc.returncode = os.waitstatus_to_exitcode(status)
        c.times.append(elapsed)
        c.rss_kib.append(usage.ru_maxrss)
        c.faults.append(usage.ru_minflt)
        if proc.returncode != 0:
            out.seek(0)
            tail = out.read()[-2000:].decode(errors="replace")
            c.errors.append(f"exit {proc.returncode}: {tail}")


def run_baseline(c: Contender) -> None:
    assert c.cmd is not None
    t0 = time.perf_counter()
    res = subprocess.run(c.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    c.times.append(time.perf_counter() - t0)
    if res.returncode != 0:
        c.errors.append(f"exit {res.returncode}: {res.stderr[-2000:].decode(errors='replace')}")


def _busy_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (0 where /proc/stat is missing)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(c: Contender) -> None:
    """One timed run, with the CPU time it used and how busy the machine was with other work."""
    busy, cpu = _busy_seconds(), _children_cpu()
    (run_ocianalyze if c.ocianalyze or c.peer else run_baseline)(c)
    ours = _children_cpu() - cpu  # every process of the run, pipelines included
    c.cpu.append(ours)
    c.others.append(max(0.0, _busy_seconds() - busy - ours) / c.times[-1])


def measure(group: Group, rounds: int) -> None:
    runnable = [c for c in group.contenders if c.cmd is not None]
    for c in runnable:  # untimed warm-up: page cache, .pyc files; also checks it works
        run(c)
        for runs in (c.times, c.rss_kib, c.faults, c.cpu, c.others):
            if not c.errors:  # a failed run is kept: it is the only one (see below)
                runs.clear()
    runnable = [c for c in runnable if not c.errors]  # no rounds of a run that fails
    for r in range(rounds):
        for c in runnable:
            run(c)
        line = ", ".join(f"{c.key} {c.times[-1]:.2f}s" for c in runnable)
        say(f"  [{group.name}] round {r + 1}/{rounds}: {line}")


# --------------------------------------------------------------------------- reporting


@dataclass
class Row:
    name: str
    ours: float | None
    base: float | None
    ratio: float | None
    target: str
    result: str  # PASS, MISS, SKIP, ERROR or "" (informational)
    note: str = ""


def rows_for(group: Group) -> list[Row]:
    by_key = {c.key: c for c in group.contenders}
    rows = []
    for cmp in group.comparisons:
        ours, base = by_key[cmp.ours], by_key[cmp.base]
        if base.cmd is None:
            rows.append(
                Row(
                    cmp.name,
                    ours.median,
                    None,
                    None,
                    cmp.target_text,
                    "SKIP",
                    f"baseline skipped: {base.skip_reason}",
                )
            )
            continue
        if ours.errors or base.errors:
            bad = ours if ours.errors else base
            rows.append(
                Row(
                    cmp.name,
                    ours.median,
                    base.median,
                    None,
                    cmp.target_text,
                    "ERROR",
                    f"{bad.label}: {bad.errors[0].strip()}",
                )
            )
            continue
        ratio = base.median / ours.median  # type: ignore[operator]
        rows.append(
            Row(
                cmp.name,
                ours.median,
                base.median,
                ratio,
                cmp.target_text,
                cmp.passed(ours.median, ratio),  # type: ignore[arg-type]
                _per_unit(cmp, ours, by_key),
            )
        )
    if not group.comparisons:
        for c in group.contenders:
            rows.append(
                Row(
                    c.label,
                    c.median,
                    None,
                    None,
                    "-",
                    "ERROR" if c.errors else "",
                    c.errors[0].strip() if c.errors else "",
                )
            )
    return rows


def _per_unit(cmp: Comparison, ours: Contender, by_key: dict[str, Contender]) -> str:
    """``(ours - fixed cost) / units`` in µs, as a note, for comparisons that ask for it."""
    if cmp.per is None:
        return ""
    fixed_key, units, unit = cmp.per
    fixed = by_key[fixed_key].median
    if fixed is None or ours.median is None:
        return ""
    return f"{(ours.median - fixed) / units * 1e6:.2f} µs per {unit} over the fixed cost"


def rss_rows(all_groups: list[Group], floor_kib: int) -> list[Row]:
    rows = []
    for g in all_groups:
        for c in g.contenders:
            if c.peer and c.rss_kib:
                peak = max(c.rss_kib) / 1024
                rows.append(Row(f"peak RSS: {c.label}", None, None, peak, "-", ""))
            if c.ocianalyze and c.rss_kib:
                peak = max(c.rss_kib) / 1024
                result = "PASS" if peak <= c.rss_target_mib else "MISS"
                note = ""
                if min(c.rss_kib) <= floor_kib * 1.05:
                    note = f"at the floor ({floor_kib / 1024:.1f} MiB, this process's peak)"
                row = Row(
                    f"peak RSS: {c.label}",
                    None,
                    None,
                    peak,
                    f"<= {c.rss_target_mib} MiB",
                    result,
                    note,
                )
                rows.append(row)
    return rows


def precompile() -> None:
    """Byte-compile ocianalyze as `pip install` would: an editable install run with
    PYTHONDONTWRITEBYTECODE set would otherwise compile every module at every start."""
    spec = importlib.util.find_spec("ocianalyze")
    for where in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(where, quiet=1)


def walker_kind() -> str:
    """Whether the optional C header loop was built: the figures depend on it."""
    probe = "from ocianalyze import tarwalk; print(tarwalk.ACCELERATED)"
    run = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True)
    out = run.stdout
    if out.strip() == "True":
        return "C loop (ocianalyze._tarscan)"
    return "pure Python (the C loop is not built: no C compiler at install?)"


def own_peak_kib() -> int:
    """VmHWM of this process: a floor under every child's ru_maxrss (0 if unknown)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def source_state() -> str:
    """The commit of the checkout ocianalyze runs from, and whether ocianalyze/ has edits."""
    repo = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(repo)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "ocianalyze"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    edited = [line[3:] for line in dirty if line.strip()]
    return f"{head}" + (f" + uncommitted edits to {', '.join(edited)}" if edited else "")


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(rows: list[Row], all_groups: list[Group]) -> None:
    head = ("measurement", "ocianalyze s", "baseline s", "ratio", "target", "result")
    lines = [head]
    for r in rows:
        ratio = (
            (_fmt(r.ratio, ".1f") + " MiB")
            if r.name.startswith("peak RSS")
            else (_fmt(r.ratio, ".2f") + ("x" if r.ratio is not None else ""))
        )
        lines.append(
            (r.name, _fmt(r.ours, ".3f"), _fmt(r.base, ".3f"), ratio, r.target, r.result or "info")
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    notes = [r for r in rows if r.note]
    if notes:
        print()
        for r in notes:
            print(f"note: {r.name}: {r.note}")
    print(
        "\nper run: wall s | CPU s of its processes | cores busy with other work meanwhile"
        " | peak RSS MiB | minor page faults"
    )
    for g in all_groups:
        for c in g.contenders:
            if c.cmd is None:
                print(f"  {c.label}: skipped ({c.skip_reason})")
                continue
            cols = [
                " ".join(f"{t:.3f}" for t in c.times),
                " ".join(f"{t:.2f}" for t in c.cpu),
                " ".join(f"{t:.2f}" for t in c.others),
            ]
            if c.ocianalyze or c.peer:
                cols.append(" ".join(f"{k / 1024:.1f}" for k in c.rss_kib))
                cols.append(" ".join(str(n) for n in c.faults))
            print(f"  {c.label}: {' | '.join(cols)}")


def describe(root: Path) -> dict[str, object]:
    info = json.loads((root / "built.json").read_text())
    sizes = []
    for name in ("gzip", "zstd", "gzip4"):
        layers = info["layouts"][name]["layers"]
        sizes.append(f"{name} {sum(s for _, s in layers) / MB:.0f} MB in {len(layers)} layer(s)")
    print(
        f"data: {info['files']} files, tar {info['tar_bytes'] / MB:.0f} MB; "
        f"4-layer tars {', '.join(f'{b / MB:.0f}' for b in info['part_tar_bytes'])} MB"
    )
    print(f"blobs: {'; '.join(sizes)} ({info['layouts']['gzip']['tool']})")
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs of each contender (default 3)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 if any target is missed")
    ap.add_argument(
        "--only",
        metavar="GROUPS",
        help="comma list of gzip,zstd,jobs,fast,startup,stream,million,deep,fanout,members,"
        "bundle50,diff",
    )
    ap.add_argument("--build-only", action="store_true", help="build the cached images and stop")
    ap.add_argument("--build-scale", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    mb = int(os.environ.get("OCIANALYZE_BENCH_MB", "500"))
    if args.build_only:
        print(build(mb))
        return 0
    if args.build_scale:  # in a child process, for the reason given below
        print(build_scale(cache_root(), say))
        return 0
    root = cache_root() / f"{VERSION}-{mb}mb"
    if not (root / "built.json").exists():
        # In a child process: a child's ru_maxrss starts at its parent's peak RSS (the kernel
        # carries the old address space's high-water mark over exec), so this process must
        # stay small for the RSS of the runs it measures to be their own.
        subprocess.run([sys.executable, __file__, "--build-only"], check=True, stdout=2)
    precompile()
    floor = own_peak_kib()
    print(
        f"ocianalyze bench {VERSION}: {mb} MB, {args.rounds} round(s), {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}, {platform.python_implementation()} "
        f"{platform.python_version()} ({sys.executable})"
    )
    print(f"ocianalyze source: {source_state()}; this process's peak RSS {floor / 1024:.1f} MiB")
    print(f"tar header walk: {walker_kind()}")
    info = describe(root)
    wanted = set(args.only.split(",")) if args.only else None
    chosen = groups(root)
    if wanted is None or wanted & set(SCALE_GROUPS):
        # Built in a child process, like the main data (see above): this one stays small.
        build_cmd = [sys.executable, __file__, "--build-scale"]
        built = subprocess.run(build_cmd, check=True, stdout=subprocess.PIPE, text=True)
        scale = Path(built.stdout.strip())
        chosen += scale_groups(scale, root)
    if wanted is None or "bundle50" in wanted:
        chosen.append(bundle50_group(root))
    if wanted is not None:
        chosen = [g for g in chosen if g.name in wanted]
    try:
        for g in chosen:
            measure(g, args.rounds)
    finally:
        shutil.rmtree(PEER_OUT, ignore_errors=True)
    rows = [r for g in chosen for r in rows_for(g)] + rss_rows(chosen, floor)
    print(f"\nload after: {os.getloadavg()[0]:.2f}\n")
    print_table(rows, chosen)
    if args.json:
        doc = {
            "version": VERSION,
            "mb": mb,
            "rounds": args.rounds,
            "cpus": os.cpu_count(),
            "source": source_state(),
            "rss_floor_kib": floor,
            "python": sys.executable,
            "data": info,
            "rows": [r.__dict__ for r in rows],
            "runs": {
                c.key: {
                    "label": c.label,
                    "cmd": c.cmd,
                    "skipped": c.skip_reason,
                    "times": c.times,
                    "rss_kib": c.rss_kib,
                    "minor_faults": c.faults,
                    "cpu": c.cpu,
                    "other_cores": c.others,
                    "errors": c.errors,
                }
                for g in chosen
                for c in g.contenders
            },
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    bad = [r for r in rows if r.result in ("MISS", "ERROR")]
    return 1 if args.check and bad else 0


# --------------------------------------------------------------------------- many exports

BUNDLE_VERSION = "b50-v1"  # bump when the bundle's data changes
BUNDLE_EXPORTS = 50
BUNDLE_LAYERS = (1, 2, 3)  # layers of export i: BUNDLE_LAYERS[i % 3] (99 layers in all)
BUNDLE_LAYER_MB = 1  # uncompressed bytes of files per layer, in MB


def build_bundle50() -> Path:
    """50 OCI layouts of 1 to 3 gzip layers each, ~1 MB of real files per layer (built once,
    cached in ``<cache>/<BUNDLE_VERSION>/``, with the same tools as the main data)."""
    out = cache_root() / BUNDLE_VERSION
    if (out / "built.json").exists():
        return out
    cache_root().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{BUNDLE_VERSION}-", dir=cache_root()))
    try:
        layers = sum(BUNDLE_LAYERS[i % 3] for i in range(BUNDLE_EXPORTS))
        say(f"building {BUNDLE_EXPORTS} exports of {layers} layers in {out} ...")
        # collect() caps a file at 1/16 of the total: here 6 MB, so split by MB, not by count.
        items = [i for i in collect(layers * BUNDLE_LAYER_MB * MB) if i.size <= MB]
        parts = split(items, layers, BUNDLE_LAYER_MB * MB)
        tars = work / "tars"
        tars.mkdir()
        built, at = [], 0
        for e in range(BUNDLE_EXPORTS):
            mine = []
            for _ in range(BUNDLE_LAYERS[e % 3]):
                mine.append(tars / f"{at}.tar")
                write_tar(parts[at % len(parts)], mine[-1])
                at += 1
            built.append(make_layout(work / f"export-{e:02d}", mine, "gzip", GZIP_LAYER))
        shutil.rmtree(tars)
        blob_bytes = sum(size for b in built for _, size in b["layers"])  # type: ignore[attr-defined]
        info = {"exports": BUNDLE_EXPORTS, "layers": layers, "layer_bytes": blob_bytes}
        (work / "built.json").write_bytes(_json(info))
        work.rename(out)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return out


def bundle50_group(root: Path) -> Group:
    """50 small-to-medium exports in one `verify`: local threads against `--scheduler local:2`
    (a LocalCluster of two worker processes), and the fixed cost of each on one tiny export.
    The notes give (run - fixed cost) / tasks: the difference of the two is the per-task
    overhead of Dask on this machine."""
    b50 = build_bundle50()
    info = json.loads((b50 / "built.json").read_text())
    paths = sorted(b50.glob("export-*"))
    dask = ("--scheduler", "local:2")
    tasks, mb = info["layers"], info["layer_bytes"] / MB
    n = f"{len(paths)} exports ({tasks} layers, {mb:.0f} MB)"
    return Group(
        "bundle50",
        [
            oci_cmd(
                "oci-b50-t0", "verify, 1 tiny export, threads", "verify", "--quiet", root / "tiny"
            ),
            oci_cmd(
                "oci-b50-d0",
                "verify, 1 tiny export, --scheduler local:2",
                "verify",
                "--quiet",
                *dask,
                root / "tiny",
                rss=256,
            ),
            oci_cmd("oci-b50-t", f"verify, {n}, threads", "verify", "--quiet", *paths, rss=96),
            oci_cmd(
                "oci-b50-d",
                f"verify, {n}, --scheduler local:2",
                "verify",
                "--quiet",
                *dask,
                *paths,
                rss=256,
            ),
        ],
        [
            Comparison(
                f"{n}: threads", "oci-b50-t", "oci-b50-t0", None, per=("oci-b50-t0", tasks, "task")
            ),
            Comparison(
                f"{n}: local:2", "oci-b50-d", "oci-b50-d0", None, per=("oci-b50-d0", tasks, "task")
            ),
            Comparison(f"{n}: local:2 vs threads", "oci-b50-d", "oci-b50-t", None),
            Comparison(
                "1 tiny export: local:2 vs threads (cluster start)",
                "oci-b50-d0",
                "oci-b50-t0",
                None,
            ),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
