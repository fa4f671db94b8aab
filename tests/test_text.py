from core.text import strip_accents


def test_strip_accents_drops_marks_and_keeps_other_letters():
    assert strip_accents("Élodie-Anne Orléans Noël Çà") == "Elodie-Anne Orleans Noel Ca"
    assert strip_accents("Søren Straße Œuvre") == "Søren Straße Œuvre"
    assert strip_accents("ﬁn") == "fin"  # NFKD: compatibility forms too
