"""The web page of `copilot serve` in headless Chromium (Debian's chromium and chromium-driver, through Selenium):
upload the example clip and download its transcript; ask, and find the answer, the program graph, the transcript, the speaker turns and totals,
the timeline and the timings; draw every tool's card from outputs of the tools' own models; record from Chromium's
fake microphone and check the wav the page would send."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from copilot.answering.models import Answer, Trace
from copilot.evidence import Evidence
from copilot.program import Program, Step
from copilot.registry import default_registry
from tests import corpora
from tests.scripted_server import scripted_server
from tests.test_serve import running_server

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # the default 1.5B LLM: the 0.5B one sometimes answers "what do they plan?" with a line of the transcript
    with running_server("--planner", "fixed:asr,voice_activity,diarization,sound_events", "--llm", "embedded") as url:
        yield url


@pytest.fixture()
def browser(tmp_path) -> Iterator[webdriver.Chrome]:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make test-deps` (Debian package {package})")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--use-fake-device-for-media-stream",  # a microphone that beeps, for the record button
        "--use-fake-ui-for-media-stream",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,2600",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads")})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def test_upload_ask_and_see_the_answer_with_its_evidence(server, browser, tmp_path):
    clip = corpora.example_clip(tmp_path)
    browser.get(server + "/")
    assert browser.title == "Speech Copilot"
    WebDriverWait(browser, 30).until(
        lambda b: "fixed:asr,voice_activity,diarization,sound_events" in b.find_element(By.ID, "server").text
    )
    browser.find_element(By.ID, "file").send_keys(str(clip))
    WebDriverWait(browser, 30).until(lambda b: "0:20.5" in b.find_element(By.ID, "clip-info").text)
    browser.find_element(By.ID, "question").send_keys("What do the two speakers plan to do on Saturday?")
    browser.find_element(By.ID, "ask").click()
    WebDriverWait(browser, 600).until(lambda b: not b.find_element(By.ID, "status").text.startswith("Working"))
    status = browser.find_element(By.ID, "status").text
    assert status.startswith("Answered"), status

    answer = browser.find_element(By.ID, "answer").text
    assert "picnic" in answer.lower()
    graph = browser.find_element(By.ID, "graph")
    assert [n.text.split("\n")[0] for n in graph.find_elements(By.CSS_SELECTOR, "g.node")] == [
        "asr",
        "voice_activity",
        "diarization",
        "sound_events",
    ]
    transcript = browser.find_element(By.CSS_SELECTOR, "#evidence .transcript").text
    assert "team picnic for Saturday" in transcript and "0:01.1" in transcript
    timeline = browser.find_element(By.ID, "timeline").text
    assert all(row in timeline for row in ("transcript", "voice activity", "speaker S1", "speaker S2", "Rain"))
    # the diarization card lists the turns, and the per-speaker totals apart on one line, never as turns
    card = tool_card(browser, "diarization")
    output = json.loads(card.find_element(By.TAG_NAME, "pre").get_attribute("textContent"))
    assert output["num_speakers"] == 2
    rows = listed(card)
    assert len(rows) == len(output["turns"]) >= 2
    for (time_range, what), turn in zip(rows, output["turns"], strict=True):
        assert re.fullmatch(r"\d+:\d\d\.\d\u2013\d+:\d\d\.\d", time_range) and what == f"speaker {turn['speaker']}"
    totals = card.find_element(By.CSS_SELECTOR, ".totals").text
    assert re.fullmatch(r"speaking time: S1 \d+\.\d s \u00b7 S2 \d+\.\d s", totals), totals
    shown = [float(x) for x in re.findall(r"(\d+\.\d) s", totals)]
    assert shown == pytest.approx([t["duration"] for t in output["speaking_time"]], abs=0.051)
    assert_no_bad_numbers(browser)
    assert "Rain" in browser.find_element(By.CSS_SELECTOR, "#evidence .chips").text
    assert "total" in browser.find_element(By.ID, "timings").text
    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_the_running_steps_progress_shows_beside_the_timer(browser, tmp_path):
    """The page streams its question and shows the server's progress comments (a scripted agent, no model)."""
    with scripted_server(folder=tmp_path) as server:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "file").send_keys(str(corpora.example_clip(tmp_path)))
        WebDriverWait(browser, 30).until(lambda b: "0:20.5" in b.find_element(By.ID, "clip-info").text)
        browser.find_element(By.ID, "question").send_keys("progress 8 then answer")
        browser.find_element(By.ID, "ask").click()
        seen: list[str] = []
        status = browser.find_element(By.ID, "status")
        WebDriverWait(browser, 30, poll_frequency=0.2).until(lambda b: seen.append(status.text) or seen[-1].startswith("Answered"))
        assert any(re.fullmatch(r"Working\u2026 \d+ s \u00b7 asr: \d+% \([1-8]/8 s\)", s) for s in seen), seen
        assert browser.find_element(By.ID, "answer").text == "answer to: progress 8 then answer"


