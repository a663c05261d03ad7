"""The web UI of ganeti-rapi in headless Chromium (Debian's chromium and
chromium-driver, driven through Selenium) on a one-node virtual cluster: the
pages render what the cluster has, and an instance started from the UI by a
write user is running afterwards, its job log followed to the end.

Screenshots of each page go to GANETI_TEST_ARTIFACTS (default
/tmp/ganeti-test-artifacts)/ui.
"""

import os
import shutil

import pytest

import vcluster

CHROMEDRIVER = "/usr/bin/chromedriver"
NOOP = "/usr/share/ganeti/os/noop"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMEDRIVER),
                       reason="Debian's chromium-driver is not installed"),
    pytest.mark.skipif(not os.path.isdir(NOOP),
                       reason="Debian's ganeti-os-noop is not installed")]
ARTIFACTS = os.path.join(os.environ.get("GANETI_TEST_ARTIFACTS",
                                        "/tmp/ganeti-test-artifacts"), "ui")
INSTANCE = "web1.example.com"
WAIT = 60


@pytest.fixture(scope="module")
def vc():
    vc = vcluster.VirtualCluster(1)
    try:
        vc.init()
        m = vc.master
        m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
              "--no-ip-check", "-t", "diskless", "--no-nics", "--no-start",
              "-B", "maxmem=256,minmem=256", INSTANCE, check=True)
        m.write_rapi_users("operator oppass write\nviewer viewpass\n")
        yield vc
    finally:
        vc.cleanup()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--ignore-certificate-errors", "--window-size=1280,900",
                "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    os.makedirs(ARTIFACTS)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, css, text=None):
    """The element matching ``css`` (containing ``text``) once the page shows it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d):
        for elem in d.find_elements(By.CSS_SELECTOR, css):
            if text is None or text in elem.text:
                return elem
        return False
    return WebDriverWait(driver, WAIT).until(found)


def _open(driver, vc, page):
    driver.get("https://%s:5080/ui/#%s" % (vc.master.ip, page))


def _shot(driver, name):
    driver.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))


def test_pages_show_the_cluster(vc, browser):
    m = vc.master
    _open(browser, vc, "/")
    assert _wait(browser, "#cluster-name").text == vcluster.CLUSTER_NAME
    assert _wait(browser, "#node-count").text == "1"
    assert _wait(browser, "#instance-count").text == "1 (0 running)"
    _shot(browser, "cluster")
    _open(browser, vc, "/nodes")
    row = _wait(browser, "tr[data-node='%s']" % m.name)
    memory = row.find_element("css selector", ".memory .usage")
    used = int(memory.get_attribute("data-used"))
    mtotal, mfree = m.run("gnt-node", "list", "--no-headers", "--units=m",
                          "--separator=|", "-o", "mtotal,mfree",
                          check=True).stdout.strip().split("|")
    assert "MiB free" in memory.text and 0 < used <= 100
    assert memory.text.endswith("of %d MiB free" % int(float(mtotal)))
    _shot(browser, "nodes")
    _open(browser, vc, "/instances")
    row = _wait(browser, "tr[data-instance='%s']" % INSTANCE)
    assert row.find_element("css selector", ".status").text == "ADMIN_down"
    assert row.find_element("css selector", ".pnode").text == m.name
    # no buttons before logging in
    assert row.find_elements("css selector", "button") == []
    _shot(browser, "instances")


def test_a_write_user_starts_an_instance(vc, browser):
    m = vc.master
    _open(browser, vc, "/instances")
    _wait(browser, "tr[data-instance='%s']" % INSTANCE)
    browser.find_element("id", "user").send_keys("viewer")
    browser.find_element("id", "password").send_keys("wrong")
    browser.find_element("id", "login-button").click()
    assert "401" in _wait(browser, "#message.error", "Login failed").text
    browser.find_element("id", "password").clear()
    browser.find_element("id", "user").clear()
    browser.find_element("id", "user").send_keys("operator")
    browser.find_element("id", "password").send_keys("oppass")
    browser.find_element("id", "login-button").click()
    _wait(browser, "#whoami", "operator")
    row = _wait(browser, "tr[data-instance='%s']" % INSTANCE)
    _wait(browser, "tr[data-instance='%s'] button[data-action='start']" % INSTANCE).click()
    # the job page follows the job's log until it ends
    assert _wait(browser, "#job-status", "success").text == "success"
    assert "INSTANCE_STARTUP(%s)" % INSTANCE in browser.page_source
    _shot(browser, "job")
    status = m.run("gnt-instance", "list", "--no-headers", "-o", "status", INSTANCE,
                   check=True).stdout.strip()
    assert status == "running"
    _open(browser, vc, "/instances")
    row = _wait(browser, "tr[data-instance='%s'] .status" % INSTANCE, "running")
    assert row.text == "running"
    _open(browser, vc, "/jobs")
    _wait(browser, "tr[data-job] .status", "success")
    _shot(browser, "jobs")
    # the job submitted from the UI carries the RAPI's reason
    out = m.run("gnt-job", "list", "--no-headers", "-o", "summary", check=True).stdout
    assert "INSTANCE_STARTUP(%s)" % INSTANCE in out


def test_the_job_page_follows_the_log_live(vc, browser):
    """A job of four one-second steps: the page shows its first log line while
    it still runs (through /2/jobs/ID/wait, as the operator is logged in),
    then every line and the end."""
    m = vc.master
    proc = m.run("gnt-debug", "delay", "--submit", "--repeat=4", "1", check=True)
    job = (proc.stdout + proc.stderr).split()[-1]       # "JobID: N"
    assert job.isdigit(), proc
    _open(browser, vc, "/jobs/%s" % job)
    _wait(browser, "#job-log", "Test delay iteration 0/3")
    assert _wait(browser, "#job-status").text in ("running", "success")
    running_seen = browser.find_element("id", "job-status").text == "running"
    assert _wait(browser, "#job-status", "success").text == "success"
    log = browser.find_element("id", "job-log").text
    # "HH:MM:SS message", the message as gnt-job watch shows it
    assert [line.split(" ", 1)[1] for line in log.splitlines()] == [
        " - INFO: Test delay iteration %d/3" % i for i in range(4)]
    assert running_seen, "the page showed the job only after it ended"
    _shot(browser, "job-log")
