"""The background task that makes a publication's PDFs (django-tasks,
``manage.py db_worker``).

Enqueued by :func:`core.reportcards.actions.publish` when the publishing
transaction commits; the work is :func:`core.reportcards.actions.generate`.
"""

from django_tasks import task


@task()
def generate_report_cards(publication_id: int, generation: int) -> dict:
    """Make the PDFs of one generation of a publication, then announce them."""
    from core.reportcards.actions import generate

    return generate(publication_id, generation)
