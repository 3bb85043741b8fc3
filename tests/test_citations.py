from assistant.answer.citations import resolve
from assistant.types import Chunk, Hit

TEXT = "China mines about 70% of rare earths. It refines 90% of them. Exports fell in April."


def hit(n, text, doc="d", start=0):
    return Hit(chunk=Chunk(id=f"{doc}#{n}", doc_id=doc, start=start, end=start + len(text), text=text),
               score=1.0, rank=n, title=f"Title {doc}")


def test_numbers_map_to_chunks_and_unknown_ones_are_dropped():
    hits = [hit(1, TEXT, "a", 100), hit(2, "Licences were slow to arrive in May.", "b")]
    text, cites, dropped, _ = resolve("China refines 90% of rare earths [1][7]. Licences were slow [2, 9].", hits)
    assert dropped == [7, 9]
    assert "[7]" not in text and "[9]" not in text and "[1]" in text and "[2]" in text
    assert [(c.n, c.doc_id, c.chunk_id) for c in cites] == [(1, "a", "a#1"), (2, "b", "b#2")]
    first = cites[0]
    assert first.quote == "It refines 90% of them." and TEXT[first.start - 100:first.end - 100] == first.quote


def test_marker_forms():
    hits = [hit(i, f"Sentence about topic {i} here.", f"d{i}") for i in range(1, 5)]
    _, cites, _, _ = resolve("One [Passage 1]. Two [2-3]. Three [passages 4 and 1].", hits)
    assert sorted(c.n for c in cites) == [1, 2, 3, 4]


def test_a_leading_or_trailing_lone_marker_belongs_to_its_neighbour():
    hits = [hit(1, TEXT)]
    _, cites, _, _ = resolve("[1]. It refines 90% of them.", hits)
    assert cites[0].quote == "It refines 90% of them." and cites[0].supported
    _, cites, _, _ = resolve("China mines about 70% of rare earths. [1]", hits)
    assert cites[0].quote == "China mines about 70% of rare earths."


def test_markers_after_each_sentence_or_before_it_cite_that_sentence():
    hits = [hit(1, "China mines about 70% of rare earths.", "a"), hit(2, "Exports of magnets fell sharply in April.", "b")]
    for answer in ("China mines about 70% of rare earths. [1] Exports of magnets fell in April. [2]",
                   "[1] China mines about 70% of rare earths. [2] Exports of magnets fell in April."):
        _, cites, _, _ = resolve(answer, hits)
        assert [(c.n, c.supported) for c in cites] == [(1, True), (2, True)], answer


def test_a_claim_copied_from_another_passage_than_it_names_is_moved_there():
    hits = [hit(1, "China dominates processing, controlling nearly 90% of capacity.", "a"),
            hit(2, "According to a 2023 report, China produces 62% of the world's total output.", "b")]
    answer = "China produces 62% of the world's total output, a 2023 report says [1]. It controls nearly 90% of processing [1]."
    text, cites, _, recited = resolve(answer, hits)
    assert recited == [(1, 2)]
    assert text == "China produces 62% of the world's total output, a 2023 report says [2]. It controls nearly 90% of processing [1]."
    assert [(c.n, c.supported) for c in cites] == [(2, True), (1, True)]
    # A claim its own passage supports stays, even when another passage also shares words with it.
    assert resolve("China controls nearly 90% of processing capacity [1].", hits).recited == []


def test_a_sentence_that_only_points_to_a_passage_lends_its_marker_to_the_claim_before_it():
    hits = [hit(1, "Exports fell in April. China mines about 70% of rare earths.", "a")]
    _, cites, _, _ = resolve("China mines about 70% of rare earths. This is stated in passage [1].", hits)
    assert cites[0].quote == "China mines about 70% of rare earths." and cites[0].supported
