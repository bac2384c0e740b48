"""Real recordings that Debian or PyPI packages ship, and speech the tests make with espeak-ng and sox.

`make test-deps` installs the Debian packages; a missing one fails the test with the command
that installs it, rather than skipping it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from copilot import espeak

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "test-data"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
FREEDESKTOP_SOUNDS = Path("/usr/share/sounds/freedesktop/stereo")
GCOMPRIS_RCC = Path("/usr/share/gcompris-qt/rcc")


def example_clip(folder: Path) -> Path:
    """The demo clip examples/meeting.wav, made into ``folder`` when `make example` has not run."""
    clip = ROOT / "examples" / "meeting.wav"
    if clip.exists():
        return clip
    subprocess.run(["bash", str(ROOT / "scripts" / "make-example.sh"), str(folder / "meeting.wav")], check=True)
    return folder / "meeting.wav"


def require(path: Path, package: str) -> Path:
    """``path``, or a test failure that names the Debian package to install."""
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make test-deps` (Debian package {package})")
    return path


def librivox() -> list[tuple[Path, str]]:
    """The five LibriVox clips of pocketsphinx-testdata (one male reader) with their exact transcripts."""
    folder = require(LIBRIVOX, "pocketsphinx-testdata")
    pairs = []
    for line in (folder / "transcription").read_text().splitlines():
        m = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
        if m:
            pairs.append((folder / f"{m.group(2)}.wav", m.group(1)))
    return pairs


def pyannote_sample() -> tuple[Path, Path]:
    """pyannote's 30 s two-speaker sample.wav and its reference sample.rttm, from the pyannote-audio wheel."""
    wav, rttm = CACHE / "pyannote" / "sample.wav", CACHE / "pyannote" / "sample.rttm"
    if not (wav.exists() and rttm.exists()):
        wheels = CACHE / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), "pyannote-audio==4.0.7"],
            check=True,
        )
        with zipfile.ZipFile(next(wheels.glob("pyannote_audio-4.0.7-*.whl"))) as zf:
            for path in (wav, rttm):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(zf.read(f"pyannote/audio/sample/{path.name}"))
    return wav, rttm


def read_rttm(path: Path) -> list[tuple[str, float, float]]:
    """(speaker, start, end) turns of an RTTM file."""
    turns = []
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            turns.append((f[7], float(f[3]), float(f[3]) + float(f[4])))
    return turns


def speak(text: str, path: Path, **options: Any) -> Path:
    """``text`` spoken by espeak-ng into the wav file ``path``: `copilot.espeak.speak` and its options."""
    try:
        return espeak.speak(text, path, **options)
    except FileNotFoundError as exc:
        pytest.fail(f"{exc}: run `make test-deps`")


def sox(*args: str | Path) -> None:
    """Run sox with ``args`` (for mixing, padding, resampling and making tones)."""
    tool = shutil.which("sox") or pytest.fail("sox is missing: run `make test-deps`")
    subprocess.run([tool, *map(str, args)], check=True, capture_output=True)


DOG_BARK = ("explore_farm_animals.rcc", "dog.ogg")  # two barks in 0.9 s


def gcompris_sound(rcc_name: str, member: str) -> Path:
    """A real recording of gcompris-qt-data, extracted once from its Qt resource file into the cache.

    ``member`` is the file's name or the end of its path inside ``rcc_name``, e.g.
    ``gcompris_sound("memory-sound.rcc", "LRRain_in_garden_01_LA_cut.ogg")``. Useful ones:
    explore_farm_animals.rcc (dog, cat, cow, sheep, horse, pig, duck, owl, chickens .ogg),
    memory-sound.rcc (LRBark_1/3, LRRain_in_garden_01, LRApplauses_1, LRTrain_slowing_down_01 ... _LA_cut.ogg),
    instruments.rcc (piano, violin, trumpet ... .ogg).
    """
    dest = CACHE / "gcompris" / Path(rcc_name).stem / Path(member).name
    if not dest.exists():
        files = dict(rcc_files(require(GCOMPRIS_RCC / rcc_name, "gcompris-qt-data").read_bytes()))
        found = [path for path in files if path == member or path.endswith("/" + member)]
        if len(found) != 1:
            pytest.fail(f"{rcc_name} holds {len(found)} files named {member!r}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(files[found[0]])
    return dest


def rcc_files(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every file in a Qt binary resource (.rcc), zlib-compressed ones inflated.

    Layout: a header ("qres", version, then the offsets of the tree, the data and the names), a tree
    of fixed-size nodes (name offset, flags, then a directory's child count and first child index, or a
    file's locale and data offset; version 2 and later add an 8-byte modification time), names as
    length + hash + UTF-16BE, and data as a 4-byte length + bytes (compressed: a 4-byte size + zlib).
    """
    magic, version, tree, payload, names = struct.unpack_from(">4sIIII", data)
    if magic != b"qres":
        raise ValueError("not a Qt resource file (no 'qres' magic)")
    node_size = 22 if version >= 2 else 14

    def name(offset: int) -> str:
        (length,) = struct.unpack_from(">H", data, names + offset)
        start = names + offset + 6  # after the length and the name's hash
        return data[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        node = tree + index * node_size
        name_offset, flags = struct.unpack_from(">IH", data, node)
        path = prefix + name(name_offset) if index else ""  # the root node has no name
        if flags & 0x02:  # directory
            count, first = struct.unpack_from(">II", data, node + 6)
            for child in range(first, first + count):
                yield from walk(child, path + "/" if path else "")
            return
        (offset,) = struct.unpack_from(">I", data, node + 10)
        (size,) = struct.unpack_from(">I", data, payload + offset)
        blob = data[payload + offset + 4 : payload + offset + 4 + size]
        if flags & 0x04:
            raise ValueError(f"{path} is zstd-compressed, which this reader does not inflate")
        yield path, zlib.decompress(blob[4:]) if flags & 0x01 else blob

    yield from walk(0, "")


READING = [
    "The river ran slowly past the mill while the miller counted his sacks of grain.",
    "In the evening the children walked home along the old stone wall.",
    "Snow covered the hills for most of that long and quiet winter.",
    "The baker's oven was the warmest place in the whole village.",
    "A traveller arrived one night with a lantern and a heavy coat.",
    "Nobody could remember when the bridge had last been repaired.",
    "The fisherman mended his nets by the harbour every Sunday afternoon.",
    "Apples from the orchard were carried to the market in wooden carts.",
    "The schoolteacher wrote long letters to her sister in the capital.",
    "Thunder rolled over the valley and the cattle gathered under the oaks.",
    "The blacksmith's hammer could be heard from the far end of the street.",
    "Every spring the swallows returned to nest under the barn roof.",
    "The old shepherd told stories about wolves that nobody believed.",
    "A narrow path led from the chapel down to the frozen lake.",
    "The tailor kept a cat that slept all day in the shop window.",
    "Lanterns were lit along the quay when the fishing boats came home.",
]
"""Sentences of a read text, unlike each other and unlike a meeting: the filler of a long recording."""
