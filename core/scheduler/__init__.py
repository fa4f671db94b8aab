"""The periodic scheduler: one loop that runs every domain's timed jobs.

Its jobs belong to several modules (attendance, homework, school life,
agenda, the event log, privacy, delivery), so the loop lives in a module of
its own rather than in any of them; each job stays with the module it serves.
``manage.py run_scheduler`` runs it in production (compose's ``scheduler``
service); ``make run`` runs it in a thread of the demo.
"""
