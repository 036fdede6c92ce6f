"""Household cards (明白卡) as a printable PDF, one A4 page per household: the household, its helper and the
helper's phone, the village's points rules in brief, and the binding code with its QR.

Printing issues fresh binding codes: only their keyed hashes are stored, so a code can be shown once, and the
card is where it is shown. A village's print therefore invalidates every older unused code of the village; the
print is audited. Chinese is drawn with reportlab's built-in CID font STSong-Light: no font file to install.

The helper's name and phone are printed in full: the card is handed to the family so that they can reach their
helper, and the number is the helper's work contact. The head of household is masked, as everywhere on paper that
may hang on a wall.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from backend.audit.service import Actor, place_of_village, record
from backend.auth.scope import Scope, load_household, load_village
from backend.auth.service import household_label, issue_binding_code
from backend.crypto import mask_name
from backend.errors import InvalidRequest, NoRuleBook
from backend.org.models import Cadre, Household, Pairing
from backend.points.models import ItemKind, RuleBook
from backend.points.rules import active_rule_book
from backend.timeutil import today_local

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

# How many items of each list a card names; the rest is counted ("等 25 项").
ITEMS_SHOWN = {ItemKind.positive: 14, ItemKind.negative: 8, ItemKind.veto: 4}
KIND_HEADINGS = {ItemKind.positive: "加分事项", ItemKind.negative: "扣分事项", ItemKind.veto: "一票否决"}
TITLE_CHARS = 15


@dataclass(frozen=True)
class RulesBrief:
    title: str
    base_score: int
    lines: dict[ItemKind, list[str]]
    counts: dict[ItemKind, int]


@dataclass(frozen=True)
class Card:
    town_name: str
    village_name: str
    household_number: str
    head_name: str  # masked
    members: int
    helper_name: str | None
    helper_work_unit: str | None
    helper_phone: str | None
    rules: RulesBrief | None
    binding_code: str
    issued_on: date


def rules_brief(book: RuleBook) -> RulesBrief:
    lines: dict[ItemKind, list[str]] = {kind: [] for kind in ItemKind}
    counts = dict.fromkeys(ItemKind, 0)
    for item in book.items:
        counts[item.kind] += 1
        if len(lines[item.kind]) < ITEMS_SHOWN[item.kind]:
            title = item.title if len(item.title) <= TITLE_CHARS else item.title[: TITLE_CHARS - 1] + "…"
            points = "" if item.kind == ItemKind.veto else f" {item.signed_points:+d}"
            lines[item.kind].append(f"{title}{points}")
    return RulesBrief(book.title, book.base_score, lines, counts)


def _village_rules(session: Session, village_id: int) -> RulesBrief | None:
    try:
        return rules_brief(active_rule_book(session, village_id, today_local()))
    except NoRuleBook:
        return None


def _helpers(session: Session, household_ids: list[int]) -> dict[int, Cadre]:
    """Each household's current helper (帮扶责任人), in one query."""
    today = today_local()
    rows = session.execute(
        select(Pairing.household_id, Cadre)
        .join(Cadre, Cadre.id == Pairing.cadre_id)
        .where(
            Pairing.household_id.in_(household_ids),
            Pairing.start_on <= today,
            or_(Pairing.end_on.is_(None), Pairing.end_on >= today),
        )
    )
    return {household_id: cadre for household_id, cadre in rows}


def _card(household: Household, helper: Cadre | None, rules: RulesBrief | None, code: str) -> Card:
    head = next((r for r in household.residents if r.is_head), None)
    return Card(
        town_name=household.village.town.name,
        village_name=household.village.name,
        household_number=household.number,
        head_name=mask_name(head.name) if head else "—",
        members=len(household.residents),
        helper_name=helper.name if helper else None,
        helper_work_unit=helper.work_unit if helper else None,
        helper_phone=helper.phone if helper else None,
        rules=rules,
        binding_code=code,
        issued_on=today_local(),
    )


def print_household_card(session: Session, scope: Scope, actor: Actor, household_id: int) -> bytes:
    """One household's card with a fresh binding code (its old code stops working); audited."""
    household = load_household(session, scope, household_id)
    code = issue_binding_code(session, household)
    card = _card(
        household,
        _helpers(session, [household.id]).get(household.id),
        _village_rules(session, household.village_id),
        code,
    )
    record(
        session,
        actor,
        "household.print",
        "household",
        household.id,
        f"{household_label(household)} 打印明白卡，重新发放绑定码，旧码作废",
        place_of_village(session, household.village_id),
    )
    return render_cards([card])


def print_village_cards(session: Session, scope: Scope, actor: Actor, village_id: int) -> bytes:
    """Every household card of the village, each with a fresh code: the village's older unused codes all stop
    working (phones already bound stay bound). One audit row."""
    village = load_village(session, scope, village_id)
    households = list(
        session.scalars(
            select(Household)
            .where(Household.village_id == village.id)
            .options(selectinload(Household.residents))
            .order_by(Household.number)
        )
    )
    if not households:
        raise InvalidRequest(f"{village.name}还没有农户，没有明白卡可打印")
    helpers = _helpers(session, [h.id for h in households])
    rules = _village_rules(session, village.id)
    cards = [_card(h, helpers.get(h.id), rules, issue_binding_code(session, h)) for h in households]
    record(
        session,
        actor,
        "village.print",
        "village",
        village.id,
        f"{village.name} 打印明白卡 {len(cards)} 户，全村旧绑定码作废",
        place_of_village(session, village.id),
    )
    return render_cards(cards)


