"""Fill empty French msgstr of frontend/locale/fr from the table below.

A maintenance helper: ``makemessages`` extracts, this fills what it knows,
``compilemessages`` compiles. Run from the repository root:
``.venv/bin/python frontend/locale/fill_fr.py``. Prints msgids still untranslated.
"""

import re
import subprocess
import sys
from pathlib import Path

NB = "\u00a0"  # French puts a no-break space before ":" and inside « ».

FR = {
    # Header, login, pages (frontend/templates)
    "Hub ENT": "Hub ENT",
    "Skip to content": "Aller au contenu",
    "Main menu": "Menu principal",
    "Home": "Accueil",
    "Timetable": "Emploi du temps",
    "Absences": "Absences",
    "Notifications": "Notifications",
    "unread": "non lues",
    "Messages": "Messages",
    "unread conversations": "conversations non lues",
    "Live updates": "Mises à jour en direct",
    "Connecting…": "Connexion…",
    "Log out": "Se déconnecter",
    "Log in": "Connexion",
    ("button", "Log in"): "Se connecter",
    "Log in to Hub ENT": "Connexion à Hub ENT",
    "Timetable, absences and notifications of your school, live.": (
        "L’emploi du temps, les absences et les notifications de votre établissement, en direct."
    ),
    "Your account cannot open this page. Log in with another account.": (
        "Votre compte ne peut pas ouvrir cette page. Connectez-vous avec un autre compte."
    ),
    "Username": "Identifiant",
    "Password": "Mot de passe",
    "Hello %(name)s": "Bonjour %(name)s",
    "My children": "Mes enfants",
    "Not enrolled in any class yet.": "Pas encore inscrit dans une classe.",
    "of %(name)s": "de %(name)s",
    "No child is linked to your account. Contact the school office.": (
        "Aucun enfant n’est lié à votre compte. Contactez le secrétariat de l’établissement."
    ),
    "Today's lessons": "Cours du jour",
    "Next lessons: %(day)s": f"Prochains cours{NB}: %(day)s",
    "Cancelled": "Annulé",
    "Moved": "Déplacé",
    "Roll call taken": "Appel fait",
    "Edit the roll call": "Modifier l’appel",
    "Take the roll call": "Faire l’appel",
    "No lesson in the next two weeks.": "Aucun cours dans les deux prochaines semaines.",
    "See the timetable": "Voir l’emploi du temps",
    "Shortcuts": "Raccourcis",
    "My timetable": "Mon emploi du temps",
    "Open my timetable": "Ouvrir mon emploi du temps",
    "See my notifications": "Voir mes notifications",
    "School life": "Vie scolaire",
    "Absences and excuses": "Absences et justificatifs",
    "Excuses to review, missing roll calls, absences of the day.": (
        "Justificatifs à traiter, appels non faits, absences du jour."
    ),
    "Open the queue": "Ouvrir la file",
    "Timetables": "Emplois du temps",
    "See the timetables": "Voir les emplois du temps",
    "Mark all as read": "Tout marquer comme lu",
    "No notification yet.": "Aucune notification pour l’instant.",
    "Child": "Enfant",
    "Class": "Classe",
    "Weeks": "Semaines",
    "Previous week": "Semaine précédente",
    "Week of %(day)s": "Semaine du %(day)s",
    "Next week": "Semaine suivante",
    "The timetable needs JavaScript.": "L’emploi du temps a besoin de JavaScript.",
    "No class to show.": "Aucune classe à afficher.",
    "Show": "Afficher",
    "room": "salle",
    "class": "classe",
    # JavaScript (frontend/static/hub)
    "Absence cancelled: %(name)s was present in %(subject)s (%(when)s)": (
        f"Absence annulée{NB}: %(name)s était présent·e en %(subject)s (%(when)s)"
    ),
    "%(name)s: %(minutes)s min late in %(subject)s (%(when)s)": (
        f"%(name)s{NB}: en retard de %(minutes)s{NB}min en %(subject)s (%(when)s)"
    ),
    "%(name)s: late in %(subject)s (%(when)s)": f"%(name)s{NB}: en retard en %(subject)s (%(when)s)",
    "%(name)s: absent in %(subject)s (%(when)s)": f"%(name)s{NB}: absence en %(subject)s (%(when)s)",
    "Corrected: %(text)s": f"Correction{NB}: %(text)s",
    "Excuse submitted for %(name)s, %(subject)s (%(when)s)": (
        f"Justificatif envoyé{NB}: %(name)s, %(subject)s (%(when)s)"
    ),
    "Excuse accepted for %(name)s, %(subject)s (%(when)s)": (
        f"Justificatif accepté{NB}: %(name)s, %(subject)s (%(when)s)"
    ),
    "Excuse refused for %(name)s, %(subject)s (%(when)s)": (
        f"Justificatif refusé{NB}: %(name)s, %(subject)s (%(when)s)"
    ),
    "Excuse for %(name)s, %(subject)s (%(when)s)": f"Justificatif{NB}: %(name)s, %(subject)s (%(when)s)",
    " (note: %(note)s)": f" (note{NB}: %(note)s)",
    "Roll call not taken: %(class)s, %(subject)s, %(time)s": (
        f"Appel non fait{NB}: %(class)s, %(subject)s, %(time)s"
    ),
    "Cancelled: %(subject)s, %(when)s": f"Cours annulé{NB}: %(subject)s, %(when)s",
    "Moved: %(subject)s, %(old)s → %(when)s": f"Cours déplacé{NB}: %(subject)s, %(old)s → %(when)s",
    "Moved: %(subject)s, now %(when)s": f"Cours déplacé{NB}: %(subject)s, désormais %(when)s",
    "Room change: %(subject)s, %(when)s, %(old_room)s → %(room)s": (
        f"Changement de salle{NB}: %(subject)s, %(when)s, %(old_room)s → %(room)s"
    ),
    "Room change: %(subject)s, %(when)s, room %(room)s": (
        f"Changement de salle{NB}: %(subject)s, %(when)s, salle %(room)s"
    ),
    "Teacher change: %(subject)s, %(when)s, with %(teachers)s": (
        f"Remplacement{NB}: %(subject)s, %(when)s, avec %(teachers)s"
    ),
    "Lesson added: %(subject)s, %(when)s": f"Cours ajouté{NB}: %(subject)s, %(when)s",
    "Lesson restored: %(subject)s, %(when)s": f"Cours rétabli{NB}: %(subject)s, %(when)s",
    "Timetable change: %(subject)s, %(when)s": f"Emploi du temps modifié{NB}: %(subject)s, %(when)s",
    " (%(reason)s)": " (%(reason)s)",
    "Update: %(kind)s": f"Mise à jour{NB}: %(kind)s",
    "(unread)": "(non lue)",
    "Notifications could not be loaded.": "Les notifications n’ont pas pu être chargées.",
    "All notifications are marked as read.": "Toutes les notifications sont marquées comme lues.",
    "Could not mark the notifications as read. Try again.": (
        "Impossible de marquer les notifications comme lues. Réessayez."
    ),
    "Live": "En direct",
    "Reconnecting…": "Reconnexion…",
    "Offline": "Hors ligne",
    "Disconnected": "Déconnecté",
    "Room %(old)s → %(new)s": "Salle %(old)s → %(new)s",
    "Room %(room)s": "Salle %(room)s",
    "Substitute: %(new)s (instead of %(old)s)": f"Remplaçant{NB}: %(new)s (au lieu de %(old)s)",
    "originally %(day)s %(time)s": "initialement %(day)s %(time)s",
    "The timetable could not be loaded. Check your connection.": (
        "L’emploi du temps n’a pas pu être chargé. Vérifiez votre connexion."
    ),
    "No lesson": "Pas de cours",
    "Live updates are back.": "Les mises à jour en direct sont rétablies.",
    "Connection lost: live updates paused.": f"Connexion perdue{NB}: mises à jour en direct suspendues.",
    # Models (core/*/models.py)
    "name": "nom",
    "UAI code": "code UAI",
    "e.g. 0350001A": "par ex. 0350001A",
    "time zone": "fuseau horaire",
    "school": "établissement",
    "schools": "établissements",
    "School": "Établissement",
    "school year": "année scolaire",
    "term": "trimestre",
    "title": "intitulé",
    "start date": "date de début",
    "end date": "date de fin",
    "academic session": "période scolaire",
    "academic sessions": "périodes scolaires",
    "code": "code",
    "course": "matière",
    "courses": "matières",
    "student": "élève",
    "teacher": "enseignant",
    "guardian": "responsable légal",
    "school-life staff": "vie scolaire",
    "role": "rôle",
    "timetable code": "code emploi du temps",
    "children": "enfants",
    "child": "enfant",
    "user": "utilisateur",
    "users": "utilisateurs",
    "relationship": "lien de parenté",
    "guardian link": "lien de responsabilité",
    "guardian links": "liens de responsabilité",
    "homeroom": "classe",
    "scheduled group": "groupe",
    "classes": "classes",
    "enrollment": "inscription",
    "enrollments": "inscriptions",
    "public holiday": "jour férié",
    "public holidays": "jours fériés",
    "file name or URL of the export": "nom du fichier ou URL de l’export",
    "timetable feed": "flux d’emploi du temps",
    "timetable feeds": "flux d’emploi du temps",
    "subject": "matière",
    "teachers": "enseignants",
    "scheduled": "prévu",
    "cancelled": "annulé",
    "start": "début",
    "end": "fin",
    "added": "ajouté",
    "restored": "rétabli",
    "moved": "déplacé",
    "room changed": "changement de salle",
    "teacher replaced": "enseignant remplacé",
    "list of change kinds": "liste des types de changement",
    "roll call": "appel",
    "roll calls": "appels",
    "present": "présent",
    "absent": "absent",
    "late": "en retard",
    "status": "statut",
    "minutes late": "minutes de retard",
    "attendance record": "relevé de présence",
    "attendance records": "relevés de présence",
    "illness": "maladie",
    "medical appointment": "rendez-vous médical",
    "family reason": "raison familiale",
    "transport problem": "problème de transport",
    "exam or official summons": "examen ou convocation officielle",
    "other": "autre",
    "pending": "en attente",
    "accepted": "accepté",
    "refused": "refusé",
    "reason": "motif",
    "comment": "commentaire",
    "document": "document",
    "note": "note",
    "excuse": "justificatif",
    "excuses": "justificatifs",
    # Attendance (core/attendance: forms, views, templates)
    "Reason": "Motif",
    "Comment": "Commentaire",
    "Document (PDF or image, 5 MB max)": f"Document (PDF ou image, 5{NB}Mo maximum)",
    "The document is larger than 5 MB.": f"Le document dépasse 5{NB}Mo.",
    "Only PDF files and images are accepted.": "Seuls les fichiers PDF et les images sont acceptés.",
    "Accept": "Accepter",
    "Refuse": "Refuser",
    "Note": "Note",
    "Give the minutes of lateness as a number.": "Indiquez les minutes de retard en chiffres.",
    "Excuse an absence": "Justifier une absence",
    "Send": "Envoyer",
    "Back to absences": "Retour aux absences",
    "Absences and lateness": "Absences et retards",
    "Roll calls for %(day)s": "Appels du %(day)s",
    "Day": "Jour",
    "No lesson to call on this day.": "Aucun appel à faire ce jour-là.",
    "Excuses to review": "Justificatifs à traiter",
    "Note (optional)": "Note (facultative)",
    "No excuse is waiting.": "Aucun justificatif en attente.",
    "Refresh the queue": "Actualiser la file",
    "Your children's absences": "Absences de vos enfants",
    "Your absences": "Vos absences",
    "Recent absences and lateness": "Absences et retards récents",
    "Pupil": "Élève",
    "Lesson": "Cours",
    "Status": "Statut",
    "Excuse": "Justificatif",
    "No absence recorded.": "Aucune absence enregistrée.",
    "Roll call": "Appel",
    "The roll call was taken; you can correct it.": "L’appel a été fait ; vous pouvez le corriger.",
    "Present": "Présent",
    "Absent": "Absent",
    "Late": "En retard",
    "Minutes": "Minutes",
    "Minutes late": "Minutes de retard",
    "Save the roll call": "Enregistrer l’appel",
    "Roll call saved.": "Appel enregistré.",
    "Your excuse was sent to the school.": "Votre justificatif a été envoyé à l’établissement.",
    "Choose to accept or refuse.": "Choisissez d’accepter ou de refuser.",
    "Decision recorded.": "Décision enregistrée.",
    # Attendance and timetable admin, CPE page (core/attendance, core/timetable)
    "download": "télécharger",
    "pupil": "élève",
    "absence or lateness": "absence ou retard",
    "submitted by": "envoyé par",
    "submitted at": "envoyé le",
    "reviewed by": "traité par",
    "reviewed at": "traité le",
    "lesson": "cours",
    "lessons": "cours",
    "flagged at": "signalé le",
    "missing roll call": "appel non fait",
    "missing roll calls": "appels non faits",
    "dated lesson": "séance",
    "dated lessons": "séances",
    "lesson change": "modification de cours",
    "lesson changes": "modifications de cours",
    "Roll calls not taken on %(day)s": "Appels non faits le %(day)s",
    "Every roll call due was taken.": "Tous les appels attendus ont été faits.",
    "This absence is already excused.": "Cette absence est déjà justifiée.",
    "An excuse for this absence is waiting for the school.": "Un justificatif pour cette absence est en attente de validation.",
    "Reason shown to families": "Motif affiché aux familles",
}

