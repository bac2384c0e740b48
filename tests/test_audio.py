"""Loading audio the way users hand it over: many formats decode right, and every bad input is one clear line."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from copilot import audio, cli
from copilot.audio import MAX_CHANNELS, MAX_RATE, SAMPLE_RATE, from_array, load
from copilot.errors import AudioError

HZ = 440.0
LEFT, RIGHT = 0.6, 0.2  # channel amplitudes of a stereo test sine: the mono mix has amplitude 0.4


def sine(rate: int, seconds: float, channels: int) -> np.ndarray:
    """A 440 Hz sine, frames x channels; in stereo the left channel is three times the right."""
    x = np.sin(2 * np.pi * HZ * np.arange(round(rate * seconds)) / rate).astype(np.float32)
    return np.stack([LEFT * x, RIGHT * x], axis=1) if channels == 2 else (LEFT + RIGHT) / 2 * x[:, None]


def encode(
    path: Path, codec: str | None, rate: int = 44100, channels: int = 2, seconds: float = 2.0, video: bool = False
) -> Path:
    """Write ``sine(...)`` with PyAV's ``codec`` (None: no audio stream), plus a small video stream if asked."""
    with av.open(str(path), "w") as container:
        if video:
            pictures = container.add_stream("mpeg4", rate=25)
            pictures.width, pictures.height, pictures.pix_fmt = 64, 48, "yuv420p"
        if codec:
            layout = "stereo" if channels == 2 else "mono"
            stream = container.add_stream(codec, rate=rate, layout=layout)
            fmt = next(f for f in stream.codec_context.codec.audio_formats if f.name in ("fltp", "flt"))
            data, step = sine(rate, seconds, channels), stream.codec_context.frame_size or 1024
            for i in range(0, len(data), step):
                chunk = data[i : i + step]  # planar frames are channels x n, packed ones 1 x (n * channels)
                chunk = chunk.T if fmt.is_planar else chunk.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt.name, layout=layout)
                frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        if video:
            for i in range(round(25 * seconds)):
                frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
                frame.pts = i
                container.mux(pictures.encode(frame))
            container.mux(pictures.encode(None))
    return path


