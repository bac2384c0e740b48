"""The web page of `copilot serve` in headless Chromium (Debian's chromium and chromium-driver, through Selenium):
upload the example clip, ask, and find the answer, the program graph, the transcript, the timeline and the timings;
record from Chromium's fake microphone and check the wav the page would send."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.test_serve import example_clip, running_server

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # the default 1.5B LLM: the 0.5B one sometimes answers "what do they plan?" with a line of the transcript
    with running_server("--planner", "fixed:asr,voice_activity,sound_events", "--llm", "embedded") as url:
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
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def test_upload_ask_and_see_the_answer_with_its_evidence(server, browser, tmp_path):
    clip = example_clip(tmp_path)
    browser.get(server + "/")
    assert browser.title == "Speech Copilot"
    WebDriverWait(browser, 30).until(
        lambda b: "fixed:asr,voice_activity,sound_events" in b.find_element(By.ID, "server").text
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
        "sound_events",
    ]
    transcript = browser.find_element(By.CSS_SELECTOR, "#evidence .transcript").text
    assert "team picnic for Saturday" in transcript and "0:01.1" in transcript
    timeline = browser.find_element(By.ID, "timeline").text
    assert all(row in timeline for row in ("transcript", "voice activity", "Rain"))
    assert "Rain" in browser.find_element(By.CSS_SELECTOR, "#evidence .chips").text
    assert "total" in browser.find_element(By.ID, "timings").text
    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000


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
