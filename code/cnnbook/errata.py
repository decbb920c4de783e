"""Errata of the source documents: the premises that do not hold and the student answers the book corrects.

``ERRATA`` is the one list. Each ``Erratum`` names the question (a seed id such as ``S0.Q4``),
says whether it corrects a *premise* of the source documents (a question that cannot be built
as given, material that is missing or garbled) or an *answer* of a student answer sheet (S2,
S3), paraphrases the claim and states what holds, in English and in Persian, and names the
label of the section that shows it. The errata page of each edition (``book/*/errata.md``)
shows the list with ``table(kind)``; a chapter that records a correction adds one entry here
and the page lists it after the next build.

Guarantees (checked in ``tests/test_errata.py``):

- every entry links to a ``(label)=`` that exists on the English and the Persian pages, and the
  build resolves the link as a cross-reference (HTML and LaTeX alike);
- ids are seed ids, *answer* entries come from the student answer sheets, entries are unique;
- no result is typed: a number the texts cite is a ``<<name>>`` slot that ``values``
  computes with the package (the sheets' own givens, such as the 16×16 target, may be written).

Texts are plain prose with inline math in ``$...$`` (rendered as math in both builds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

ERRATA_MIME = "application/vnd.cnnbook.errata+json"

Kind = Literal["premise", "answer"]
KINDS: tuple[Kind, ...] = ("premise", "answer")
#: Sheets whose answers are a student's, not the assignment's.
ANSWER_SHEETS = ("S2", "S3")
LANGUAGES = ("en", "fa")

SEED_ID = re.compile(r"^S(\d)\.([QTP])(\d+)$")
PLACEHOLDER = re.compile(r"<<(\w+)>>")
_PART_ORDER = {"T": 0, "Q": 0, "P": 1}  # in S1 the theory questions (T) come before the practical ones (P)


class ErratumError(ValueError):
    """An entry that cannot be shown: bad id or kind, or a ``<<name>>`` slot without a value."""


@dataclass(frozen=True)
class Erratum:
    """One correction: ``claim`` (paraphrased, never pasted) and ``truth`` in both languages.

    ``target`` is the label of the section that shows the correction; ``values`` computes the
    numbers the texts cite as ``<<name>>`` slots.
    """

    id: str
    kind: Kind
    target: str
    claim_en: str
    claim_fa: str
    truth_en: str
    truth_fa: str
    values: Callable[[], Mapping[str, Any]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not SEED_ID.match(self.id):
            raise ErratumError(f"{self.id!r} is not a seed id such as 'S0.Q4'")
        if self.kind not in KINDS:
            raise ErratumError(f"{self.id}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind == "answer" and not self.id.startswith(ANSWER_SHEETS):
            raise ErratumError(f"{self.id}: only the answer sheets {ANSWER_SHEETS} have student answers to correct")

    def text(self, part: Literal["claim", "truth"], language: str) -> str:
        """The raw text, with its ``<<name>>`` slots."""
        if language not in LANGUAGES:
            raise ErratumError(f"language must be one of {LANGUAGES}, not {language!r}")
        return getattr(self, f"{part}_{language}")

    def placeholders(self) -> set[str]:
        """Names of the computed values the texts cite."""
        return {name for part in ("claim", "truth") for language in LANGUAGES
                for name in PLACEHOLDER.findall(self.text(part, language))}

    def render(self, language: str, values: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Claim and truth in ``language`` with the ``<<name>>`` slots filled in."""
        if values is None:
            values = dict(self.values()) if self.values is not None else {}

        def fill(match: re.Match) -> str:
            name = match.group(1)
            if name not in values:
                raise ErratumError(f"{self.id}: no value for <<{name}>>; compute it in the entry's `values`")
            return format_value(values[name], language)

        return {part: PLACEHOLDER.sub(fill, self.text(part, language)) for part in ("claim", "truth")}


def format_value(value: Any, language: str) -> str:
    """A computed value as prose: integers with thousands separators, sequences as a list, shapes with ×."""
    if isinstance(value, bool):
        raise ErratumError("a yes/no value belongs in the text, not in a <<name>> slot")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        items = [format_value(v, language) for v in value]
        if len(items) < 2:
            return "".join(items)
        comma, conjunction = (", ", " and ") if language == "en" else ("، ", " و ")
        return comma.join(items[:-1]) + conjunction + items[-1]
    return str(value)


def order(seed_id: str) -> tuple[int, int, int]:
    """Sort key of a seed id: sheet, then the sheet's own order of questions."""
    match = SEED_ID.match(seed_id)
    if not match:
        raise ErratumError(f"{seed_id!r} is not a seed id")
    return int(match.group(1)), _PART_ORDER[match.group(2)], int(match.group(3))


def entries(kind: Kind | None = None) -> list[Erratum]:
    """The entries of ``kind`` (all if None), in the order of the sheets' questions."""
    chosen = [e for e in ERRATA if kind is None or e.kind == kind]
    return sorted(chosen, key=lambda e: order(e.id))  # stable: entries of one id keep their list order


