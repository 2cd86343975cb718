"""End to end in a real browser: `lore app` served on loopback (test profile: fake model, hash
embedder), driven by headless Chromium through Selenium — log in, ask, see the cited answer, expand
the citation, save screenshots (wide and narrow window) under the test's tmp dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app.auth import UsersFile
from retrieval.schema import Chunk

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "browser-test-password"
QUESTION = "How many days in advance must international travel be requested?"
PASSAGE = "International travel must be requested 21 days in advance. Requests are approved by the line manager."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"lore app exited early with status {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"lore app did not answer on {url} within {timeout:.0f}s")


@pytest.fixture
def browser_tools():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("headless Chromium is not installed: run `make system-deps` (apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is missing: install the dev extra (pip install -e '.[dev]')")


@pytest.fixture
def served_app(browser_tools, test_settings, tmp_path):
    """A LORE_HOME with one cited document and a user, and `lore app` running on it."""
    from retrieval.assistant import build_assistant

    document = tmp_path / "travel-policy.pdf"
    document.write_bytes(b"%PDF-1.4 travel policy\n")
    chunk = Chunk(id="travel-1", text=PASSAGE, source="travel-policy.pdf", doc_id="travel", page=4, section="International travel",
                  groups=("all-staff",), path=str(document))  # fmt: skip
    assistant = build_assistant(test_settings)
    assistant.index.upsert([chunk], assistant.embedder.embed_documents([chunk.text]))
    UsersFile(test_settings.users_path).add("alice", ("all-staff",), PASSWORD, rounds=4)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    env.update(LORE_HOME=str(test_settings.home), LORE_PROFILE="test")
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "app", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server's own session: only what this test started
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        print(f"server log: {tmp_path / 'server.log'}")


@pytest.fixture
def driver(browser_tools, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                f"--user-data-dir={tmp_path / 'chromium-profile'}", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    chrome.set_page_load_timeout(30)
    try:
        yield chrome
    finally:
        chrome.quit()


def expander_settled(text: str):
    """A wait condition: the open expander that holds `text`, once no animation runs on it."""
    from selenium.webdriver.common.by import By

    def settled(driver):
        found = driver.find_elements(By.XPATH, f"//details[@open][.//p[contains(., '{text}')]]")
        if not found:
            return False
        still = driver.execute_script("return arguments[0].getAnimations().length > 0 || !!arguments[0].style.height;", found[0])
        return False if still else found[0]

    return settled


def test_log_in_ask_and_expand_a_citation(served_app, driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)
    driver.get(served_app)

    user = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[aria-label='User name']")))
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stChatInput']"), "no chat before logging in"
    user.send_keys("alice")
    driver.find_element(By.CSS_SELECTOR, "input[aria-label='Password']").send_keys(PASSWORD)
    driver.find_element(By.XPATH, "//button[.//p[text()='Log in']]").click()

    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']")))
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)

    summary = wait.until(
        ec.element_to_be_clickable((By.XPATH, "//details//summary[contains(., 'travel-policy.pdf')]"))
    )
    answer = driver.find_elements(By.XPATH, "//*[@data-testid='stChatMessage']//p[contains(., '21 days in advance. [1]')]")
    assert answer, "the streamed answer with its citation marker is shown"
    assert "page 4" in summary.text and "International travel" in summary.text
    summary.click()
    # The expander opens in two timed animations (a few pixels, then the whole passage): judge the
    # passage once they have ended, and again after both could have run, not in between.
    wait.until(expander_settled("approved by the line manager"))
    time.sleep(0.7)
    details = wait.until(expander_settled("approved by the line manager"))
    assert details.find_element(By.XPATH, ".//p[contains(., 'approved by the line manager')]").is_displayed()
    assert driver.find_elements(By.XPATH, "//details[@open]//button[contains(., 'Download travel-policy.pdf')]")
    assert driver.find_elements(By.CSS_SELECTOR, "[data-testid='stFeedback'], [data-testid='stButtonGroup']")
    time.sleep(0.5)  # let the expander's open animation finish before the picture

    wide = tmp_path / "lore-app-chat.png"
    assert driver.save_screenshot(str(wide))
    driver.set_window_size(420, 900)  # a phone-sized window: the sidebar folds away, the chat stays usable
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']")))
    time.sleep(0.5)
    narrow = tmp_path / "lore-app-chat-narrow.png"
    assert driver.save_screenshot(str(narrow))
    assert wide.stat().st_size > 10_000 and narrow.stat().st_size > 5_000
    print(f"screenshots: {wide} {narrow}")
    copy_to = os.environ.get("APP_SCREENSHOT_DIR")  # optional: keep the pictures somewhere else too
    if copy_to:
        Path(copy_to).mkdir(parents=True, exist_ok=True)
        shutil.copy(wide, copy_to)
        shutil.copy(narrow, copy_to)