# --- Drawing ---

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
QR_SIZE = 48 * mm


def grouped_code(code: str) -> str:
    """ABCD-2345: two groups of four are easier to read aloud and type than eight in a row."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def _qr(canvas: Canvas, code: str, x: float, y: float) -> None:
    """The code as a full QR (segno: a Micro QR, which it would pick for text this short, is not read by WeChat's
    scanner), drawn as one filled path of its dark modules with a quiet zone of two. reportlab's own QR widget
    encodes in pure Python twice per draw: 300 QRs took 10.6 s against 2.2 s this way (same run, busy 2-core
    machine)."""
    matrix = segno.make_qr(code, error="m").matrix
    module = QR_SIZE / (len(matrix) + 4)
    path = canvas.beginPath()
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                path.rect(x + (column + 2) * module, y + QR_SIZE - (row + 3) * module, module, module)
    canvas.drawPath(path, stroke=0, fill=1)


class _Writer:
    """Lines of text down the page from a cursor."""

    def __init__(self, canvas: Canvas, x: float, y: float) -> None:
        self.canvas, self.x, self.y = canvas, x, y

    def line(self, text: str, size: float = 11, gap: float = 1.5, indent: float = 0) -> None:
        self.canvas.setFont(FONT, size)
        self.canvas.drawString(self.x + indent, self.y, text)
        self.y -= size * gap


def _draw_card(canvas: Canvas, card: Card) -> None:
    top = PAGE_HEIGHT - MARGIN
    canvas.setTitle("明白卡")
    canvas.setFont(FONT, 22)
    canvas.drawCentredString(PAGE_WIDTH / 2, top - 10 * mm, f"{card.village_name}村民积分明白卡")
    canvas.setLineWidth(0.8)
    canvas.rect(MARGIN, MARGIN, PAGE_WIDTH - 2 * MARGIN, PAGE_HEIGHT - 2 * MARGIN)

    facts = _Writer(canvas, MARGIN + 8 * mm, top - 26 * mm)
    facts.line(f"{card.town_name} {card.village_name}", 12)
    facts.line(f"户号：{card.household_number}", 16, 1.6)
    facts.line(f"户主：{card.head_name}", 16, 1.6)
    facts.line(f"家庭人数：{card.members} 人", 12)
    if card.helper_name:
        facts.line(f"帮扶责任人：{card.helper_name}（{card.helper_work_unit}）", 13, 1.6)
        facts.line(f"联系电话：{card.helper_phone or '—'}", 16, 1.6)
    else:
        facts.line("帮扶责任人：无（如需帮助请联系村委会）", 13, 1.6)

    qr_x = PAGE_WIDTH - MARGIN - 8 * mm - QR_SIZE
    qr_y = top - 20 * mm - QR_SIZE
    _qr(canvas, card.binding_code, qr_x, qr_y)
    canvas.setFont("Helvetica-Bold", 20)
    canvas.drawCentredString(qr_x + QR_SIZE / 2, qr_y - 9 * mm, grouped_code(card.binding_code))
    canvas.setFont(FONT, 10)
    canvas.drawCentredString(qr_x + QR_SIZE / 2, qr_y - 15 * mm, "绑定码")

    how = _Writer(canvas, MARGIN + 8 * mm, min(facts.y, qr_y - 22 * mm) - 2 * mm)
    how.line("怎样用手机查积分", 14, 1.7)
    how.line("1. 微信打开“乡治”小程序，进入“绑定我家”。", 11)
    how.line(f"2. 扫描上方二维码，或输入绑定码 {grouped_code(card.binding_code)}。", 11)
    how.line(f"3. 家里每位成员都可以用这张卡绑定自己的微信（最多 {card.members} 部手机）。", 11)
    how.line("4. 换了手机或手机丢失，请到村委会解绑，再用本卡重新绑定。", 11, 2.0)

    _draw_rules(canvas, card.rules, how.y)
    canvas.setFont(FONT, 9)
    canvas.drawString(
        MARGIN + 8 * mm, MARGIN + 6 * mm, f"{card.issued_on:%Y年%m月%d日} 发放。重新打印后，旧卡上的绑定码作废。"
    )


def _draw_rules(canvas: Canvas, rules: RulesBrief | None, y: float) -> None:
    """The rules in two columns: what adds points on the left, what deducts and what vetoes on the right."""
    left = _Writer(canvas, MARGIN + 8 * mm, y)
    if rules is None:
        left.line("本村积分规则尚未公布，请留意村务公开栏。", 12)
        return
    left.line(f"积分规则（{rules.title}）：每户基础分 {rules.base_score} 分", 13, 1.8)
    right = _Writer(canvas, PAGE_WIDTH / 2 + 2 * mm, left.y)
    for column, kind in ((left, ItemKind.positive), (right, ItemKind.negative), (right, ItemKind.veto)):
        shown, total = rules.lines[kind], rules.counts[kind]
        if not total:
            continue
        column.line(f"{KIND_HEADINGS[kind]}（共 {total} 项）", 11.5, 1.6)
        for text in shown:
            column.line(f"○ {text}", 10, 1.5, indent=2 * mm)
        if total > len(shown):
            column.line("其余见小程序“积分规则”", 10, 1.5, indent=2 * mm)
        column.y -= 4


def render_cards(cards: Iterable[Card]) -> bytes:
    """The cards, one A4 page each, as PDF bytes."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    for card in cards:
        _draw_card(canvas, card)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
