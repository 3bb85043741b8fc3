"""PDF and Word files made for the tests (and for scripts/pdf_extractors.py): two-column PDFs with
running headers and page numbers, a long report, a scan (an image, no text layer), an encrypted and
a damaged PDF, and .docx files with page breaks. reportlab and python-docx are test dependencies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

ARTICLES = Path(__file__).resolve().parents[1] / "articles"


def paragraphs(n: int) -> list[str]:
    """The paragraphs of the n-th bundled article (real news text), bullets stripped."""
    path = sorted(ARTICLES.glob("*.txt"))[n]
    return [line.strip(" •") for line in path.read_text().splitlines() if len(line.split()) >= 12]


def columns_pdf(path: Path, title: str, paragraphs: Sequence[str], *, columns: int = 2,
                header: str = "The Harbour Review", pages_at_least: int = 1) -> Path:
    """Paragraphs set in `columns` columns, justified, with a running header and a page number on
    every page; the title spans the columns of page 1. Repeats the paragraphs until it has
    `pages_at_least` pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

    styles = getSampleStyleSheet()
    body = styles["BodyText"].clone("body", alignment=4, fontSize=9.5, leading=12)
    width, height = A4
    margin, gap = 2 * cm, 0.6 * cm
    column_width = (width - 2 * margin - (columns - 1) * gap) / columns

    def furniture(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(margin, height - 1.2 * cm, f"{header} · June 2025")
        canvas.drawCentredString(width / 2, 1.2 * cm, str(doc.page))
        canvas.restoreState()

    frames = [Frame(margin + i * (column_width + gap), margin, column_width, height - 2 * margin - 0.5 * cm,
                    id=f"col{i}") for i in range(columns)]
    repeats = 1
    while True:
        doc = BaseDocTemplate(str(path), pagesize=A4, title=title, pageTemplates=[PageTemplate("cols", frames, onPage=furniture)])
        texts = paragraphs if repeats == 1 else [f"Part {r + 1}. {p}" for r in range(repeats) for p in paragraphs]
        doc.build([Paragraph(title, styles["Heading2"])] + [Paragraph(p, body) for p in texts])
        if doc.page >= pages_at_least:
            return path
        repeats = max(repeats + 1, int(repeats * pages_at_least / doc.page * 1.05) + 1)


def scanned_pdf(path: Path) -> Path:
    """A page holding only a picture of text (drawn shapes), as a scanner makes: no text layer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for row in range(40):
        for word in range(8):
            c.rect(60 + word * 60, 760 - row * 18, 40 + (row * word) % 15, 8, fill=1)
    c.showPage()
    c.save()
    return path


def encrypted_pdf(source: Path, path: Path, password: str = "s3cret") -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    with open(path, "wb") as f:
        writer.write(f)
    return path


def damaged_pdf(source: Path, path: Path) -> Path:
    """The first half of a PDF: no cross-reference table, no trailer, pages cut off."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def word_file(path: Path, title: str, pages: Sequence[Sequence[str]]) -> Path:
    """A .docx whose pages (lists of paragraphs) are separated by hard page breaks; a table on the last."""
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for i, paragraphs in enumerate(pages):
        if i:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        for text in paragraphs:
            document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Port fees"
    table.rows[0].cells[1].text = "Raised by four percent from July."
    document.save(str(path))
    return path


def long_pdf(path: Path, pages: int, lines: Sequence[str], *, lines_per_page: int = 60, image_kb: int = 0) -> Path:
    """A report of `pages` pages of plain lines (quick to make: no layout engine), each page headed
    by a running title and footed by its number; with `image_kb`, each page also holds a picture
    of that many KB of noise (which does not compress), as scanned figures would."""
    import os

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, pageCompression=1)
    c.setTitle("Annual report of the harbour board")
    side = int((image_kb * 1024 / 3) ** 0.5)
    for page in range(1, pages + 1):
        c.setFont("Helvetica", 8)
        c.drawString(60, 800, "Annual report of the harbour board")
        c.drawCentredString(297, 30, str(page))
        c.setFont("Helvetica", 10)
        for row in range(lines_per_page):
            c.drawString(60, 770 - row * 12, lines[(page * lines_per_page + row) % len(lines)])
        if image_kb:
            from PIL import Image

            c.drawImage(ImageReader(Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))), 60, 100, 300, 300)
        c.showPage()
    c.save()
    return path
