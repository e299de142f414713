"""Regenerate and edit-and-resend make versions, never overwrites: in Chromium against a real
server and a test upstream, each makes a new version, the navigator of the message switches the
branch below it ("Previous version", "Next version", "2 / 2"), and a reload shows the branch
last chosen, its navigators too."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import ASSISTANT, ask
from tests.support.server import Running
from tests.support.upstream import FakeUpstream, paced_answer

USER = 'article[data-role="user"]'


def answered(upstream: FakeUpstream, text: str) -> None:
    upstream.add("m", paced_answer([text], 50))


def navigator(article: Locator) -> Locator:
    return article.locator('[data-part="versions"]')


def test_regenerate_and_edit_and_resend_make_branches_that_survive_reload(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    answered(upstream, "Answer one.")
    page.goto(bridge.http)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    ask(page, "first question")
    answer = page.locator(ASSISTANT).last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("Answer one.")
    expect(navigator(answer)).to_be_hidden()  # one version: no navigator

    # Regenerate: a second version of the answer, the first kept.
    answered(upstream, "Answer two.")
    page.get_by_role("button", name="Regenerate answer 1").click()
    expect(answer).to_contain_text("Answer two.")
    expect(answer).to_have_attribute("data-state", "done")
    expect(navigator(answer)).to_contain_text("2 / 2")
    navigator(answer).get_by_role("button", name="Previous version").click()
    answer = page.locator(ASSISTANT).last
    expect(answer).to_contain_text("Answer one.")
    expect(navigator(answer)).to_contain_text("1 / 2")
    navigator(answer).get_by_role("button", name="Next version").click()
    answer = page.locator(ASSISTANT).last
    expect(answer).to_contain_text("Answer two.")

    # Edit the question and send it again: a second version of the question, with its answer.
    answered(upstream, "Answer three.")
    page.get_by_role("button", name="Edit question 1").click()
    box = page.get_by_role("textbox", name="New version of question 1")
    expect(box).to_have_value("first question")
    box.fill("second question")
    page.get_by_role("button", name="Send", exact=True).first.click()
    question = page.locator(USER).last
    expect(question).to_contain_text("second question")
    answer = page.locator(ASSISTANT).last
    expect(answer).to_contain_text("Answer three.")
    expect(answer).to_have_attribute("data-state", "done")
    expect(navigator(question)).to_contain_text("2 / 2")
    assert page.locator(USER).count() == 1
    assert page.locator(ASSISTANT).count() == 1

    # Back to the first question: its branch, with the answer version last shown there.
    navigator(question).get_by_role("button", name="Previous version").click()
    question = page.locator(USER).last
    expect(question).to_contain_text("first question")
    answer = page.locator(ASSISTANT).last
    expect(answer).to_contain_text("Answer two.")
    expect(navigator(answer)).to_contain_text("2 / 2")
    expect(navigator(question)).to_contain_text("1 / 2")

    # Stored: a reload shows the same branch and the same navigators.
    page.reload()
    question = page.locator(USER).last
    answer = page.locator(ASSISTANT).last
    expect(question).to_contain_text("first question")
    expect(answer).to_contain_text("Answer two.")
    expect(navigator(question)).to_contain_text("1 / 2")
    expect(navigator(answer)).to_contain_text("2 / 2")
    navigator(question).get_by_role("button", name="Next version").click()
    expect(page.locator(USER).last).to_contain_text("second question")
    expect(page.locator(ASSISTANT).last).to_contain_text("Answer three.")