class ErrataTable:
    """The errata of one kind as a cell output: the book's renderer writes it in the page's language
    with a cross-reference to each section; plain Jupyter shows an English HTML/text fallback."""

    def __init__(self, kind: Kind):
        if kind not in KINDS:
            raise ErratumError(f"kind must be one of {KINDS}, not {kind!r}")
        self.kind = kind
        self.rows = []
        for erratum in entries(kind):
            values = dict(erratum.values()) if erratum.values is not None else {}
            self.rows.append({"id": erratum.id, "target": erratum.target,
                              **{language: erratum.render(language, values) for language in LANGUAGES}})

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None):
        import html

        cells = "".join(f"<tr><td>{html.escape(r['id'])}</td><td>{html.escape(r['en']['claim'])}</td>"
                        f"<td>{html.escape(r['en']['truth'])}</td><td>{html.escape(r['target'])}</td></tr>"
                        for r in self.rows)
        text = "\n".join(f"{r['id']}: {r['en']['claim']} -> {r['en']['truth']} ({r['target']})" for r in self.rows)
        return {
            ERRATA_MIME: {"kind": self.kind, "rows": self.rows},
            "text/html": f"<table><tbody>{cells}</tbody></table>",
            "text/plain": text,
        }


def table(kind: Kind) -> ErrataTable:
    """The errata page's table of one kind: ``"premise"`` or ``"answer"``."""
    return ErrataTable(kind)


# --- computed values the entries cite ---------------------------------------------------------

def _s0_q4_values() -> dict[str, str]:
    from cnnbook import networks
    from cnnbook.arithmetic import analyze

    def final_map(blocks: int) -> str:
        shape = analyze(networks.s0_q4_method_b(blocks=blocks), networks.S0_Q4_INPUT).output_shape
        return "×".join(map(str, shape[1:]))

    return {"b_final": final_map(3), "b4_final": final_map(4)}


def _s2_q3_values() -> dict[str, int]:
    from cnnbook import networks

    return networks.s2_q3_facts()


def _s0_q3_values() -> dict[str, str | int]:
    from cnnbook import networks

    return networks.s0_q3_assumption_facts()


def _s4_q5_values() -> dict[str, int]:
    from cnnbook import networks

    return networks.s4_q5_facts()


def _s4_q7_values() -> dict[str, Sequence[int]]:
    from cnnbook.models import S4_Q7_WIDTHS

    return {"widths": tuple(S4_Q7_WIDTHS)}


def _s3_q4_values() -> dict[str, float | int]:
    from cnnbook.models import medical

    facts = medical.s3_q4_facts()
    return {"flat": facts["source_flat"], "dense": facts["source_dense"], "total": facts["source_total"],
            "share": round(facts["source_dense_share"], 1), "ours": facts["ours_total"]}


# --- the list -----------------------------------------------------------------------------------

