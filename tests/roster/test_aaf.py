"""The AAF parser on the real files of tests/data/aaf and on hand-written sets."""

import collections
import datetime as dt
import shutil
from pathlib import Path

import pytest

from core.roster.records import Mode, Role, Source, UnreadableFile
from core.roster.sources import aaf

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "aaf"
COMPLETE = HERE / "fixtures" / "aaf" / "complete"
DELTA = HERE / "fixtures" / "aaf" / "delta"

REAL_FILES = sorted(DATA.glob("*Complet*.xml"))
FULL_SET = sorted(DATA.glob("*FULL_ENTTSSERVICES_Complet_20130117_*.xml"))
ELEVE = DATA / "FULL_ENTTSSERVICES_Complet_20130117_Eleve_0001.xml"
ETAB = DATA / "FULL_ENTTSSERVICES_Complet_20130117_EtabEducNat_0000.xml"
MATIERE = DATA / "FULL_ENTTSSERVICES_Complet_20130117_MatiereEducNat_0000.xml"


def people(roster, role):
    return {
        person.sourced_id: person for person in roster.people if person.role == role
    }


def enrollments_of(roster, person_id):
    return sorted(
        (enrollment.school_class, enrollment.role)
        for enrollment in roster.enrollments
        if enrollment.person == person_id
    )


def reasons(roster, kind=None):
    return [
        (rejection.file, rejection.line, rejection.reason)
        for rejection in roster.rejections
        if kind is None or rejection.kind == kind
    ]


@pytest.fixture(scope="module")
def full():
    return aaf.parse(FULL_SET)


@pytest.fixture(scope="module")
def complete():
    return aaf.parse(sorted(COMPLETE.glob("*.xml")))


@pytest.fixture(scope="module")
def delta():
    return aaf.parse(sorted(DELTA.glob("*.xml")))


# Recognition -----------------------------------------------------------------


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda path: path.name)
def test_every_real_aaf_file_is_recognised_and_parses_alone(path):
    assert aaf.recognises(path.name, path.read_bytes()[:65536])
    roster = aaf.parse([path])
    assert roster.source == Source.AAF
    assert roster.mode == Mode.COMPLETE


@pytest.mark.parametrize(
    "name",
    [
        "siecle-with-two-valid-students-and-school-year.xml",
        "siecle-csv-with-two-valid-students.csv",
    ],
)
def test_siecle_files_are_not_recognised(name):
    path = DATA / name
    assert not aaf.recognises(path.name, path.read_bytes()[:65536])


# The real 2013 feed (Aix-Marseille) -----------------------------------------


def test_real_feed_counts(full):
    assert full.mode == Mode.COMPLETE
    assert len(full.orgs) == 10
    assert len(people(full, Role.STUDENT)) == 642
    # 503 + 8 guardians in the two PersRelEleve parts, 359 of them legal
    # guardians of a pupil of Eleve_0001; the others are left out.
    assert len(people(full, Role.GUARDIAN)) == 359
    assert (
        "152 responsable(s) des fichiers PersRelEleve sans lien légal"
        in (full.warnings[0])
    )
    # 911 legal-guardian references: 367 resolve, 544 dangle (other parts).
    assert len(full.guardian_links) == 367
    assert len(reasons(full, "guardian_link")) == 544
    assert {rejection.kind for rejection in full.rejections} == {"guardian_link"}
    assert collections.Counter(c.class_type for c in full.classes) == {
        "homeroom": 173,
        "scheduled": 70,
    }
    assert len(full.enrollments) == 727


def test_real_structure_with_empty_values_in_both_forms(full):
    org = next(org for org in full.orgs if org.sourced_id == "52000")
    assert (org.uai, org.name, org.academy) == (
        "1004001V",
        "Z.REMP-DIGNE-AIX_MARS.",
        "Aix-Marseille",
    )


def test_real_pupil_fields_classes_and_groups(full):
    pupil = people(full, Role.STUDENT)["2605692"]
    assert (pupil.given_name, pupil.family_name) == ("Kù", "Long")
    assert pupil.birth_date == dt.date(1995, 9, 14)
    assert pupil.national_id == ""
    assert enrollments_of(full, "2605692") == [
        ("52006$RUS1TERM", Role.STUDENT),
        ("52006$group$206", Role.STUDENT),
    ]
    group = next(c for c in full.classes if c.sourced_id == "52006$group$206")
    assert (group.org, group.title, group.class_type) == ("52006", "206", "scheduled")


def test_real_dangling_guardians_are_rejected_with_file_and_line(full):
    assert (
        ELEVE.name,
        5,
        "responsable 2867253 de l'élève 2605692 absent des fichiers PersRelEleve",
    ) in reasons(full, "guardian_link")


