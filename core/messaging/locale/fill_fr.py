"""Fill empty French msgstr of core/messaging/locale/fr from the table below.

Like ``frontend/locale/fill_fr.py`` (whose machinery it reuses), for the
messaging app's own catalogue. From ``core/messaging``:
``../../.venv/bin/python ../../manage.py makemessages -l fr --no-wrap``, then
``../../.venv/bin/python locale/fill_fr.py``, then
``../../.venv/bin/python ../../manage.py compilemessages``.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "frontend_fill_fr", HERE.parents[2] / "frontend" / "locale" / "fill_fr.py"
)
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

NB = base.NB

FR = {
    "Hide and suspend the sender for 7 days": "Masquer et suspendre l’expéditeur 7 jours",
    # Admin (core/messaging/admin.py) and models
    "conversation": "conversation",
    "sender": "expéditeur",
    "Hide the reported messages for everyone": "Masquer pour tous les messages signalés",
    "Dismiss the reports": "Classer les signalements",
    "guardians may write to their children's teachers": (
        "les responsables peuvent écrire aux professeurs de leurs enfants"
    ),
    "guardians may write to school-life staff": (
        "les responsables peuvent écrire à la vie scolaire"
    ),
    "pupils may write to their teachers": "les élèves peuvent écrire à leurs professeurs",
    "read receipts": "accusés de lecture",
    "messaging policy": "règles de la messagerie",
    "messaging policies": "règles de la messagerie",
    "recipients may reply to everyone": "les destinataires peuvent répondre à tous",
    "recipients may reply to the sender only": (
        "les destinataires peuvent répondre à l’expéditeur seulement"
    ),
    "recipients may not reply": "les destinataires ne peuvent pas répondre",
    "subject": "objet",
    "replies": "réponses",
    "conversations": "conversations",
    "open": "ouvert",
    "message hidden": "message masqué",
    "dismissed": "classé",
    "reason": "motif",
    # Forms
    "School life": "Vie scolaire",
    "Teachers": "Professeurs",
    "Guardians": "Responsables",
    "Pupils": "Élèves",
    "Reason": "Motif",
    "Hide the message": "Masquer le message",
    "Dismiss the report": "Classer le signalement",
    "Suspend the sender for 7 days": "Suspendre l’expéditeur 7 jours",
    "Subject": "Objet",
    "Recipients": "Destinataires",
    "All guardians of a class": "Tous les responsables d’une classe",
    "Guardians of one pupil": "Les responsables d’un élève",
    "— none —": "— aucun —",
    "Replies": "Réponses",
    "Message": "Message",
    "Choose at least one recipient.": "Choisissez au moins un destinataire.",
    # Templates
    "Only you": "Vous seul",
    "You": "Vous",
    "edited": "modifié",
    "Seen only by its sender and the author of the conversation": (
        "Vu seulement par son expéditeur et l’auteur de la conversation"
    ),
    "private reply": "réponse privée",
    "Message deleted": "Message supprimé",
    "Message hidden by the school": "Message masqué par l’établissement",
    "This message cannot be read.": "Ce message ne peut pas être lu.",
    "Attached files": "Pièces jointes",
    "Read by %(read)s of %(total)s": "Lu par %(read)s sur %(total)s",
    "Edit": "Modifier",
    "New text": "Nouveau texte",
    "Save": "Enregistrer",
    "Delete": "Supprimer",
    "Reported": "Signalé",
    "Report": "Signaler",
    "Why do you report this message?": f"Pourquoi signalez-vous ce message{NB}?",
    "Send the report": "Envoyer le signalement",
    "All conversations": "Toutes les conversations",
    "Between": "Entre",
    "you": "vous",
    "Messages of the conversation": "Messages de la conversation",
    "No message yet.": "Aucun message pour l’instant.",
    "Your reply": "Votre réponse",
    "**bold**, *italics*, lists and links; 10,000 characters at most.": (
        f"**gras**, *italique*, listes et liens{NB}; 10{NB}000 caractères au plus."
    ),
    "Files (optional)": "Fichiers (facultatif)",
    "5 files at most, 10 MB each: PDF, images, office documents.": (
        f"5 fichiers au plus, 10{NB}Mo chacun{NB}: PDF, images, documents bureautiques."
    ),
    "Send": "Envoyer",
    "Messages": "Messages",
    "New conversation": "Nouvelle conversation",
    "Reported messages": "Signalements",
    "Search the conversations": "Chercher dans les conversations",
    "Subject or name": "Objet ou nom",
    "Search": "Chercher",
    "Show all": "Tout afficher",
    "Conversations matching « %(query)s »": (
        f"Conversations correspondant à «{NB}%(query)s{NB}»"
    ),
    "No conversation matches.": "Aucune conversation ne correspond.",
    "No conversation yet.": "Aucune conversation pour l’instant.",
    "suspended": "suspendu",
    "Reported by %(name)s on %(when)s:": f"Signalé par %(name)s le %(when)s{NB}:",
    "No report is waiting.": "Aucun signalement en attente.",
    "Your account belongs to no school yet: you cannot write to anyone.": (
        f"Votre compte n’est rattaché à aucun établissement{NB}: "
        "vous ne pouvez écrire à personne."
    ),
    "School": "Établissement",
    "Change school": "Changer d’établissement",
    "School: %(school)s": f"Établissement{NB}: %(school)s",
    "Guardians of %(title)s": "Responsables des élèves de %(title)s",
    "Find a person": "Trouver une personne",
    "There is no one you may write to in this school.": (
        "Personne à qui vous puissiez écrire dans cet établissement."
    ),
    "Unless you choose, a message to a whole class can be answered to you only.": (
        "Sauf choix contraire, un message à toute une classe n’appelle de réponse "
        "qu’à vous."
    ),
    "5 files at most per message.": "5 fichiers au plus par message.",
    "Choose the files again after an error.": "Choisissez à nouveau les fichiers après une erreur.",
    # Views and the page's script
    "file": "fichier",
    "Your right to write in this school is suspended.": (
        "Votre droit d’écrire dans cet établissement est suspendu."
    ),
    "Replies are not open in this conversation.": (
        "Les réponses ne sont pas ouvertes dans cette conversation."
    ),
    "Your reply will be seen by %(name)s only.": (
        "Votre réponse ne sera vue que par %(name)s."
    ),
    "%(name)s is typing…": "%(name)s écrit…",
    "%(names)s are typing…": "%(names)s écrivent…",
    "New message from %(name)s": "Nouveau message de %(name)s",
    "Sending…": "Envoi…",
    "Message sent.": "Message envoyé.",
    "The message could not be sent: connection lost. Your draft is kept; send it again.": (
        f"Le message n’a pas pu partir{NB}: connexion perdue. Votre brouillon est "
        f"conservé{NB}; envoyez-le à nouveau."
    ),
    "The message could not be sent. Your draft is kept.": (
        "Le message n’a pas pu être envoyé. Votre brouillon est conservé."
    ),
    "Your previous message had already been sent; this text will go as a new message.": (
        f"Votre message précédent était déjà parti{NB}; ce texte partira comme un "
        "nouveau message."
    ),
    "%(count)s characters: 10,000 at most.": (
        f"%(count)s caractères{NB}: 10{NB}000 au plus."
    ),
    "Delete this message for everyone?": f"Supprimer ce message pour tout le monde{NB}?",
    "Changes saved.": "Modification enregistrée.",
    "Message deleted.": "Message supprimé.",
    "Thank you: the school will look at this message.": (
        f"Merci{NB}: l’établissement examinera ce message."
    ),
    "That did not work. Try again.": "Cela n’a pas marché. Réessayez.",
    "Conversation started.": "Conversation commencée.",
    "Choose what to do with the report.": "Choisissez quoi faire du signalement.",
    "%(name)s may not write for 7 days.": "%(name)s ne peut plus écrire pendant 7 jours.",
    "The message is hidden.": "Le message est masqué.",
    "The report is dismissed.": "Le signalement est classé.",
    "No such conversation or message.": "Conversation ou message introuvable.",
    "The form is incomplete: reload the page.": (
        f"Le formulaire est incomplet{NB}: rechargez la page."
    ),
    "The text is missing.": "Le texte manque.",
    "Say why you report this message.": "Dites pourquoi vous signalez ce message.",
}

PLURALS = {
    "%d report handled.": ("%d signalement traité.", "%d signalements traités."),
    "and %(n)s other": ("et %(n)s autre", "et %(n)s autres"),
    "unread message": ("message non lu", "messages non lus"),
    "and %(n)s other recipient": (
        "et %(n)s autre destinataire",
        "et %(n)s autres destinataires",
    ),
}

PLURAL_ENTRY = re.compile(
    r'msgid "(?P<id>(?:[^"\\]|\\.)*)"\nmsgid_plural "(?:[^"\\]|\\.)*"\n'
    r'msgstr\[0\] ""\nmsgstr\[1\] ""\n'
)


def fill_plurals(path: Path) -> list[str]:
    missing = []

    def replace(match: re.Match) -> str:
        key = base.unescape(match.group("id"))
        if key not in PLURALS:
            missing.append(key)
            return match.group(0)
        one, many = (base.escape(text) for text in PLURALS[key])
        head = match.group(0).split("msgstr[0]")[0]
        return f'{head}msgstr[0] "{one}"\nmsgstr[1] "{many}"\n'

    path.write_text(PLURAL_ENTRY.sub(replace, path.read_text(encoding="utf-8")))
    return missing


if __name__ == "__main__":
    base.FR.clear()
    base.FR.update(FR)
    po = HERE / "fr" / "LC_MESSAGES" / "django.po"
    left = base.fill(po) + fill_plurals(po)
    subprocess.run(["msgcat", "--no-wrap", "-o", po, po], check=True)
    print("\n".join(left) or "all translated")
    sys.exit(1 if left else 0)
