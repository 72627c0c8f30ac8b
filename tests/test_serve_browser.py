"""`tfxfer serve` in a real browser: its page, and pages of other origins calling its API (CORS)."""

import functools
import http.server
import json
import re
import shutil
import threading
import urllib.error
import urllib.request

import pytest

from tests.conftest import COLOURS, solid_image_bytes
from tests.test_serve import Server, exports  # noqa: F401 - the fixture, shared
from tfxfer.fitting import fit_head

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                    reason="headless Chromium and chromedriver are not installed")


def headless_chromium():
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@needs_chromium
def test_page_in_headless_chromium(exports, text_module, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    export = tmp_path / "export"
    shutil.copytree(exports[0], export)
    hostile = tmp_path / "hostile.tsv"
    label = "<img src=x onerror=alert(1)>"
    hostile.write_text("text\tlabel\nthe cat\tanimals\nthe dog\tanimals\nthe cow\tanimals\nthe goat\tanimals\n"
                       "the van\t" + label + "\nthe bus\t" + label + "\n")  # 2 to 1: balanced accuracy shown
    fit_head(text_module, hostile, head="linear", export_dir=export, name="hostile")
    many = tmp_path / "many.tsv"  # 12 intents: the page draws the top 10 and sums the rest
    many.write_text("text\tlabel\n" + "".join(f"the {w} {i}\tintent{i}\n" for i in range(12) for w in ("cat", "van")))
    fit_head(text_module, many, head="linear", export_dir=export, name="many")
    import keras  # a SavedModel of the user's beside them (models.config lists it from the next export on)

    regression = keras.Sequential([keras.Input((4,), name="measurements"), keras.layers.Dense(2)])  # no labels
    regression.export(str(export / "regression" / "1"), verbose=False)
    fit_head(text_module, exports[0].parent / "train.tsv", head="linear", abstain_below=0.99, export_dir=export,
             name="unsure")
    server = Server(export)
    browser = headless_chromium()
    try:
        browser.set_window_size(1300, 1100)
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 30)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "section.model[data-model=topics] textarea"))
        topics = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=topics]")
        assert browser.find_element(By.ID, "status").text == "6 models"  # topics, colours, hostile, many, unsure...
        other = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=regression]")  # ...and the user's
        assert other.find_element(By.CSS_SELECTOR, ".other-inputs").text == (
            "This model takes measurements (float32); the form sends texts and images only. Call it with the REST "
            "API: POST /v1/models/regression/versions/1:predict with {\"instances\": [...]}.")
        assert not other.find_elements(By.CSS_SELECTOR, "textarea")  # a text would only get a shape error
        readme = (export / "README.md").read_text()  # which does not tell it how to send texts either
        assert "## `regression`\n\nNot exported by tfxfer: `saved_model_cli show --dir regression/1 --all`" in readme
        assert "(1 of 1 version available)" in topics.text
        topics.find_element(By.CSS_SELECTOR, "textarea").send_keys("the goat and the cow")
        topics.find_element(By.CSS_SELECTOR, "button.predict").click()
        wait.until(lambda b: topics.find_elements(By.CSS_SELECTOR, ".result .predicted"))
        assert topics.find_element(By.CSS_SELECTOR, ".result .predicted").text == "animals"
        assert len(topics.find_elements(By.CSS_SELECTOR, ".result .score")) == 2
        low, high = json.loads((export / "topics" / "reports" / "1" / "report.json").read_text())[
            "cross_validation"]["accuracy_interval"]
        assert (f"(95% interval {100 * low:.1f}% - {100 * high:.1f}%) (guessing: 50.0%)" in topics.text), topics.text
        assert any(i.get_attribute("naturalWidth") != "0" for i in topics.find_elements(By.CSS_SELECTOR, ".plots img"))
        colours = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=colours]")
        image = tmp_path / "blue.png"
        image.write_bytes(solid_image_bytes(COLOURS["blue"], "png", jitter=3))
        colours.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(image))
        colours.find_element(By.CSS_SELECTOR, "button.predict").click()
        wait.until(lambda b: colours.find_elements(By.CSS_SELECTOR, ".result .predicted"))
        assert colours.find_element(By.CSS_SELECTOR, ".result .predicted").text == "blue"
        intents = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=many]")
        intents.find_element(By.CSS_SELECTOR, "textarea").send_keys("the cat")
        intents.find_element(By.CSS_SELECTOR, "button.predict").click()
        wait.until(lambda b: intents.find_elements(By.CSS_SELECTOR, ".result .more"))
        assert len(intents.find_elements(By.CSS_SELECTOR, ".result .score")) == 10
        assert intents.find_element(By.CSS_SELECTOR, ".result .more").text.startswith("2 more classes, 0.")
        section = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=hostile]")
        assert label in section.text  # shown as text...
        assert "Balanced accuracy (the mean recall of the classes)" in section.text
        assert "(one class always: 50.0%)" in section.text and "Balanced" not in topics.text
        # 4 to 2: beside the answer, its probability with classes as common as in training.
        section.find_element(By.CSS_SELECTOR, "textarea").send_keys("the van")
        section.find_element(By.CSS_SELECTOR, "button.predict").click()
        wait.until(lambda b: section.find_elements(By.CSS_SELECTOR, ".result .predicted"))
        assert re.fullmatch(r"\(probability 0\.\d{3} with classes as common as in training\)",
                            section.find_element(By.CSS_SELECTOR, ".result .probability").text)
        assert not topics.find_elements(By.CSS_SELECTOR, ".result .probability")  # 12 and 12: the scores
        # An export that abstains: its answer, and the top score it was not sure enough of.
        unsure = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=unsure]")
        unsure.find_element(By.CSS_SELECTOR, "textarea").send_keys("nothing known")
        unsure.find_element(By.CSS_SELECTOR, "button.predict").click()
        wait.until(lambda b: unsure.find_elements(By.CSS_SELECTOR, ".result .predicted"))
        assert unsure.find_element(By.CSS_SELECTOR, ".result .predicted").text == "unknown"
        assert re.fullmatch(r"\(top score: (animals|vehicles), probability 0\.\d{3}, below the model's threshold\)",
                            unsure.find_element(By.CSS_SELECTOR, ".result .probability").text)
        assert not browser.find_elements(By.CSS_SELECTOR, "img[src=x]")  # ...never as markup
        # On a phone the form and the report stack, and nothing runs off the side.
        browser.set_window_size(420, 900)
        form = topics.find_element(By.CSS_SELECTOR, "textarea")
        report = topics.find_element(By.CSS_SELECTOR, ".report")
        assert report.location["y"] > form.location["y"] + form.size["height"]
        assert browser.execute_script("return document.documentElement.scrollWidth") <= \
            browser.execute_script("return window.innerWidth")
        browser.set_window_size(1300, 1100)
        browser.save_screenshot(str(tmp_path / "page.png"))
        assert (tmp_path / "page.png").stat().st_size > 10000
        # The whole report on a page of its own: its plots load beside it, and a label is text there too.
        link = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=hostile] a.whole-report")
        browser.get(link.get_attribute("href"))
        wait.until(lambda b: b.execute_script(
            "return document.images.length >= 3 && [...document.images].every(i => i.complete && i.naturalWidth > 0)"))
        assert label in browser.find_element(By.TAG_NAME, "pre").text
        assert not browser.find_elements(By.CSS_SELECTOR, "img[src=x]")
    finally:
        browser.quit()
        server.stop()