def test_real_new_style_links_win_and_contacts_get_none(full):
    # 2605693: 2866652 is a contact (resp_legal 0), 2866658 the mother, who
    # is in another PersRelEleve part: only she is sought (and dangles).
    about = [r for r in reasons(full, "guardian_link") if "l'élève 2605693 " in r[2]]
    assert about == [
        (
            ELEVE.name,
            42,
            "responsable 2866658 de l'élève 2605693 absent des fichiers PersRelEleve",
        )
    ]
    relationships = collections.Counter(
        link.relationship for link in full.guardian_links
    )
    assert relationships["mère"] == 205
    assert relationships["père"] == 135


def test_real_subjects_become_courses_of_the_schools_that_teach_them(full):
    courses = {course.sourced_id: course for course in full.courses}
    assert courses["52006$030201"].title == "ANGLAIS LV1"
    assert courses["52006$030201"].org == "52006"
    assert all(
        course.org in {org.sourced_id for org in full.orgs}
        for course in courses.values()
    )
    assert len(courses) == 902


def test_real_subjects_alone_make_no_course_but_say_so():
    roster = aaf.parse([MATIERE])
    assert roster.courses == []
    assert roster.warnings == [
        "718 matière(s) lue(s), enseignée(s) dans aucune structure des fichiers : "
        "aucun cours créé"
    ]


def test_real_pupils_without_their_schools_are_rejected():
    roster = aaf.parse([ELEVE])
    assert roster.people == []
    assert len(reasons(roster, "person")) == 642
    assert "structure 52006 absente des fichiers EtabEducNat" in (
        roster.rejections[0].reason
    )
    assert any("Aucun fichier EtabEducNat" in warning for warning in roster.warnings)


def test_entcore_2020_pair_latin9_structure_and_dangling_pupil():
    roster = aaf.parse(sorted(DATA.glob("ENT_Complet_20200101_*.xml")))
    [org] = roster.orgs
    assert (org.sourced_id, org.uai, org.name, org.academy) == (
        "1",
        "0000000V",
        "NOM-STRUCTURE-COURANT",
        "Lille",
    )
    # The pupil names structure 1000 (ENTPersonStructRattach), not in the file.
    assert reasons(roster) == [
        (
            "ENT_Complet_20200101_Eleve_0000.xml",
            4,
            "élève 2000000 : structure 1000 absente des fichiers EtabEducNat",
        )
    ]


# The hand-written complete set ----------------------------------------------


def test_fixture_orgs_and_invalid_uai(complete):
    assert [(o.sourced_id, o.uai, o.name) for o in complete.orgs] == [
        ("91001", "0999001A", "CLG-DES EXEMPLES-VILLEFICTIVE"),
        ("91002", "0999002B", "LYC-DU MODELE-VILLEFICTIVE"),
    ]
    assert (
        "FICTIF_Complet_20260901_EtabEducNat_0000.xml",
        31,
        "structure 91003 : UAI « PASUNUAI » invalide ou absent",
    ) in reasons(complete, "org")


def test_fixture_pupils_read_across_parts_and_encodings(complete):
    pupils = people(complete, Role.STUDENT)
    assert sorted(pupils) == ["5000001", "5000002", "5000003"]
    zoe = pupils["5000001"]
    assert (zoe.given_name, zoe.family_name, zoe.national_id) == (
        "Zoé",
        "Exemple",
        "0999999001A",
    )
    assert zoe.birth_date == dt.date(2012, 3, 14)
    assert pupils["5000002"].given_name == "Gaëtan"
    assert pupils["5000003"].given_name == "Œdipe"


def test_fixture_impossible_birth_date_is_a_warning_not_a_rejection(complete):
    assert people(complete, Role.STUDENT)["5000002"].birth_date is None
    assert (
        "FICTIF_Complet_20260901_Eleve_0000.xml:24: date de naissance « 31/02/2012 » "
        "illisible pour 5000002 : ignorée"
    ) in complete.warnings


def test_fixture_class_and_group_sharing_a_code_stay_apart(complete):
    assert enrollments_of(complete, "5000001") == [
        ("91001$3A", Role.STUDENT),
        ("91001$group$3A", Role.STUDENT),
        ("91001$group$LATIN3", Role.STUDENT),
    ]