def test_download_the_clips_transcript_with_its_speakers(server, browser, tmp_path):
    """The transcript button: the uploaded clip's transcript, in the format chosen, as a file the browser saves."""
    clip = corpora.example_clip(tmp_path)
    browser.get(server + "/")
    browser.find_element(By.ID, "file").send_keys(str(clip))
    browser.find_element(By.CSS_SELECTOR, "#transcript-format option[value=vtt]").click()
    browser.find_element(By.ID, "transcript").click()
    link = browser.find_element(By.ID, "transcript-link")
    status = browser.find_element(By.ID, "transcript-status")
    WebDriverWait(browser, 600).until(lambda b: not status.text.startswith("Transcribing"))
    assert link.text == "meeting.vtt", status.text
    saved = tmp_path / "downloads" / "meeting.vtt"
    WebDriverWait(browser, 30).until(lambda b: saved.exists())
    text = saved.read_text()
    assert text.startswith("WEBVTT\n\n00:00:0") and "[S1]: " in text and "[S2]: " in text and "picnic" in text


def tool_card(browser: webdriver.Chrome, tool: str):
    """The evidence card of the step that ran ``tool``."""
    cards = browser.find_elements(By.CSS_SELECTOR, "#evidence .tool")
    return next(c for c in cards if c.find_element(By.TAG_NAME, "h3").text.split()[0] == tool)


def listed(card) -> list[tuple[str, str]]:
    """The rows of a card's timed list, as (time range, what)."""
    rows = card.find_elements(By.CSS_SELECTOR, ".transcript li")
    times = [li.find_element(By.CLASS_NAME, "time").text for li in rows]
    return [(t, li.text.removeprefix(t).strip()) for t, li in zip(times, rows, strict=True)]


def assert_no_bad_numbers(browser: webdriver.Chrome) -> None:
    """Nothing on the answer's part of the page (text, tooltips, SVG attributes) is NaN or undefined."""
    html = browser.find_element(By.ID, "result").get_attribute("innerHTML")
    for bad in ("NaN", "undefined", "Infinity"):
        assert bad not in html, html[max(0, html.index(bad) - 300) : html.index(bad) + 100]


# One output of each tool, in the shapes its output model allows, with the values that can be missing left out.
OUTPUTS = {
    "duration": {"duration": 20.5, "source_sample_rate": 16000, "channels": 1},
    "asr": {
        "text": "Shall we move the picnic?",
        "language": "en",
        "language_probability": 0.98,
        "segments": [{"start": 1.1, "end": 3.2, "text": "Shall we move the picnic?"}],
        "words": [{"start": 1.1, "end": 1.4, "word": "Shall", "probability": 0.9}],
    },
    "language_id": {"languages": [{"code": "en", "name": "English", "probability": 0.97}], "speech_seconds": 9.1},
    "voice_activity": {"segments": [{"start": 1.0, "end": 5.5}], "speech_duration": 4.5, "speech_ratio": 0.22},
    "diarization": {
        "num_speakers": 2,
        "turns": [{"start": 1.5, "end": 5.3, "speaker": "S1"}, {"start": 6.0, "end": 10.4, "speaker": "S2"}],
        "speaking_time": [{"speaker": "S1", "duration": 3.8}, {"speaker": "S2", "duration": 4.4}],
    },
    "gender": {
        "speakers": [
            {"speaker": "S1", "gender": "male", "confidence": 0.97, "median_f0_hz": 112.4, "speech": 3.8},
            {"speaker": "S2", "gender": None, "confidence": 0.5, "median_f0_hz": None, "speech": 1.2},
        ]
    },
    "speaker_verification": {
        "score": 0.41,
        "same_speaker": False,
        "threshold": 0.72,
        "margin": -0.31,
        "confidence": "high",
        "speech": [3.8, 4.4],
    },
    "sound_events": {
        "sounds": [{"label": "Speech", "score": 0.99}, {"label": "Rain", "score": 0.95}],
        "background": [{"label": "Rain", "score": 0.95}],
        "events": [{"start": 0.0, "end": 20.5, "label": "Rain", "score": 0.95}],
    },
    "emotion": {
        "label": "neutral",
        "confidence": 0.4,
        "scores": [{"label": "neutral", "probability": 0.4}, {"label": "sad", "probability": 0.2}],
        "backend": "prosody",
        "prosody": {
            "median_f0_hz": None,
            "pitch_range_semitones": None,
            "loudness_dbfs": -24.0,
            "alpha_ratio_db": -12.0,
            "syllables_per_second": 3.5,
            "speech_seconds": 0.8,
        },
    },
    "loudness": {
        "lufs": None,
        "peak_dbfs": -20.0,
        "rms_dbfs": -20.0,
        "noise_floor_dbfs": -20.0,
        "silence_ratio": 0.0,
        "silence_threshold": -50.0,
        "note": "clip shorter than the 0.4 s BS.1770 block",
    },
    "pitch": {"median_hz": None, "low_hz": None, "high_hz": None, "range_semitones": None, "voiced_ratio": 0.0},
}


