"""What an older villager can read and hit, measured in the browser (docs: phone-ux.md, principle 4, after the
MIIT age-friendly rules): in 长辈版 every text is at least 18px and every tap target at least 60×60px; the home
page's text stands out from its background by at least 4.5:1."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.phone import tab, take_photo
from tests.factories import NOTICE_MONTH, World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections

# Every piece of text on the screen: [text, font size in px, colour, background colour behind it].
TEXTS = """() => {
  const backgroundOf = (element) => {
    for (let at = element; at; at = at.parentElement) {
      const colour = getComputedStyle(at).backgroundColor;
      if (!/^rgba\\(.*, 0\\)$/.test(colour) && colour !== 'transparent') return colour;
    }
    return 'rgb(255, 255, 255)';
  };
  const found = [];
  const walker = document.createTreeWalker(document.getElementById('app'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    const element = walker.currentNode.parentElement;
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (!text || !box.width || !box.height || style.visibility === 'hidden') continue;
    found.push([text, parseFloat(style.fontSize), style.color, backgroundOf(element)]);
  }
  return found;
}"""
# Everything a finger can press (not the decorative switch drawn inside the 长辈版 row): [what, width, height].
TARGETS = """() => Array.from(document.querySelectorAll(
    'button, a[href], input, [role=button], [role=switch], [role=tab], [role=link]'))
  .filter((element) => !element.closest('[aria-hidden=true]'))
  .map((element) => [element.getAttribute('aria-label') || element.innerText.trim() || element.outerHTML.slice(0, 60),
                     element.getBoundingClientRect()])
  .filter(([, box]) => box.width && box.height)
  .map(([what, box]) => [what, box.width, box.height])"""


def too_small(page: Page) -> dict[str, list]:
    """What on the screen is below 长辈版's sizes; empty lists when all is well."""
    return {
        "text under 18px": [(text, size) for text, size, _colour, _background in page.evaluate(TEXTS) if size < 18],
        "targets under 60×60px": [target for target in page.evaluate(TARGETS) if min(target[1:]) < 60],
    }


NOTHING_TOO_SMALL = {"text under 18px": [], "targets under 60×60px": []}


def rgb(colour: str) -> tuple[float, ...]:
    """'rgb(26, 26, 26)' or 'rgba(0, 0, 0, 0.5)' → (r, g, b, alpha)."""
    parts = [float(part) for part in re.findall(r"[\d.]+", colour)]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def luminance(red: float, green: float, blue: float) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def linear(channel: float) -> float:
        channel /= 255
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(colour: str, background: str) -> float:
    *text, alpha = rgb(colour)
    behind = rgb(background)[:3]
    seen = [alpha * t + (1 - alpha) * b for t, b in zip(text, behind, strict=True)]  # translucent text on its ground
    lighter, darker = sorted([luminance(*seen), luminance(*behind)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_elder_mode_gives_the_villager_text_of_at_least_18px_and_tap_targets_of_at_least_60px(
    open_app: Callable[[str], Page], village: World
) -> None:
    page = open_app(village.tokens["villager"])
    elder = page.get_by_role("switch", name=re.compile("^长辈版"))
    elder.click()
    expect(elder).to_have_attribute("aria-checked", "true")
    expect(page.get_by_text("我家可用积分", exact=True)).to_be_visible()
    assert too_small(page) == NOTHING_TOO_SMALL, "首页"

    tab(page, "积分超市")
    page.get_by_role("button", name="兑换", exact=True).click()
    expect(page.get_by_role("button", name="确认兑换")).to_be_visible()
    assert too_small(page) == NOTHING_TOO_SMALL, "积分超市, with the quantity and 确认兑换 open"

    tab(page, "我的")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    assert too_small(page) == NOTHING_TOO_SMALL, "我的"


def test_the_home_page_text_stands_out_from_its_background_by_at_least_4_5_to_1(
    open_app: Callable[[str], Page], village: World
) -> None:
    page = open_app(village.tokens["villager"])
    expect(page.get_by_text("我家可用积分", exact=True)).to_be_visible()
    texts = page.evaluate(TEXTS)
    assert len(texts) > 15, texts
    faint = [
        (text, colour, background, round(ratio, 2))
        for text, _size, colour, background in texts
        if (ratio := contrast(colour, background)) < 4.5
    ]
    assert faint == []


def test_elder_mode_keeps_the_good_deed_survey_and_notice_screens_large(
    open_app: Callable[[str], Page], village: World
) -> None:
    page = open_app(village.tokens["villager"])
    page.get_by_role("switch", name=re.compile("^长辈版")).click()
    page.get_by_role("button", name=re.compile("^申报好事")).click()
    expect(page.get_by_role("article").filter(has_text="拾金不昧")).to_contain_text("已通过，加 5 分")
    assert too_small(page) == NOTHING_TOO_SMALL, "我的申报"
    page.get_by_role("button", name="申报一件好事").click()
    page.get_by_role("radio", name=re.compile("^无偿献血")).click()
    take_photo(page)
    assert too_small(page) == NOTHING_TOO_SMALL, "申报好事, a deed chosen and a photo taken"

    page.goto("/m/#/surveys")
    page.get_by_role("button", name="去填写").click()
    page.get_by_role("radio", name="4 分").click()
    assert too_small(page) == NOTHING_TOO_SMALL, "填写测评"

    page.goto(f"/m/#/notice?month={NOTICE_MONTH}")
    page.get_by_role("button", name="对整个公示有异议").click()
    expect(page.get_by_role("button", name="提交申诉")).to_be_visible()
    assert too_small(page) == NOTHING_TOO_SMALL, "村里公示, with an objection being written"