def test_fixture_only_legal_guardians_are_linked(complete):
    links = sorted(
        (g.student, g.guardian, g.relationship) for g in complete.guardian_links
    )
    assert links == [
        ("5000001", "6000001", "mère"),  # type 10, resp_legal 1
        ("5000001", "6000002", "père"),  # type 20, resp_legal 2
        ("5000002", "6000004", "père"),  # old style: authority + ENTElevePere
        ("5000003", "6000001", "mère"),  # old one-digit type 2
    ]
    # 6000003 is a contact only: no link, and left out of the people.
    assert "6000003" not in people(complete, Role.GUARDIAN)
    assert people(complete, Role.GUARDIAN)["6000001"].email == (
        "mere.exemple@example.invalid"
    )


def test_fixture_dangling_references_are_rejected_with_file_and_line(complete):
    eleve_1 = "FICTIF_Complet_20260901_Eleve_0001.xml"
    assert set(reasons(complete)) >= {
        (
            eleve_1,
            17,
            "élève 5000004 : structure 99999 absente des fichiers EtabEducNat",
        ),
        (
            eleve_1,
            4,
            "responsable 6000009 de l'élève 5000003 absent des fichiers PersRelEleve",
        ),
        (
            eleve_1,
            4,
            "élève 5000003 : lien « cassé » illisible "
            "(attendu id$type$resp_fin$resp_legal$contact$paiement)",
        ),
        (eleve_1, 28, "personne 5000005 : nom ou prénom manquant"),
        (
            "FICTIF_Complet_20260901_Eleve_0000.xml",
            24,
            "classe 3Z : structure 99999 absente des fichiers EtabEducNat",
        ),
        (
            "FICTIF_Complet_20260901_PersEducNat_0000.xml",
            115,
            "personnel 7000007 : aucune structure présente dans les fichiers EtabEducNat",
        ),
    }
    # The pupil whose class dangles is kept, in the classes that resolve.
    assert enrollments_of(complete, "5000002") == [("91001$3B", Role.STUDENT)]


def test_fixture_staff_roles(complete):
    roles = {p.sourced_id: p.role for p in complete.people if p.sourced_id >= "7"}
    assert roles == {
        "7000001": Role.TEACHER,  # presence before pupils
        "7000002": Role.TEACHER,  # documentalist (DOC)
        "7000003": Role.ADMINISTRATOR,  # CPE (EDU)
        "7000004": Role.ADMINISTRATOR,  # direction
        "7000005": Role.ADMINISTRATOR,  # ENTPersonCategorieEnseignant=N wins
        "7000006": Role.TEACHER,  # National_3 profile
    }
    staff = people(complete, Role.ADMINISTRATOR)
    assert staff["7000004"].orgs == ("91001", "91002")


def test_fixture_teacher_enrollments_and_ignored_staff_classes(complete):
    assert enrollments_of(complete, "7000001") == [
        ("91001$3A", Role.TEACHER),
        ("91001$3B", Role.TEACHER),
        ("91001$group$LATIN3", Role.TEACHER),
    ]
    assert enrollments_of(complete, "7000003") == []
    assert "1 personnel(s) non enseignant(s) avec des classes : classes ignorées" in (
        complete.warnings
    )


def test_fixture_courses_only_where_taught(complete):
    assert sorted((c.sourced_id, c.title) for c in complete.courses) == [
        ("91001$020700", "FRANCAIS"),
        ("91001$030201", "ANGLAIS LV1"),
        ("91001$061300", "MATHEMATIQUES"),
        ("91002$061300", "MATHEMATIQUES"),
    ]


def test_fixture_mef_are_counted_in_a_warning(complete):
    assert "2 MEF lus (nomenclature des formations, non importée)" in complete.warnings


# The hand-written delta -------------------------------------------------------


def test_delta_moves_a_pupil_to_another_class(delta):
    assert delta.mode == Mode.DELTA
    assert enrollments_of(delta, "5000001") == [("91001$3B", Role.STUDENT)]
    assert ("5000001", "homeroom") in delta.restated
    # Only the classes changed: no person record to overwrite the names.
    assert "5000001" not in {p.sourced_id for p in delta.people}


def test_delta_delete_ends_the_pupil_guardian_and_staff(delta):
    ended = {p.sourced_id: p for p in delta.people if not p.active}
    assert sorted(ended) == ["5000002", "6000003", "7000003"]
    assert ended["5000002"].role == Role.STUDENT
    assert ended["6000003"].role == Role.GUARDIAN
    assert ended["5000002"].partial == ("active",)


def test_delta_modify_sets_only_the_modified_fields(delta):
    renamed = people(delta, Role.STUDENT)["5000003"]
    assert (renamed.family_name, renamed.partial) == (
        "Modèle-Nouveau",
        ("family_name",),
    )
    guardian = people(delta, Role.GUARDIAN)["6000001"]
    assert (guardian.email, guardian.partial) == (
        "nouvelle.adresse@example.invalid",
        ("email",),
    )


