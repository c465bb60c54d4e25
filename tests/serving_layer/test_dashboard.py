"""The creator dashboard in real headless Chromium, against the API on a real port."""

from __future__ import annotations


import pytest

from serving_layer.app import create_app
from serving_layer.auth import Authenticator, key_digest
from app import wiring
from devtools.sandbox import wait_for
from tests.billing.conftest import make_books  # noqa: F401  (the billing scenario factory)
from tests.conftest import serving
from tests.serving_layer.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture
def live_api(counted):
    """The API with one key per creator of the counted stream."""
    creators = sorted({v["creator_id"] for v in counted.truth["videos"].values()})
    keys = {c: f"dash-key-{c}" for c in creators}
    app = create_app(wiring.serving_reader(counted.settings),
                     Authenticator(ADMIN_TOKEN, {key_digest(k): c for c, k in keys.items()}), None,
                     counted.settings.topic)
    with serving(app) as base:
        yield base, keys


def test_a_creator_sees_the_numbers_the_api_gives(live_api, browser, counted, artifacts):
    import httpx
    from selenium.webdriver.common.by import By

    base, keys = live_api
    creator = max(keys, key=lambda c: sum(v["views"] for v in counted.truth["videos"].values()
                                         if v["creator_id"] == c))
    headers = {"Authorization": f"Bearer {keys[creator]}"}
    expected = httpx.get(f"{base}/v1/creators/{creator}/views", headers=headers).json()
    top = max(expected["videos"], key=lambda v: v["views"])["video_id"]
    hourly = httpx.get(f"{base}/v1/videos/{top}/views/hourly", headers=headers).json()

    browser.get(f"{base}/dashboard/")
    browser.find_element(By.ID, "creator").send_keys(creator)
    browser.find_element(By.ID, "key").send_keys(keys[creator])
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait_for(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true", 30,
             what="the dashboard to load")

    assert int(browser.find_element(By.ID, "total").get_attribute("data-value")) == expected["views"]
    rows = {tr.get_attribute("data-video"): int(tr.find_element(By.CSS_SELECTOR, "td.num").get_attribute("data-value"))
            for tr in browser.find_elements(By.CSS_SELECTOR, "#videos tbody tr")}
    assert rows == {v["video_id"]: v["views"] for v in expected["videos"]}
    chart = browser.find_element(By.ID, "chart")
    assert chart.get_attribute("data-points") == str(len(hourly["hours"]))
    assert int(chart.get_attribute("data-views")) == sum(h["views"] for h in hourly["hours"])
    assert browser.find_elements(By.CSS_SELECTOR, "#chart canvas")   # uPlot drew it
    browser.save_screenshot(str(artifacts / "dashboard.png"))

    # A wrong key is told so, in the page.
    browser.find_element(By.ID, "key").clear()
    browser.find_element(By.ID, "key").send_keys("wrong")
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait_for(lambda: "not valid" in browser.find_element(By.ID, "status").text, 30, what="the error message")


def test_a_creator_sees_its_payouts_by_month_on_the_payouts_tab(make_books, browser, artifacts):
    import httpx
    from selenium.webdriver.common.by import By

    from audit.ledger import AuditLedger
    from billing.payouts import PayoutBook
    from tests.serving_layer.test_payouts import KEYS, OCTOBER

    books = make_books()
    books.publish(OCTOBER)
    assert books.cli("billing", "run", "--period", "2026-10").returncode == 0
    books.publish({**OCTOBER, ("creator_42", "2026-10-01"): 1230})   # corrected: the re-run adjusts
    assert books.cli("billing", "run", "--period", "2026-10").returncode == 0
    app = create_app(wiring.serving_reader(books.settings),
                     Authenticator(ADMIN_TOKEN, {key_digest(k): c for c, k in KEYS.items()}), None,
                     books.settings.topic, payouts=PayoutBook(AuditLedger(books.audit)))
    with serving(app) as base:
        expected = httpx.get(f"{base}/v1/creators/creator_42/payouts",
                             headers={"Authorization": f"Bearer {KEYS['creator_42']}"}).json()
        assert [p["kind"] for p in expected["payouts"]] == ["payout", "adjustment"]
        browser.get(f"{base}/dashboard/")
        browser.find_element(By.ID, "creator").send_keys("creator_42")
        browser.find_element(By.ID, "key").send_keys(KEYS["creator_42"])
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        wait_for(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true", 30,
                 what="the dashboard to load")
        assert not browser.find_element(By.ID, "payouts-tab").is_displayed()
        browser.find_element(By.ID, "tab-payouts").click()
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#payouts tbody tr"), 30, what="the payouts")

        assert not browser.find_element(By.ID, "views-tab").is_displayed()
        values = lambda tr: [td.get_attribute("data-value") for td in tr.find_elements(By.CSS_SELECTOR, "td")  # noqa: E731
                             if td.get_attribute("data-value") is not None]
        months = {tr.get_attribute("data-key"): values(tr)
                  for tr in browser.find_elements(By.CSS_SELECTOR, "#periods tbody tr")}
        assert months == {p["period"]: [str(p["views"]), p["amount"]] for p in expected["periods"]}
        lines = {tr.get_attribute("data-key"): values(tr)
                 for tr in browser.find_elements(By.CSS_SELECTOR, "#payouts tbody tr")}
        assert lines == {p["payout_id"]: [str(p["views"]), p["amount"], str(p["audit_seq"])]
                         for p in expected["payouts"]}
        browser.save_screenshot(str(artifacts / "dashboard-payouts.png"))
