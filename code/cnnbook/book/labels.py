"""Column and field labels in both languages, for tables and boxes rendered from cell outputs.

Code cells are identical in the English and Persian page, so their outputs cannot contain
language-specific text; instead they name labels by key and the renderer looks the key up here.
"""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    # layer arithmetic
    "layer": ("Layer", "لایه"),
    "type": ("Type", "نوع"),
    "output": ("Output (C×H×W)", "خروجی (C×H×W)"),
    "output_1d": ("Output (C×L)", "خروجی (C×L)"),
    "weights": ("Weights", "وزن‌ها"),
    "biases": ("Biases", "بایاس‌ها"),
    "params": ("Parameters", "پارامترها"),
    "rf": ("Receptive field", "میدان تأثیر"),
    "jump": ("Jump", "گام مؤثر"),
    "macs": ("MACs", "MACs"),
    "flops": ("FLOPs", "FLOPs"),
    "variant": ("Variant", "گونه"),
    "final_map": ("Final map", "نقشهٔ نهایی"),
    "flat_features": ("N (flattened)", "N (تخت‌شده)"),
    "total_params": ("Total parameters", "کل پارامترها"),
    "total_flops": ("Total FLOPs", "کل FLOPs"),
    "delta_params": ("Δ parameters", "Δ پارامترها"),
    "delta_flops": ("Δ FLOPs", "Δ FLOPs"),
    "rf_last": ("Receptive field", "میدان تأثیر"),
    "rf_measured": ("RF measured", "میدان تأثیر اندازه‌گیری‌شده"),
    "rf_theory": ("RF computed", "میدان تأثیر محاسبه‌شده"),
    "method": ("Method", "روش"),
    "meets_target": ("RF ≥ 50", "میدان ≥ ۵۰"),
    "trainable": ("Trainable", "آموزش‌پذیر"),
    "buffers": ("Buffers (not trained)", "بافرها (غیرآموزشی)"),
    "quantity": ("Quantity", "کمیت"),
    "value": ("Value", "مقدار"),
    "source_answer": ("Source answer", "پاسخ منبع"),
    "this_book": ("This book", "این کتاب"),
    "check": ("Check", "بررسی"),
    "torch": ("PyTorch", "PyTorch"),
    "formula": ("Formula", "فرمول"),
    "case": ("Case", "حالت"),
    "yes": ("yes", "بله"),
    "no": ("no", "خیر"),
    "torch_output": ("PyTorch output", "خروجی PyTorch"),
    "torch_params": ("PyTorch numel", "numel در PyTorch"),
    "two_macs": ("2×MACs", "2×MACs"),
    "torch_flops": ("FlopCounterMode", "FlopCounterMode"),
    "rf_inside": ("Field inside input", "میدان درون ورودی"),
    "agree": ("Agree", "مطابقت"),
    "coverage": ("Coverage", "پوشش"),
    "working_output": ("Output size", "اندازهٔ خروجی"),
    "working_weights": ("Weights", "وزن‌ها"),
    "working_rf": ("Receptive field", "میدان تأثیر"),
    "working_flops": ("FLOPs", "FLOPs"),
    # S0.Q1 (c) variants
    "s0q1_original": ("original network", "شبکهٔ اصلی"),
    "s0q1_c1": ("c1: stride of layer 2 halved (2 → 1)", "ج۱: نصف‌شدن گام لایهٔ ۲ (۲ ← ۱)"),
    "s0q1_c2": ("c2: kernel of layer 4 becomes 5×5", "ج۲: هستهٔ لایهٔ ۴ برابر ۵×۵"),
    "s0q1_c3": ("c3: channels of layer 7 doubled", "ج۳: دو برابر شدن کانال‌های لایهٔ ۷"),
    "s0q1_c4": ("c4: AvgPool (layer 8) removed", "ج۴: حذف AvgPool (لایهٔ ۸)"),
    # S0.Q3 candidates
    "q3_original": ("original (three blocks)", "معماری اصلی (سه بلوک)"),
    "q3_k5": ("5×5 kernels", "هسته‌های ۵×۵"),
    "q3_k7": ("7×7 kernels", "هسته‌های ۷×۷"),
    "q3_block4": ("a fourth block (64 channels)", "بلوک چهارم (۶۴ کانال)"),
    "q3_double": ("two 3×3 convolutions per block", "دو کانولوشن ۳×۳ در هر بلوک"),
    "q3_dilated": ("dilations 1, 2, 4 in blocks 1–3", "اتساع ۱، ۲ و ۴ در بلوک‌های ۱ تا ۳"),
    # S0.Q4 methods
    "q4_a": ("A: four 3×3 convs, stride 2, padding 1", "الف: چهار کانولوشن ۳×۳ با گام ۲ و لایه‌گذاری ۱"),
    "q4_a_valid": ("A without padding", "الف بدون لایه‌گذاری"),
    "q4_b": ("B: three blocks conv + max pool (as posed)", "ب: سه بلوک کانولوشن و ادغام بیشینه (طبق صورت سؤال)"),
    "q4_b4": ("B with a fourth block", "ب با بلوک چهارم"),
    # provenance box
    "provenance": ("Provenance of this page", "شناسنامهٔ اجرای این صفحه"),
    "profile": ("Profile", "پروفایل"),
    "data": ("Data", "داده"),
    "data_none": ("none (derivations and layer arithmetic only)", "ندارد (فقط استخراج نمادین و حساب لایه‌ها)"),
    "stand_in": ("stand-in for", "جایگزینِ"),
    "profile_quick": ("quick — CPU, offline, embedded and procedural data", "quick — پردازنده، بدون اینترنت، داده‌های درونی و رویه‌ای"),
    "profile_full": ("full — real data sets, GPU when present", "full — مجموعه‌داده‌های واقعی، پردازندهٔ گرافیکی در صورت وجود"),
    "real": ("real", "واقعی"),
    "device": ("Device", "دستگاه"),
    "seed": ("Seed", "بذر تصادفی"),
    "wall_time": ("Wall time", "زمان اجرا"),
    "versions": ("Versions", "نسخه‌ها"),
    "seconds": ("s", "ثانیه"),
    # Chapter 5: Grad-CAM (and the provenance of procedural data)
    "procedural": ("procedural", "رویه‌ای"),
    "location": ("Location (i, j)", "مکان (i, j)"),
    "raw": ("Raw map Σ α A", "نقشهٔ خام Σ α A"),
    "positive": ("Kept by ReLU", "نگه‌داشته با ReLU"),
    "negative": ("Negative part", "بخش منفی"),
    "delta_score": ("Change of y_c when removed", "تغییر y_c با حذف"),
    "split_name": ("Split", "بخش"),
    "train": ("training", "آموزش"),
    "test": ("test", "آزمون"),
    "images_shape": ("Images (N×C×H×W)", "تصاویر (N×C×H×W)"),
    "labels_shape": ("Labels (N)", "برچسب‌ها (N)"),
    "dtype": ("Pixel type", "نوع پیکسل"),
    "min": ("Min", "کمینه"),
    "max": ("Max", "بیشینه"),
    "image": ("Image", "تصویر"),
    "rank": ("Rank", "رتبه"),
    "probability": ("Probability", "احتمال"),
    "class_name": ("Class", "کلاس"),
    "model": ("Model", "مدل"),
    "accuracy": ("Accuracy (%)", "دقت (٪)"),
    "pointing_object": ("Pointing (%)", "اشاره (٪)"),
    "mass_object": ("Mass on object (%)", "جرم روی شیء (٪)"),
    "area_object": ("Object area (%)", "مساحت شیء (٪)"),
    "mass_cue": ("Mass on patch (%)", "جرم روی وصله (٪)"),
    "area_cue": ("Patch area (%)", "مساحت وصله (٪)"),
    "shapes_clean": ("clean", "بی‌نشانه"),
    "shapes_shortcut": ("shortcut", "میان‌بُر"),
}


def label(key: str, language: str) -> str:
    """The label ``key`` in ``language`` ('en' or 'fa'); unknown keys raise with the known ones."""
    try:
        english, persian = LABELS[key]
    except KeyError:
        raise KeyError(f"no label {key!r}; add it to cnnbook.book.labels.LABELS") from None
    return persian if language == "fa" else english