def test_delta_removes_a_guardian_link_by_restating_the_others(delta):
    assert ("5000003", "guardian") in delta.restated
    assert [
        (g.guardian, g.relationship)
        for g in delta.guardian_links
        if g.student == "5000003"
    ] == [("6000001", "mère")]


def test_delta_references_to_what_the_hub_holds_are_kept(delta):
    # Neither structure 91001 nor guardian 6000002 is in the delta's files.
    assert delta.rejections == []
    assert enrollments_of(delta, "5000006") == [("91001$3A", Role.STUDENT)]
    assert [(g.guardian, g.student) for g in delta.guardian_links][-1] == (
        "6000002",
        "5000006",
    )


def test_delta_teacher_classes_replaced(delta):
    assert enrollments_of(delta, "7000001") == [("91001$3A", Role.TEACHER)]
    assert ("7000001", "homeroom") in delta.restated
    assert "7000001" not in {p.sourced_id for p in delta.people}
    # Subject 020700 is not described by the delta: no course whose title
    # would be the bare code.
    assert delta.courses == []


# Sets and files -----------------------------------------------------------------


def test_complete_and_delta_files_together_are_refused():
    with pytest.raises(UnreadableFile, match="_Complet_.*_Delta_"):
        aaf.parse([ETAB, *DELTA.glob("*.xml")])


def test_a_name_without_mode_is_read_as_a_delta(tmp_path):
    path = tmp_path / "structures.xml"
    shutil.copy(ETAB, path)
    roster = aaf.parse([path])
    assert roster.mode == Mode.DELTA
    assert len(roster.orgs) == 10
    assert "structures.xml : nom sans _Complet_ ni _Delta_" in roster.warnings[0]


def test_modify_request_in_a_complete_file_is_rejected(tmp_path):
    path = tmp_path / "X_Complet_20260901_Eleve_0000.xml"
    path.write_bytes((DELTA / "FICTIF_Delta_20260902_Eleve_0000.xml").read_bytes())
    roster = aaf.parse(
        [path, COMPLETE / "FICTIF_Complet_20260901_EtabEducNat_0000.xml"]
    )
    assert (path.name, 5, "modifyRequest dans un fichier complet : ignoré") in reasons(
        roster, "record"
    )


def test_a_record_stated_twice_in_a_complete_set_is_rejected_once(tmp_path):
    copy = tmp_path / "FULL_ENTTSSERVICES_Complet_20130117_EtabEducNat_0001.xml"
    shutil.copy(ETAB, copy)
    roster = aaf.parse([ETAB, copy])
    assert len(roster.orgs) == 10
    assert len(reasons(roster, "org")) == 10
    assert reasons(roster, "org")[0] == (
        copy.name,
        6,
        f"52000 déjà décrit ({ETAB.name}:6) : doublon ignoré",
    )


def test_a_truncated_part_refuses_the_whole_import(tmp_path):
    cut = tmp_path / ELEVE.name
    content = ELEVE.read_bytes()
    cut.write_bytes(content[: len(content) - 500])
    with pytest.raises(UnreadableFile, match=f"{ELEVE.name} : fichier tronqué"):
        aaf.parse([ETAB, cut])


def test_progress_counts_bytes_across_all_files(full):
    seen = []
    aaf.parse(FULL_SET, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == sum(path.stat().st_size for path in FULL_SET)


def test_delta_modify_emptying_a_name_or_missing_a_school_uai_is_rejected(tmp_path):
    path = tmp_path / "X_Delta_20260903_Eleve_0000.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<ficAlimMENESR>\n'
        '<modifyRequest><operationalAttributes><attr name="categoriePersonne">'
        "<value>Eleve</value></attr></operationalAttributes>"
        "<identifier><id>5000001</id></identifier><modifications>"
        '<modification name="sn" operation="replace"><value/></modification>'
        "</modifications></modifyRequest>\n"
        '<modifyRequest><operationalAttributes><attr name="categorieStructure">'
        "<value>EtabEducNat</value></attr></operationalAttributes>"
        "<identifier><id>91001</id></identifier><modifications>"
        '<modification name="ENTStructureNomCourant" operation="replace">'
        "<value>NOUVEAU NOM</value></modification>"
        "</modifications></modifyRequest>\n</ficAlimMENESR>\n",
        encoding="utf-8",
    )
    roster = aaf.parse([path])
    assert roster.people == [] and roster.orgs == []
    assert reasons(roster) == [
        (
            path.name,
            3,
            "personne 5000001 : la modification vide le nom ou le prénom ; ignorée",
        ),
        (
            path.name,
            4,
            "structure 91001 : modification sans UAI ; ignorée (le prochain export "
            "complet la reprendra)",
        ),
    ]