def assert_decoded(path: Path, rate: int, channels: int, seconds: float, tolerance: float = 1e-3) -> None:
    """``path`` loads with its rate, channels and length, as a 16 kHz mono mix of the right level and pitch."""
    audio = load(path)
    assert (audio.source_sample_rate, audio.channels, audio.sample_rate) == (rate, channels, SAMPLE_RATE)
    assert audio.duration == pytest.approx(seconds, abs=tolerance)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(len(audio.samples) - audio.duration * SAMPLE_RATE) <= 2
    middle = audio.samples[SAMPLE_RATE // 4 : -SAMPLE_RATE // 4]  # away from codec ramps at the ends
    rms = np.sqrt(np.mean(middle.astype(np.float64) ** 2))
    assert 20 * np.log10(rms / ((LEFT + RIGHT) / 2 / np.sqrt(2))) == pytest.approx(0, abs=0.5)  # dB off the mix
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.argmax(spectrum) * SAMPLE_RATE / len(middle) == pytest.approx(HZ, abs=1)


@pytest.mark.parametrize(
    ("name", "subtype", "rate", "channels"),
    [
        ("int16.wav", "PCM_16", 44100, 2),
        ("float32.wav", "FLOAT", 48000, 1),
        ("int24.wav", "PCM_24", 22050, 2),
        ("u8.wav", "PCM_U8", 8000, 1),
        ("lossless.flac", "PCM_16", 8000, 1),
        ("vorbis.ogg", "VORBIS", 44100, 2),
        ("lame.mp3", "MPEG_LAYER_III", 44100, 2),
    ],
)
def test_soundfile_formats(tmp_path: Path, name: str, subtype: str, rate: int, channels: int) -> None:
    path = tmp_path / name
    sf.write(path, sine(rate, 2.0, channels), rate, subtype=subtype)
    assert_decoded(path, rate, channels, 2.0)


@pytest.mark.parametrize(
    ("name", "codec", "rate", "channels", "video"),
    [
        ("aac.m4a", "aac", 44100, 2, False),
        ("opus.opus", "libopus", 48000, 2, False),
        ("opus.webm", "libopus", 48000, 1, False),
        ("video.mp4", "aac", 48000, 2, True),
        ("video.mkv", "libopus", 48000, 2, True),
    ],
)
def test_pyav_formats(tmp_path: Path, name: str, codec: str, rate: int, channels: int, video: bool) -> None:
    path = encode(tmp_path / name, codec, rate, channels, video=video)
    # AAC pads its last 1024-sample frame; test_aac_duration_excludes_encoder_padding holds it to 1 ms
    assert_decoded(path, rate, channels, 2.0, tolerance=1024 / rate if codec == "aac" else 1e-3)


def test_aac_duration_excludes_encoder_padding(tmp_path: Path) -> None:
    # The mp4 says the stream is 44100 samples long, but FFmpeg also decodes the encoder's padding
    # up to the end of the last 1024-sample frame (45056 samples, 1.022 s).
    path = encode(tmp_path / "second.m4a", "aac", 44100, 2, seconds=1.0)
    assert load(path).duration == pytest.approx(1.0, abs=1e-3)


def test_pcm_u8_through_pyav_is_centred(tmp_path: Path) -> None:
    # 8-bit PCM is unsigned (silence = 128); in a container soundfile does not read it reaches _to_float.
    path = tmp_path / "u8.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_u8", rate=8000, layout="mono")
        x = np.round(128 + 64 * np.sin(2 * np.pi * HZ * np.arange(16000) / 8000)).astype(np.uint8)
        frame = av.AudioFrame.from_ndarray(x[None], format="u8", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 8000, 0, Fraction(1, 8000)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    samples = load(path).samples
    assert abs(samples.mean()) < 0.01
    assert samples.max() == pytest.approx(0.5, abs=0.02)


def test_stereo_is_averaged_to_mono(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    data = sine(SAMPLE_RATE, 1.0, 2)
    sf.write(path, data, SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_allclose(load(path).samples, data.mean(axis=1), atol=1e-7)


def test_truncated_wav_loads_the_part_present(tmp_path: Path) -> None:
    # A half-downloaded wav: the header promises 2 s, the file holds 0.5 s; players play what is there.
    path = tmp_path / "cut.wav"
    sf.write(path, sine(16000, 2.0, 1), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 2 * 8000])
    assert load(path).duration == pytest.approx(0.5, abs=1e-3)


# Bad input, through the real command line


def copilot(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copilot.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
        timeout=120,
    )


def assert_one_line_error(run: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit status 2, nothing on stdout, and one `error: ...` line on stderr that holds ``expected``."""
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0]
    return lines[0]


def wav_with_format_tag(path: Path, tag: int) -> Path:
    """A mono 8 kHz wav whose fmt chunk names codec ``tag`` (0x9999 is no codec FFmpeg knows)."""
    fmt = struct.pack("<HHIIHH", tag, 1, 8000, 8000, 1, 8)
    data = bytes(8000)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def make_bad(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A bad input of ``kind`` and a phrase its error must contain."""
    path = tmp_path / {"missing": "missing.wav", "text": "notes.wav", "text-txt": "notes.txt"}.get(kind, kind)
    match kind:
        case "missing":
            return path, "not found"
        case "empty.wav":
            path.touch()
            return path, "empty"
        case "zero-frames.wav":
            sf.write(path, np.zeros((0, 1), np.float32), 16000)
            return path, "no samples"
        case "text" | "text-txt":
            path.write_text("Meeting notes: call Anna on Tuesday.\n")
            return path, "not an audio or video file"
        case "folder.wav":
            path.mkdir()
            return path, "folder"
        case "truncated.flac":
            sf.write(tmp_path / "whole.flac", sine(44100, 2.0, 2), 44100)
            path.write_bytes((tmp_path / "whole.flac").read_bytes()[:5000])
            return path, "flac"
        case "truncated.m4a":  # the index (moov atom) is at the end of the file
            path.write_bytes(encode(tmp_path / "whole.m4a", "aac").read_bytes()[:3000])
            return path, "not an audio or video file"
        case "truncated.mp3":
            sf.write(tmp_path / "whole.mp3", sine(44100, 2.0, 2), 44100)
            path.write_bytes((tmp_path / "whole.mp3").read_bytes()[:100])
            return path, "not an audio or video file"
        case "unknown-codec.wav":
            return wav_with_format_tag(path, 0x9999), "no decoder"
        case "video-only.mp4":
            return encode(path, None, video=True), "no audio stream"
    raise ValueError(kind)


BAD = [
    "missing",
    "empty.wav",
    "zero-frames.wav",
    "text",
    "text-txt",
    "folder.wav",
    "truncated.flac",
    "truncated.m4a",
    "truncated.mp3",
    "unknown-codec.wav",
    "video-only.mp4",
]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_one_line(tmp_path: Path, kind: str) -> None:
    path, phrase = make_bad(kind, tmp_path)
    assert_one_line_error(copilot("run", "duration", path), phrase, str(path))


def test_a_clip_after_the_questions_is_one_line(tmp_path: Path) -> None:
    clips = [tmp_path / "a.wav", tmp_path / "b.wav"]
    for clip in clips:
        sf.write(clip, sine(16000, 1.0, 1), 16000)
    run = copilot("ask", clips[0], "Is it loud?", clips[1], "What is said?")
    assert_one_line_error(run, f"{clips[1]} is a file, not a question")


def test_too_long_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two-seconds.wav"
    sf.write(path, sine(16000, 2.0, 1), 16000)
    line = assert_one_line_error(copilot("run", "duration", path, SPEECH_COPILOT_MAX_DURATION="1"), str(path))
    assert "2.0 s" in line and "SPEECH_COPILOT_MAX_DURATION" in line


@pytest.mark.parametrize("setting", ["ten", "0", "inf"])
def test_bad_max_duration_setting_is_one_line(tmp_path: Path, setting: str) -> None:
    path = tmp_path / "ok.wav"
    sf.write(path, sine(16000, 1.0, 1), 16000)
    run = copilot("run", "duration", path, SPEECH_COPILOT_MAX_DURATION=setting)
    assert_one_line_error(run, "SPEECH_COPILOT_MAX_DURATION")


def test_unreadable_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Permission bits do not stop root, so the refusal is simulated where the file is opened.
    path = tmp_path / "private.wav"
    sf.write(path, sine(16000, 1.0, 1), 16000)
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    assert cli.main(["run", "duration", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err


# Decode bombs: a file is bounded by what it decodes to, not by what its header claims


def pcm_wav(path: Path, rate: int, channels: int, n_bytes: int) -> Path:
    """A 16-bit PCM wav whose header claims ``rate`` and ``channels``, holding ``n_bytes`` of silence."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    data = bytes(n_bytes)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_a_244_byte_wav_claiming_100_million_samples_a_second_is_one_line(tmp_path: Path) -> None:
    # It passed every check and asked scipy for a 2-billion-tap resampling filter (14.9 GiB).
    path = pcm_wav(tmp_path / "bomb.wav", 100_000_007, 1, 200)
    assert path.stat().st_size == 244
    run = copilot("run", "duration", path)
    assert_one_line_error(run, "sampled at 100000007 Hz, above the 192000 Hz limit", str(path))
    misnamed = path.rename(tmp_path / "bomb.mkv")  # FFmpeg's reading of the same header is held to the same limit
    with pytest.raises(AudioError, match="sampled at 100000007 Hz, above the 192000 Hz limit"):
        load(misnamed)


@pytest.mark.parametrize("channels", [100, 2000])  # libsndfile reads 100; 2000 is past its own limit, so FFmpeg's
def test_a_wav_claiming_too_many_channels_is_refused(tmp_path: Path, channels: int) -> None:
    path = pcm_wav(tmp_path / "wide.wav", 16000, channels, 2 * channels * 10)
    with pytest.raises(AudioError, match=f"in {channels} channels, above the {MAX_CHANNELS} channel limit"):
        load(path)


def test_rates_no_voice_survives_and_arrays_past_the_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not a format the copilot decodes"):
        load(pcm_wav(tmp_path / "slow.wav", 500, 1, 1000))
    with pytest.raises(AudioError, match=f"above the {MAX_RATE} Hz limit"):
        from_array(np.zeros(16000, np.float32), MAX_RATE + 1)
    with pytest.raises(AudioError, match=f"above the {MAX_CHANNELS} channel limit"):
        from_array(np.zeros((16000, MAX_CHANNELS + 1), np.float32))


class CountingContainer:
    """A PyAV container that counts the samples decoded from it."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self.container, self.samples = container, 0

    def __enter__(self) -> CountingContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.container.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self.container, name)

    def decode(self, stream: av.audio.stream.AudioStream) -> Iterator[av.AudioFrame]:
        for frame in self.container.decode(stream):
            self.samples += frame.samples
            yield frame


def test_an_mp3_whose_header_understates_its_length_stops_decoding_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 s of mp3 whose Xing/Info header says 100 frames (2.6 s): FFmpeg believes the header, and every frame used
    # to be decoded before the length was checked.
    data = bytearray(encode(tmp_path / "long.mp3", "mp3", 44100, 1, seconds=30.0).read_bytes())
    tag = data.find(b"Info")
    data[tag + 8 : tag + 12] = struct.pack(">I", 100)
    path = tmp_path / "liar.mp3"
    path.write_bytes(bytes(data))
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert float(stream.duration * stream.time_base) < 3  # the lie is believed
    opened: list[CountingContainer] = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(CountingContainer(real_open(*a, **k))) or opened[-1])
    with pytest.raises(AudioError, match=r"audio is at least 5\.\d\d s long, above the 5 s limit"):
        load(path, max_duration=5)
    assert 5 * 44100 < opened[0].samples < 6 * 44100  # stopped a frame past the limit, not at 30 s


def test_channels_are_mixed_block_by_block_to_the_same_samples_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracemalloc

    from scipy.signal import resample_poly

    path = tmp_path / "wide.wav"
    rng = np.random.default_rng(34)
    sf.write(path, rng.uniform(-0.5, 0.5, (10 * 48000, 32)).astype(np.float32), 48000, subtype="PCM_16")
    data, _ = sf.read(path, dtype="float32", always_2d=True)  # 61 MB as float32
    expected = resample_poly(data.mean(axis=1), 1, 3).astype(np.float32)
    del data
    tracemalloc.start()
    decoded = load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(decoded.samples, expected) and decoded.channels == 32
    assert peak < 25e6  # never the whole file's channels at once
    monkeypatch.setattr(audio, "_BLOCK", 32 * 1000 + 7)  # many blocks of odd sizes: still the same samples
    assert np.array_equal(load(path).samples, expected)