def test_every_tool_card_draws_what_its_output_holds(server, browser):
    """Each tool's card, drawn from an output its model validates, with nothing as NaN: per-speaker values that are not
    time ranges (diarization's totals, gender by speaker) are shown apart from the turns, a missing value as a dash."""
    registry = default_registry()
    evidence = []
    for i, (name, raw) in enumerate(OUTPUTS.items(), 1):
        output = registry.get(name).output_model.model_validate(raw)
        evidence.append(Evidence(step=f"s{i}", tool=name, output=output.model_dump(mode="json"), findings=output.findings()))
    evidence.append(
        Evidence(step="s99", tool="pitch", args={"start": 5.0}, error="0.050 s is too short to measure pitch")
    )
    answer = Answer(
        question="Everything?",
        text="All of it.",
        evidence=evidence,
        program=Program(steps=[Step(id=e.step, tool=e.tool, args=e.args) for e in evidence]),
        trace=Trace(planner="test", timings={"plan": 0.0, "total": 0.0}),
    )
    browser.get(server + "/")
    browser.execute_script("render(arguments[0])", answer.model_dump(mode="json"))
    assert browser.find_element(By.ID, "answer").text == "All of it."
    assert_no_bad_numbers(browser)

    diarization = tool_card(browser, "diarization")
    assert listed(diarization) == [("0:01.5\u20130:05.3", "speaker S1"), ("0:06.0\u20130:10.4", "speaker S2")]
    assert diarization.find_element(By.CSS_SELECTOR, ".totals").text == "speaking time: S1 3.8 s \u00b7 S2 4.4 s"
    gender = tool_card(browser, "gender")
    assert not gender.find_elements(By.CSS_SELECTOR, ".transcript")
    head, *rows = [
        [c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")] for r in gender.find_elements(By.TAG_NAME, "tr")
    ]
    assert head[0] == "speaker" and [dict(zip(head, r, strict=True)) for r in rows] == [
        {"speaker": "S1", "gender": "male", "confidence": "0.97", "median f0 hz": "112.4", "speech": "3.8"},
        {"speaker": "S2", "gender": "\u2013", "confidence": "0.5", "median f0 hz": "\u2013", "speech": "1.2"},
    ]
    assert "-20" in tool_card(browser, "loudness").find_element(By.CSS_SELECTOR, "table.kv").text
    assert tool_card(browser, "loudness").find_element(By.CSS_SELECTOR, ".facts").text.startswith("Loudness: ")
    assert "too short" in browser.find_element(By.CSS_SELECTOR, "#evidence .tool .error").text
    timeline = browser.find_element(By.ID, "timeline").text
    assert all(row in timeline for row in ("transcript", "voice activity", "speaker S1", "speaker S2", "Rain"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph g.node")) == len(evidence)


def test_record_a_clip_and_send_it_as_16_khz_wav(server, browser, tmp_path):
    """The record button (Chromium's fake microphone) gives a clip that the page encodes as the wav it sends."""
    browser.get(server + "/")
    record = browser.find_element(By.ID, "record")
    record.click()
    WebDriverWait(browser, 10).until(lambda b: "Stop" in record.text)
    time.sleep(2)
    record.click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "clip-info").text.startswith("recording"))
    part = browser.execute_async_script("audioPart(clips.audio1).then(arguments[arguments.length - 1])")
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"
    (tmp_path / "recording.wav").write_bytes(base64.b64decode(part["input_audio"]["data"]))
    samples, rate = sf.read(tmp_path / "recording.wav")
    assert rate == 16000 and samples.ndim == 1
    assert 1.5 < len(samples) / rate < 4 and abs(samples).max() > 0.01