ENTRY = re.compile(
    r'(?P<head>(?:#[^\n]*\n)*)(?:msgctxt "(?P<ctx>(?:[^"\\]|\\.)*)"\n)?'
    r'msgid "(?P<id>(?:[^"\\]|\\.)*)"\nmsgstr "(?P<str>(?:[^"\\]|\\.)*)"\n'
)


def unescape(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def fill(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    missing = []

    def replace(match: re.Match) -> str:
        msgid = match.group("id")
        fuzzy = "#, fuzzy" in match.group("head")
        if not msgid or (match.group("str") and not fuzzy):
            return match.group(0)
        key = unescape(msgid)
        ctx = match.group("ctx")
        text = FR.get((unescape(ctx), key)) if ctx else None
        text = text or FR.get(key)
        if text is None:
            missing.append(key)
            return match.group(0)
        head = re.sub(r"#, fuzzy\n|#\|[^\n]*\n", "", match.group("head"))
        head = head.replace("#, fuzzy, ", "#, ")
        ctx_line = f'msgctxt "{ctx}"\n' if ctx else ""
        return f'{head}{ctx_line}msgid "{msgid}"\nmsgstr "{escape(text)}"\n'

    # The header is marked fuzzy by makemessages; entries' fuzzy guesses are
    # replaced from the table below (see ``replace``).
    source = source.replace('#, fuzzy\nmsgid ""\nmsgstr ""', 'msgid ""\nmsgstr ""', 1)
    source = source.replace('"Language: \\n"', '"Language: fr\\n"')
    path.write_text(ENTRY.sub(replace, source), encoding="utf-8")
    return missing


if __name__ == "__main__":
    root = Path(__file__).resolve().parent / "fr" / "LC_MESSAGES"
    left = []
    for name in ("django.po", "djangojs.po"):
        left += [f"{name}: {m}" for m in fill(root / name)]
        # Normalise the layout (one blank line between entries, no wrapping).
        subprocess.run(
            ["msgcat", "--no-wrap", "-o", root / name, root / name], check=True
        )
    print("\n".join(left) or "all translated")
    sys.exit(1 if left else 0)