@needs_chromium
def test_pages_of_the_origins_allowed_call_the_api_others_are_refused(exports, tmp_path):  # noqa: F811
    # A web app under development on another port could not call the models: no CORS answer.
    from selenium.webdriver.support.ui import WebDriverWait

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=site.serve_forever, daemon=True).start()
    allowed = f"http://127.0.0.1:{site.server_port}"
    server = Server(exports[0], "--allow-origin", allowed + "/")  # as copied from the address bar
    (tmp_path / "app.html").write_text(f"""<!doctype html><title>waiting</title><script>
        fetch("{server.url}/v1/models/topics:predict", {{method: "POST", headers: {{"Content-Type": "application/json"}},
              body: JSON.stringify({{instances: ["the cow and a goat"]}})}})
          .then((r) => r.json()).then((b) => document.title = "answered " + b.predictions[0].classes)
          .catch((e) => document.title = "refused " + e.name);
        </script>""")
    browser = headless_chromium()
    try:
        titles = {}
        for page in (allowed, f"http://localhost:{site.server_port}"):  # another origin: another host name
            browser.get(page + "/app.html")
            WebDriverWait(browser, 30).until(lambda b: b.title != "waiting")
            titles[page] = browser.title
    finally:
        browser.quit()
        server.stop()
        site.shutdown()
    assert list(titles.values()) == ["answered animals", "refused TypeError"]


class _PrefixProxy(http.server.BaseHTTPRequestHandler):
    """A reverse proxy that serves an upstream under a path prefix, as JupyterHub's
    jupyter-server-proxy and SageMaker Studio do (`/user/NAME/proxy/PORT/...` -> `/...`)."""

    prefix, upstream = "", ""

    def _forward(self):
        if not self.path.startswith(self.prefix):
            self.send_error(404, "not under the proxy's prefix")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        request = urllib.request.Request(self.upstream + "/" + self.path[len(self.prefix):].lstrip("/"), data=body,
                                         method=self.command, headers={"Content-Type": self.headers.get(
                                             "Content-Type", "application/octet-stream")})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status, headers, content = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as e:
            status, headers, content = e.code, e.headers, e.read()
        self.send_response(status)
        self.send_header("Content-Type", headers.get("Content-Type", "application/octet-stream"))
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


@needs_chromium
def test_page_works_behind_a_proxy_that_serves_it_under_a_path(exports):  # noqa: F811
    # JupyterHub and SageMaker Studio users reach a port as /user/NAME/proxy/PORT/: the page asked for
    # /static/app.js and /tfxfer/models at the host's root, and stayed blank.
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = Server(exports[0])
    handler = type("Proxy", (_PrefixProxy,), {"prefix": f"/user/ana/proxy/{server.port}", "upstream": server.url})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    browser = headless_chromium()
    try:
        for page in (f"{handler.prefix}/", handler.prefix):  # typed without its last slash too
            browser.get(f"http://127.0.0.1:{proxy.server_port}{page}")
            wait = WebDriverWait(browser, 30)
            wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "section.model[data-model=topics] textarea"))
            topics = browser.find_element(By.CSS_SELECTOR, "section.model[data-model=topics]")
            topics.find_element(By.CSS_SELECTOR, "textarea").send_keys("the goat and the cow")
            topics.find_element(By.CSS_SELECTOR, "button.predict").click()
            wait.until(lambda b: topics.find_elements(By.CSS_SELECTOR, ".result .predicted"))
            assert topics.find_element(By.CSS_SELECTOR, ".result .predicted").text == "animals"
            wait.until(lambda b: b.execute_script(  # the report's plots, and the page's style
                "return [...document.querySelectorAll('.plots img')].some(i => i.complete && i.naturalWidth > 0)"))
            assert browser.execute_script("return document.styleSheets[0].cssRules.length") > 0
            assert browser.current_url.endswith(f"{handler.prefix}/")
    finally:
        browser.quit()
        server.stop()
        proxy.shutdown()
