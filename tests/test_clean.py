
from assistant.clean import clean_page_text
from assistant.ingest import load_documents

from conftest import ARTICLES

FURNITURE = [
    "Font Resizer", "You Might Also Like", "Facing elimination, Oilers undecided on Game 6 goaltender",
    "Trump-backed Jack Ciattarelli wins GOP primary", "Detroit Zoo debuts", "Share This Article",
    "All Rights Reserved", "Contact Us", "gsoc@global-sa.co.uk", "Links Business Centre", "Leave a Reply",
    "top of page", "bottom of page", "Privacy Policy", "Advertisement", "Club World Cup",
    "6 Types of Cars That Should Only Be Driven On The Weekends", "Work email address only",
]
# Body sentences, short ones and list items included, one or more from each article.
BODY = [
    "On 09 June 2025, US and Chinese officials concluded two days of trade talks at Lancaster House",
    "Strategies such as friendshoring are available for Western countries",
    "In April 2025, China suspended almost all exports of seven kinds of rare earth metals",
    "In conclusion, the ongoing negotiations highlight a critical juncture in US-China relations",
    "Experts also say that in the long term, the situation could give Chinese manufacturers an edge.",
    "“They were kind of releasing them, but it was going a lot slower than some companies believed was optimal,” Hassett said.",
    "Rare earths are a group of 17 elements in the middle of the periodic table, including neodymium, cerium and scandium.",
    "China controls over 80% of global rare earth refining capacity",
    "Investment in U.S.-based rare earth processing and recycling",
    "Allied supply agreements across the Quad (U.S., Australia, India, Japan)",
    "The USA cannot avoid the inevitable: a critical mineral industrial policy aligned with a tight-knit alliance.",
    "Companies in the U.S. and Europe should prepare for continued uncertainty",
    "This bureaucratic approach gives Beijing the power to delay exports",
]


def test_furniture_is_stripped_and_bodies_kept():
    docs = load_documents([ARTICLES])
    everything = "\n".join(d.text for d in docs)
    for line in FURNITURE:
        assert line.lower() not in everything.lower(), line
    for sentence in BODY:
        assert sentence in everything, sentence


def test_every_prose_line_of_each_body_survives():
    """Each long sentence line of a saved page, up to where its furniture starts, is indexed."""
    docs = {d.id: d for d in load_documents([ARTICLES])}
    stops = {"000_48c4cad9349ce6bf": "Contact Us", "002_9a7edff1c49901df": "You Might Also Like",
             "003_5c2ec7abe9534e4e": "Leave a Reply", "001_5b13dbd250ddda8c": "Advertisement"}
    for path in sorted(ARTICLES.glob("*.txt")):
        raw = path.read_text()
        body = raw.split(stops[path.stem])[0] if path.stem in stops else raw
        for line in body.splitlines():
            line = " ".join(line.replace("\u00a0", " ").split())
            if len(line.split()) >= 12 and line.endswith((".", "”", '"')) and "All Rights Reserved" not in line:
                stripped = line.lstrip("•- ")
                assert stripped[:80] in docs[path.stem].text, (path.stem, line[:80])


def test_titles_and_dates():
    docs = {d.id: d for d in load_documents([ARTICLES])}
    assert docs["002_9a7edff1c49901df"].title == "How rare earth minerals could give China the upper hand in U.S. trade talks"
    assert docs["002_9a7edff1c49901df"].date == "2025-06-10"
    assert docs["004_b02549b81277afe4"].date == "2025-06-07"
    assert docs["000_48c4cad9349ce6bf"].title.startswith("US-China Trade Talks Shed Light")


def test_doubled_caption_kept_once():
    text = clean_page_text(
        "First sentence of the story is long enough to count as prose here.\n"
        "A caption about workers at a port (Reuters file)A caption about workers at a port (Reuters file)\n"
        "Another sentence of the story that is long enough to be prose.\n"
    ).text
    assert text.count("A caption about workers") == 1
