"""The background task that makes a publication's PDFs (django-tasks,
``manage.py db_worker``).

Enqueued by :func:`core.reportcards.actions.publish` when the publishing
transaction commits; the work is :func:`core.reportcards.generation.generate`.
"""

from django_tasks import task

from core.reportcards.generation import generate


@task()
def generate_report_cards(publication_id: int, generation: int) -> dict:
    """Make the PDFs of one generation of a publication, then announce them."""
    return generate(publication_id, generation)