ERRATA: list[Erratum] = [
    # Premises of the source documents that do not hold
    Erratum(
        "S0.Q4", "premise", "ex-s0-q4",
        claim_en="Method B, three blocks of a stride-1 convolution and a 2×2 max pool, turns the "
                 "256×256 input into the 16×16 map the question asks for.",
        claim_fa="روش ب، یعنی سه بلوکِ کانولوشن با گام ۱ و ادغام بیشینهٔ ۲×۲، ورودی ۲۵۶×۲۵۶ را به "
                 "نقشهٔ ۱۶×۱۶ خواسته‌شده می‌رساند.",
        truth_en="Three blocks halve the side only three times and end at <<b_final>>; a fourth block "
                 "is needed to reach <<b4_final>>. The book answers both versions.",
        truth_fa="سه بلوک طول ضلع را فقط سه بار نصف می‌کنند و به <<b_final>> می‌رسند؛ برای رسیدن به "
                 "<<b4_final>> بلوک چهارمی لازم است. کتاب به هر دو صورت پاسخ می‌دهد.",
        values=_s0_q4_values),
    Erratum(
        "S0.Q7", "premise", "ex-s0-q7",
        claim_en="The three trained models (A underfits, B overfits, C is balanced) and their "
                 "learning curves come with the assignment.",
        claim_fa="سه مدلِ آموزش‌دیده (A دچار کم‌برازش، B دچار بیش‌برازش و C متعادل) و منحنی‌های "
                 "یادگیری‌شان همراه تمرین داده شده‌اند.",
        truth_en="Neither the models nor the curves are part of the material. The book designs and "
                 "trains its own A, B and C and measures that each behaves as the question describes.",
        truth_fa="نه مدل‌ها و نه منحنی‌ها جزو مواد تمرین نیستند. کتاب سه مدل A، B و C را خود طراحی و "
                 "آموزش می‌دهد و با اندازه‌گیری نشان می‌دهد که هر کدام همان رفتاری را دارد که پرسش "
                 "توصیف می‌کند."),
    Erratum(
        "S1.P1", "premise", "ex-s1-p1",
        claim_en="The by-hand pipeline (convolution, ReLU, adding the input back, ReLU, 2×2 max pool, "
                 "global average) is fully specified.",
        claim_fa="زنجیرهٔ محاسبهٔ دستی (کانولوشن، ReLU، افزودن دوبارهٔ ورودی، ReLU، ادغام بیشینهٔ "
                 "۲×۲ و میانگین سراسری) به‌طور کامل مشخص شده است.",
        truth_en="Two readings stay open and change the result: whether the convolution flips the "
                 "filter, and whether the pool keeps the partial windows at the border of the 5×5 "
                 "map. The book follows every CNN library (cross-correlation, partial windows "
                 "dropped) and gives the result of each other reading.",
        truth_fa="دو برداشت باز می‌ماند و نتیجه را تغییر می‌دهد: این‌که کانولوشن فیلتر را ۱۸۰ درجه "
                 "می‌چرخاند یا نه، و این‌که ادغام پنجره‌های ناقصِ لبهٔ نقشهٔ ۵×۵ را نگه می‌دارد یا نه. "
                 "کتاب از قرارداد همهٔ کتابخانه‌های CNN پیروی می‌کند (همبستگی متقابل و کنار گذاشتن "
                 "پنجره‌های ناقص) و نتیجهٔ هر یک از دو برداشت دیگر را هم می‌دهد."),
    Erratum(
        "S2.Q3", "premise", "ex-s2-q3-params",
        claim_en="A figure defines the network: the width of its hidden layer and how the input is "
                 "padded.",
        claim_fa="شکلی همراه پرسش شبکه را تعریف می‌کند: پهنای لایهٔ پنهان و شیوهٔ لایه‌گذاری ورودی.",
        truth_en="The figure is lost. The book takes the 20 hidden units the source answer uses and "
                 "one zero on each side of the input (<<params>> parameters), and gives the total "
                 "for a single zero in all as well (<<one_side_params>>).",
        truth_fa="شکل از دست رفته است. کتاب ۲۰ واحد پنهانی را که پاسخ منبع به کار می‌برد و یک صفر در "
                 "هر طرف ورودی را مبنا می‌گیرد (<<params>> پارامتر) و شمار کل را برای حالتی که در "
                 "مجموع فقط یک صفر افزوده شود هم می‌دهد (<<one_side_params>>).",
        values=_s2_q3_values),
    Erratum(
        "S2.Q4", "premise", "ex-s2-q4",
        claim_en="The dilated convolution equals a plain convolution with the dilated kernel "
                 "$K' = K \\otimes A$.",
        claim_fa="کانولوشن متسع با کانولوشن معمولی با هستهٔ متسعِ $K' = K \\otimes A$ برابر است.",
        truth_en="Only once the last $D - 1$ rows and columns of $K \\otimes A$, all zeros, are cut "
                 "off. Kept, they make $K'$ wider than the dilated kernel, and the plain valid "
                 "convolution then lacks the last $D - 1$ rows and columns of the output.",
        truth_fa="فقط پس از حذف $D - 1$ سطر و ستون آخرِ $K \\otimes A$ که همه صفرند. اگر بمانند، "
                 "$K'$ از هستهٔ متسع پهن‌تر می‌شود و کانولوشن معمولیِ بدون لایه‌گذاری $D - 1$ سطر و "
                 "ستون آخرِ خروجی را کم دارد."),
    Erratum(
        "S3.Q2", "premise", "ex-s3-q2",
        claim_en="The question gives the input and the filter, and the answer sheet the numbers of "
                 "the worked solution.",
        claim_fa="پرسش ورودی و فیلتر را می‌دهد و پاسخ‌نامه عددهای راه‌حل را.",
        truth_en="In the material the question's numbers are lost and the answer's digits are "
                 "garbled. The book rebuilds a 3×3 input and 2×2 filter consistent with every "
                 "legible number and works the example in full.",
        truth_fa="در مواد تمرین عددهای پرسش از دست رفته و رقم‌های پاسخ درهم‌ریخته‌اند. کتاب یک ورودی "
                 "۳×۳ و یک فیلتر ۲×۲ می‌سازد که با همهٔ عددهای خوانا سازگارند و مثال را کامل حل می‌کند."),
    Erratum(
        "S4.Q3", "premise", "ex-s4-q3",
        claim_en="The gas-consumption notebook (an LSTM forecasting hourly use from the date, hour, "
                 "month and temperature, with a negative R²) comes with the assignment.",
        claim_fa="دفترچهٔ مصرف گاز (یک LSTM که مصرف ساعتی را از تاریخ، ساعت، ماه و دما پیش‌بینی "
                 "می‌کند و R² منفی می‌گیرد) همراه تمرین داده شده است.",
        truth_en="Neither the notebook nor its data are part of the material, so its own bug cannot "
                 "be named. The book rebuilds the task on a seeded synthetic series, runs the common "
                 "pipeline faults that give a negative R², and the corrected pipeline against a "
                 "yesterday's-value baseline.",
        truth_fa="نه دفترچه و نه داده‌هایش جزو مواد تمرین نیستند، پس اشکال خودِ آن را نمی‌توان نام برد. "
                 "کتاب وظیفه را روی یک سری ساختگی با بذر ثابت بازسازی می‌کند، خطاهای رایج خط لوله را که "
                 "R² منفی می‌دهند اجرا می‌کند، و خط لولهٔ اصلاح‌شده را در برابر خط پایهٔ مقدار دیروز "
                 "می‌سنجد."),
    Erratum(
        "S4.Q5", "premise", "ex-s4-q5",
        claim_en="The nine-layer stack can be built on the 256×256×3 input as given.",
        claim_fa="پشتهٔ نُه‌لایه را می‌توان همان‌طور که داده شده روی ورودی ۲۵۶×۲۵۶×۳ ساخت.",
        truth_en="It cannot: the 5×5 kernel of layer 8, with dilation 8, spans <<extent>> pixels, but "
                 "the map that reaches it is only <<map>> pixels wide. The book answers the closest "
                 "well-posed version, with layer 8 padded by <<pad>>.",
        truth_fa="نمی‌توان: هستهٔ ۵×۵ لایهٔ ۸ با اتساع ۸ گستره‌ای به پهنای <<extent>> پیکسل دارد، اما نقشه‌ای "
                 "که به آن می‌رسد فقط <<map>> پیکسل پهنا دارد. کتاب به نزدیک‌ترین صورتِ خوش‌تعریف پاسخ "
                 "می‌دهد که در آن لایهٔ ۸ به اندازهٔ <<pad>> لایه‌گذاری شده است.",
        values=_s4_q5_values),
    Erratum(
        "S4.Q5", "premise", "ex-s4-q5",
        claim_en="The dilated layers, written in Keras' syntax, take a stride of 2 together with "
                 "dilation rates 2, 4 and 8.",
        claim_fa="لایه‌های متسع، که با نحو Keras نوشته شده‌اند، گام ۲ را همراه با نرخ اتساع ۲، ۴ و ۸ می‌گیرند.",
        truth_en="Keras refuses a stride above 1 together with a dilation rate above 1, so "
                 "<<keras_rejected>> of the <<dilated>> dilated layers cannot be built there (PyTorch "
                 "accepts them, and the book answers with PyTorch's semantics).",
        truth_fa="Keras گام بزرگ‌تر از ۱ را همراه با نرخ اتساع بزرگ‌تر از ۱ نمی‌پذیرد، پس <<keras_rejected>> "
                 "لایه از <<dilated>> لایهٔ متسع آن‌جا ساخته نمی‌شوند (PyTorch آن‌ها را می‌پذیرد و کتاب با "
                 "معنای PyTorch پاسخ می‌دهد).",
        values=_s4_q5_values),
    Erratum(
        "S0.Q3", "premise", "ex-s0-q3",
        claim_en="Every 3×3 convolution of the three blocks has a single input channel, and the "
                 "padding is not stated.",
        claim_fa="هر کانولوشن ۳×۳ از سه بلوک یک کانال ورودی دارد، و لایه‌گذاری گفته نشده است.",
        truth_en="Only the first convolution can have one input channel; the others receive the "
                 "previous block's channels, which changes the parameters, not the sizes or fields. "
                 "The padding changes the final map (<<valid_map>> without, <<same_map>> with 'same' "
                 "padding for the proposed design), not its <<valid_rf>> receptive field.",
        truth_fa="فقط کانولوشن نخست می‌تواند یک کانال ورودی داشته باشد؛ بقیه کانال‌های بلوک پیشین را "
                 "می‌گیرند، که شمار پارامترها را تغییر می‌دهد، نه اندازه‌ها یا میدان‌ها را. لایه‌گذاری "
                 "نقشهٔ پایانی را تغییر می‌دهد (<<valid_map>> بدون آن و <<same_map>> با لایه‌گذاری "
                 "'same' برای طرح پیشنهادی)، نه میدان تأثیر <<valid_rf>> را.",
        values=_s0_q3_values),
    Erratum(
        "S4.Q7", "premise", "ex-s4-q7",
        claim_en="The sheet gives the number of filters of each of the three convolutional layers.",
        claim_fa="برگهٔ تمرین شمار فیلترهای هر یک از سه لایهٔ کانولوشنی را می‌دهد.",
        truth_en="These numbers did not survive the extraction of the sheet. The book assumes "
                 "<<widths>> filters, doubling per block as is customary.",
        truth_fa="این عددها در استخراج متن برگه از دست رفته‌اند. کتاب به‌ترتیب <<widths>> فیلتر "
                 "فرض می‌کند که به رسم معمول در هر بلوک دو برابر می‌شود.",
        values=_s4_q7_values),
    Erratum(
        "S0.Q7", "premise", "ch06-answers",
        claim_en="DeconvNet reconstructions show which stable features the balanced model learned.",
        claim_fa="بازسازی‌های DeconvNet نشان می‌دهند مدل متعادل چه ویژگی‌های پایداری آموخته است.",
        truth_en="A DeconvNet gives projections, not reconstructions, and at depth the balanced "
                 "model's projections fall where an untrained network's do; its features show in its "
                 "class-specific maps and in what an up-convolutional inverter can rebuild from them.",
        truth_fa="DeconvNet فرافکنی می‌دهد نه بازسازی، و در لایه‌های عمیق فرافکنی‌های مدل متعادل همان‌جایی "
                 "می‌افتند که فرافکنی‌های یک شبکهٔ آموزش‌ندیده؛ ویژگی‌هایش در نقشه‌های ویژهٔ کلاس و در "
                 "آنچه یک وارون‌ساز کانولوشن افزایشی از آن‌ها بازسازی می‌کند دیده می‌شوند."),
    Erratum(
        "S0.Q7", "premise", "ch06-measured",
        claim_en="Grad-CAM and DeconvNet pictures are enough to tell which model relies on irrelevant "
                 "regions.",
        claim_fa="تصویرهای Grad-CAM و DeconvNet برای تشخیص این‌که کدام مدل به ناحیه‌های نامربوط تکیه "
                 "می‌کند کافی‌اند.",
        truth_en="They are not: repainting the cue patch changes the balanced model's answers far more "
                 "than repainting a control region of the same size, while its Grad-CAM puts almost no "
                 "mass on the patch. Only an intervention with a control settles the question.",
        truth_fa="کافی نیستند: رنگ‌آمیزی دوبارهٔ وصلهٔ نشانه پاسخ‌های مدل متعادل را بسیار بیشتر از "
                 "رنگ‌آمیزی یک ناحیهٔ شاهدِ هم‌اندازه تغییر می‌دهد، در حالی که Grad-CAM آن تقریباً هیچ جرمی "
                 "روی وصله نمی‌گذارد. فقط مداخله‌ای همراه با ناحیهٔ شاهد پاسخ را روشن می‌کند."),
    Erratum(
        "S4.Q7", "premise", "ex-s4-q7",
        claim_en="Grad-CAM at the last convolutional layer shows what the decision depends on.",
        claim_fa="Grad-CAM در آخرین لایهٔ کانولوشنی نشان می‌دهد تصمیم به چه چیزی وابسته است.",
        truth_en="Part of that layer's map never reaches the output (the pooling after it drops its "
                 "last row and column), yet Grad-CAM gives those cells mass. The map after the pooling, "
                 "or HiResCAM, puts none there.",
        truth_fa="بخشی از نقشهٔ آن لایه هرگز به خروجی نمی‌رسد (ادغامِ پس از آن سطر و ستون آخرش را کنار "
                 "می‌گذارد)، با این حال Grad-CAM به آن خانه‌ها جرم می‌دهد. نقشهٔ پس از ادغام، یا HiResCAM، "
                 "هیچ جرمی آن‌جا نمی‌گذارد."),
    # Errors in the student answer sheets
    Erratum(
        "S2.Q1", "answer", "ex-s2-q1-source",
        claim_en="The proof of equivariance never says where parameter sharing is used.",
        claim_fa="اثبات هم‌وردایی هیچ‌جا نمی‌گوید اشتراک پارامتر کجا به کار رفته است.",
        truth_en="Sharing enters where the kernel's weights do not depend on the output position; "
                 "with one filter per position (a locally connected layer) the identity fails.",
        truth_fa="اشتراک در همان‌جا وارد می‌شود که وزن‌های هسته به مکان خروجی وابسته نیستند؛ با یک فیلتر "
                 "برای هر مکان (لایه‌ای با اتصال محلی) این اتحاد برقرار نمی‌ماند."),
    Erratum(
        "S2.Q1", "answer", "ex-s2-q1-source",
        claim_en="Needing fewer parameters is one of the uses of equivariance.",
        claim_fa="نیاز به پارامترهای کمتر یکی از کاربردهای هم‌وردایی است.",
        truth_en="Fewer parameters is a benefit of weight sharing, not a use of equivariance: a "
                 "zero-padded or strided convolution has the same count and is not exactly "
                 "equivariant.",
        truth_fa="پارامترهای کمتر سودِ اشتراک وزن است، نه کاربرد هم‌وردایی: کانولوشن با لایه‌گذاری صفر یا "
                 "گام‌دار همان تعداد پارامتر را دارد و دقیقاً هم‌وردا نیست."),
    Erratum(
        "S2.Q1", "answer", "ex-s2-q1-source",
        claim_en="The proof shows that a convolutional layer is equivariant to translation, with no "
                 "condition.",
        claim_fa="اثبات نشان می‌دهد که لایهٔ کانولوشنی بی‌هیچ شرطی نسبت به انتقال هم‌وردا است.",
        truth_en="The identity holds on an infinite or circular image with stride 1. Zero padding "
                 "breaks it near the border, and a stride breaks it for shifts that are not "
                 "multiples of the stride.",
        truth_fa="این اتحاد روی تصویر نامتناهی یا چرخشی و با گام ۱ برقرار است. لایه‌گذاری صفر آن را "
                 "نزدیک لبه می‌شکند و گام بزرگ‌تر از ۱ آن را برای جابه‌جایی‌هایی که مضرب گام نیستند "
                 "می‌شکند."),
    Erratum(
        "S2.Q2", "answer", "ex-s2-q2",
        claim_en="Deconvolutional and up-convolutional networks are the same thing: layers that "
                 "reverse a convolution to enlarge a feature map.",
        claim_fa="شبکه‌های واکانولوشنی و شبکه‌های کانولوشن افزایشی یک چیزند: لایه‌هایی که کانولوشن "
                 "را وارونه می‌کنند تا نقشهٔ ویژگی بزرگ شود.",
        truth_en="A DeconvNet trains nothing: it projects one activation of a trained network back to "
                 "the pixels with the network's own filters, pooling switches and ReLUs. The learned "
                 "transposed convolutions that enlarge maps in segmentation and generative networks "
                 "share only the operator with it, and a transposed convolution is the adjoint of a "
                 "convolution, not its inverse.",
        truth_fa="شبکهٔ واکانولوشنی (DeconvNet) چیزی را آموزش نمی‌دهد: یک فعال‌سازی از یک "
                 "شبکهٔ آموزش‌دیده را با فیلترها، کلیدهای ادغام و ReLUهای خودِ آن شبکه به فضای پیکسل‌ها "
                 "فرافکنی می‌کند. کانولوشن‌های ترانهادهٔ آموزش‌پذیری که در شبکه‌های قطعه‌بندی و "
                 "مولد نقشه را بزرگ می‌کنند فقط در عملگر با آن شریک‌اند، و کانولوشن ترانهاده عملگر الحاقی (adjoint) "
                 "کانولوشن است، نه وارون آن."),
    Erratum(
        "S2.Q2", "answer", "ex-s2-q2",
        claim_en="A transposed convolution reverses the convolution it transposes.",
        claim_fa="کانولوشن ترانهاده کانولوشنی را که ترانهادهٔ آن است وارون می‌کند.",
        truth_en="It is the adjoint, not the inverse: it restores the shape, not the values, and the "
                 "measured round trip leaves a large error.",
        truth_fa="الحاقی آن است نه وارونش: شکل را برمی‌گرداند نه مقدارها را، و رفت‌وبرگشتِ اندازه‌گیری‌شده "
                 "خطای بزرگی بر جا می‌گذارد."),
    Erratum(
        "S2.Q2", "answer", "ex-s2-q2",
        claim_en="The answer breaks off mid-sentence and never says how up-convolutional networks "
                 "help interpretation.",
        claim_fa="پاسخ در میانهٔ جمله رها شده و هرگز نمی‌گوید شبکه‌های کانولوشن افزایشی چگونه به "
                 "تفسیرپذیری کمک می‌کنند.",
        truth_en="An up-convolutional network is trained to reconstruct the image from the features "
                 "of a fixed layer: what it can rebuild, the layer kept; what it cannot, the layer "
                 "discarded. The book trains one for each model of S0.Q7 and measures what each keeps.",
        truth_fa="شبکهٔ کانولوشن افزایشی آموزش می‌بیند تا تصویر را از ویژگی‌های یک لایهٔ ثابت بازسازی "
                 "کند: آنچه را بتوان بازسازی کرد لایه نگه داشته است و آنچه را نتوان، دور ریخته است. کتاب "
                 "برای هر مدل S0.Q7 یکی از این شبکه‌ها را آموزش می‌دهد و می‌سنجد که هر مدل چه چیزی را "
                 "نگه می‌دارد."),
    Erratum(
        "S2.Q3", "answer", "ex-s2-q3-params",
        claim_en="The hidden layer receives <<source_fc_input>> values, by the size formula with "
                 "stride 2 applied straight to the raw input.",
        claim_fa="به لایهٔ پنهان <<source_fc_input>> مقدار می‌رسد، با اعمال مستقیم فرمول اندازه با "
                 "گام ۲ بر ورودی خام.",
        truth_en="The input is padded and convolved before it is pooled, and even that formula gives "
                 "<<source_formula>>. The answer's total of <<source_total>> parameters is right only "
                 "because the two slips cancel.",
        truth_fa="ورودی پیش از ادغام لایه‌گذاری و کانولوشن می‌شود، و همان فرمول هم <<source_formula>> "
                 "می‌دهد. شمار کلِ <<source_total>> پارامتر در پاسخ فقط از آن رو درست است که دو لغزش "
                 "یکدیگر را خنثی می‌کنند.",
        values=_s2_q3_values),
    Erratum(
        "S2.Q3", "answer", "ex-s2-q3-grads",
        claim_en="The average pool averages an input value with a convolution output.",
        claim_fa="ادغام میانگین یک مقدار ورودی را با یک خروجی کانولوشن میانگین می‌گیرد.",
        truth_en="It averages two convolution outputs, $a_j = (c_{2j-1} + c_{2j})/2.$",
        truth_fa="دو خروجی کانولوشن را میانگین می‌گیرد: $a_j = (c_{2j-1} + c_{2j})/2.$"),
    Erratum(
        "S2.Q3", "answer", "ex-s2-q3-grads",
        claim_en="In $\\partial \\mathrm{Cost}/\\partial W^C_1$ each convolution output receives the "
                 "whole gradient of its pooled value $a_{i/2}$, and one hidden unit per pooled value.",
        claim_fa="در $\\partial \\mathrm{Cost}/\\partial W^C_1$ هر خروجی کانولوشن همهٔ گرادیان مقدار "
                 "ادغام‌شده‌اش، $a_{i/2}$، را می‌گیرد، و به ازای هر مقدار ادغام‌شده یک واحد پنهان "
                 "در کار است.",
        truth_en="Each of the two outputs pooled into $a_j$ receives half of its gradient (the "
                 "average's factor $1/2$), the index is $\\lceil i/2 \\rceil$, and the gradient of "
                 "$a_j$ sums over every hidden unit $k$.",
        truth_fa="هر یک از دو خروجیِ ادغام‌شده در $a_j$ نیمی از گرادیان آن را می‌گیرد (ضریب $1/2$ "
                 "میانگین)، اندیس $\\lceil i/2 \\rceil$ است، و گرادیان $a_j$ روی همهٔ واحدهای پنهان "
                 "$k$ جمع می‌شود."),
    Erratum(
        "S2.Q3", "answer", "ex-s2-q3-grads",
        claim_en="The gradient with respect to $W^A_{ji}$ is the formula already given for "
                 "$W^A_{ij}$.",
        claim_fa="گرادیان نسبت به $W^A_{ji}$ همان فرمولی است که برای $W^A_{ij}$ آمده است.",
        truth_en="With the answer's own convention the indices swap: "
                 "$\\partial \\mathrm{Cost}/\\partial W^A_{ji} = (z - Y)\\, W^F_j\\, [f_j > 0]\\, a_i.$",
        truth_fa="با قرارداد خودِ پاسخ، جای اندیس‌ها عوض می‌شود: "
                 "$\\partial \\mathrm{Cost}/\\partial W^A_{ji} = (z - Y)\\, W^F_j\\, [f_j > 0]\\, a_i.$"),
    Erratum(
        "S3.Q5", "answer", "ex-s3-q5-source",
        claim_en="A convolutional layer is translation invariant.",
        claim_fa="لایهٔ کانولوشنی نسبت به انتقال ناوردا است.",
        truth_en="It is equivariant: its output moves with its input. Invariance comes only from "
                 "pooling, and only approximately.",
        truth_fa="هم‌وردا است: خروجی‌اش همراه ورودی جابه‌جا می‌شود. ناوردایی فقط از ادغام می‌آید، آن "
                 "هم به‌طور تقریبی."),
    Erratum(
        "S3.Q5", "answer", "ex-s3-q5-source",
        claim_en="Small objects are missed because of the stationarity assumption.",
        claim_fa="اشیای کوچک به سبب فرض ایستایی دیده نمی‌شوند.",
        truth_en="Downsampling is the cause (the total stride and the aliasing it brings); "
                 "stationarity, through weight sharing, is what lets a small object be found anywhere.",
        truth_fa="علت، کاهش نمونه است (گام کل و هم‌نامیِ همراه آن)؛ ایستایی، از راه اشتراک وزن، همان "
                 "چیزی است که یافتن شیء کوچک را در هر مکانی ممکن می‌کند."),
    Erratum(
        "S3.Q5", "answer", "ex-s3-q5-source",
        claim_en="A convolutional network has no information about position.",
        claim_fa="شبکهٔ کانولوشنی هیچ اطلاعی از مکان ندارد.",
        truth_en="Zero padding leaks position, and a convolution with a flatten-and-linear head "
                 "solves the chapter's position task; only an invariant head such as global pooling "
                 "discards position.",
        truth_fa="لایه‌گذاری صفر مکان را نشت می‌دهد، و کانولوشن با سرِ تخت‌سازی و لایهٔ خطی مسئلهٔ مکانِ "
                 "فصل را حل می‌کند؛ فقط سرِ ناوردا، مانند ادغام سراسری، مکان را دور می‌ریزد."),
    Erratum(
        "S3.Q1", "answer", "ex-s3-q1ab",
        claim_en="Too large a learning rate shows up as a loss that grows at every step until it "
                 "becomes NaN.",
        claim_fa="نرخ یادگیری بیش از حد بزرگ به‌صورت اتلافی دیده می‌شود که در هر گام بزرگ‌تر می‌شود تا "
                 "به NaN برسد.",
        truth_en="That is one failure only. In the chapter's log sweep the too-large rates jump in "
                 "the first epoch and then sit at the chance level with a finite loss: the ReLUs die.",
        truth_fa="این فقط یکی از شکل‌های شکست است. در جاروب لگاریتمی فصل، نرخ‌های بیش از حد بزرگ در "
                 "دورهٔ نخست جهش می‌کنند و سپس با اتلافی متناهی در سطح حدس تصادفی می‌مانند: واحدهای "
                 "ReLU خاموش می‌شوند."),
    Erratum(
        "S3.Q1", "answer", "ex-s3-q1ab",
        claim_en="A small learning rate makes it more likely to get stuck in a local minimum.",
        claim_fa="نرخ یادگیری کوچک احتمال گیرافتادن در کمینهٔ محلی را بیشتر می‌کند.",
        truth_en="Not supported: the smallest rates' loss was still falling in the last epoch. A "
                 "small rate is slow, not stuck.",
        truth_fa="شاهدی ندارد: اتلافِ کوچک‌ترین نرخ‌ها در دورهٔ آخر هنوز در حال کاهش بود. نرخ کوچک کند "
                 "است، نه گیرافتاده."),
    Erratum(
        "S3.Q1", "answer", "ex-s3-q1c",
        claim_en="Plain gradient descent may converge to a local maximum.",
        claim_fa="کاهش گرادیانِ ساده ممکن است به یک بیشینهٔ محلی همگرا شود.",
        truth_en="Gradient descent is repelled by maxima; it can end at a maximum or a saddle only "
                 "from a set of starts of measure zero, and gradient noise removes even that.",
        truth_fa="کاهش گرادیان از بیشینه‌ها دور می‌شود؛ فقط از مجموعه‌ای با اندازهٔ صفر از نقطه‌های "
                 "آغاز ممکن است به بیشینه یا نقطهٔ زینی برسد، و نوفهٔ گرادیان همین را هم از میان می‌برد."),
    Erratum(
        "S3.Q1", "answer", "ex-s3-q1c",
        claim_en="Adam escapes saddle points because it makes the gradient noise isotropic.",
        claim_fa="Adam از نقطه‌های زینی می‌گریزد چون نوفهٔ گرادیان را همسان‌گرد می‌کند.",
        truth_en="Adam escapes faster with no noise at all: its per-coordinate scaling makes the "
                 "step along the flat direction as large as the learning rate. From the exact "
                 "saddle it does not move; only noise moves it.",
        truth_fa="Adam بی هیچ نوفه‌ای هم سریع‌تر می‌گریزد: مقیاس‌گذاری جداگانهٔ هر مختصه گام در راستای "
                 "تخت را هم‌اندازهٔ نرخ یادگیری می‌کند. از خودِ نقطهٔ زینی حرکت نمی‌کند؛ فقط نوفه آن را "
                 "به حرکت درمی‌آورد."),
    Erratum(
        "S3.Q1", "answer", "ex-s3-q1d",
        claim_en="Full-batch training gives a smooth loss curve and mini-batch training a noisy one, "
                 "and that is the difference.",
        claim_fa="آموزش با کل داده منحنی اتلافِ هموار و آموزش با دسته‌های کوچک منحنی پرنوسان می‌دهد، "
                 "و تفاوت همین است.",
        truth_en="The smoothness is right, but it leaves out speed: for the same computation (per "
                 "epoch) mini-batches reach a far lower loss; only per update is the full batch ahead.",
        truth_fa="هموار بودن درست است، اما سرعت از قلم افتاده است: با محاسبهٔ برابر (در هر دوره) "
                 "دسته‌های کوچک به اتلافی بسیار کمتر می‌رسند؛ فقط به ازای هر به‌روزرسانی کل داده جلوتر است."),
    Erratum(
        "S0.Q5", "premise", "ex-s0-q5-data",
        claim_en="The data set, the csPCa column of the spreadsheet of slices, can be downloaded from the "
                 "link in the sheet.",
        claim_fa="مجموعه‌داده، یعنی ستون csPCa از صفحه‌گستردهٔ برش‌ها، از پیوند برگهٔ تمرین دریافت‌شدنی است.",
        truth_en="The link is empty in the material and the prostate MRI data are private. The book "
                 "answers on a procedural stand-in with the same difficulties (imbalance, several slices "
                 "per patient, small low-contrast lesions, gland and lesion masks) and says so on every result.",
        truth_fa="پیوند در مواد تمرین خالی است و داده‌های MRI پروستات خصوصی‌اند. کتاب روی یک دادهٔ جایگزینِ "
                 "رویه‌ای با همان دشواری‌ها (عدم توازن، چند برش برای هر بیمار، ضایعه‌های کوچک و کم‌تباین، "
                 "نقاب غده و ضایعه) پاسخ می‌دهد و این را کنار هر نتیجه می‌گوید."),
    Erratum(
        "S4.Q2", "premise", "ex-s4-q2",
        claim_en="The notebook medical.ipynb, whose parts are to be completed, comes with the sheet.",
        claim_fa="دفترچهٔ medical.ipynb که باید بخش‌هایش کامل شود همراه برگهٔ تمرین است.",
        truth_en="It is not part of the material, so its data, model and the parts to complete are unknown. "
                 "The book answers what any such notebook must get right, each point measured on the "
                 "stand-in of S0.Q5.",
        truth_fa="جزو مواد تمرین نیست، پس داده، مدل و بخش‌هایی که باید کامل شوند معلوم نیستند. کتاب به آنچه "
                 "هر دفترچهٔ این‌چنینی باید درست انجام دهد پاسخ می‌دهد و هر نکته را روی دادهٔ جایگزینِ S0.Q5 "
                 "می‌سنجد."),
    Erratum(
        "S3.Q4", "answer", "ex-s3-q4",
        claim_en="The two max-pooling layers shrink the model enough to keep it from overfitting.",
        claim_fa="دو لایهٔ ادغام بیشینه مدل را آن‌قدر کوچک می‌کنند که دچار بیش‌برازش نشود.",
        truth_en="After them <<flat>> values are still flattened, and the dense layer that follows holds "
                 "<<dense>> of the model's <<total>> parameters (<<share>> %). Ending in global average "
                 "pooling, the book's version of the network has <<ours>> parameters in all.",
        truth_fa="پس از آن‌ها هنوز <<flat>> مقدار تخت می‌شود و لایهٔ چگالِ بعدی <<dense>> پارامتر از <<total>> "
                 "پارامتر مدل (<<share>> ٪) را در خود دارد. نسخهٔ کتاب که به ادغام میانگین سراسری ختم "
                 "می‌شود روی‌هم <<ours>> پارامتر دارد.",
        values=_s3_q4_values),
    Erratum(
        "S3.Q4", "answer", "ex-s3-q4",
        claim_en="The sequential and the functional model reach different test accuracies, and these are "
                 "test scores.",
        claim_fa="مدل ترتیبی و مدل تابعی به دقت‌های آزمونِ متفاوتی می‌رسند، و این‌ها امتیاز آزمون‌اند.",
        truth_en="With the same weights the two styles compute the same function (the book tests it), so "
                 "the gap comes from two trainings with different random weights. Both scores are "
                 "measured on the validation data, not on a held-out test set, and are reported without "
                 "the class shares that an accuracy needs.",
        truth_fa="با وزن‌های یکسان، دو شیوه یک تابع را حساب می‌کنند (کتاب این را می‌آزماید)، پس اختلاف از دو "
                 "بار آموزش با وزن‌های تصادفیِ متفاوت می‌آید. هر دو امتیاز روی دادهٔ اعتبارسنجی سنجیده "
                 "شده‌اند نه روی یک مجموعهٔ آزمونِ کنارگذاشته، و بی سهم کلاس‌ها گزارش شده‌اند که دقت بدون آن "
                 "معنایی ندارد."),
    Erratum(
        "S2.Q5", "premise", "ex-s2-q5-4",
        claim_en="Part (4) asks for class activation maps (CAM) of the light VGG of part (3).",
        claim_fa="بخش (۴) نقشهٔ فعال‌سازی کلاس (CAM) را برای VGG سبکِ بخش (۳) می‌خواهد.",
        truth_en="CAM needs global average pooling followed by a single linear layer; the light VGG "
                 "ends in a flatten and two dense layers, so CAM is not defined for it (Grad-CAM is). "
                 "The book computes exact CAMs for the transfer model of part (2), whose head is "
                 "pooling and one linear layer.",
        truth_fa="CAM به ادغام میانگین سراسری و پس از آن تنها یک لایهٔ خطی نیاز دارد؛ VGG سبک با یک "
                 "لایهٔ تخت‌سازی و دو لایهٔ چگال پایان می‌یابد، پس CAM برای آن تعریف نمی‌شود (Grad-CAM "
                 "می‌شود). کتاب CAM دقیق را برای مدل انتقالیِ بخش (۲) حساب می‌کند که سرِ آن ادغام و یک "
                 "لایهٔ خطی است."),
]
