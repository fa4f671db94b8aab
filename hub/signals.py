"""Close a user's sockets when their session ends or their password changes."""

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver

from core.roster.models import User
from hub.fanout import close_user_sockets


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        close_user_sockets(user.pk, "logout")


@receiver(pre_save, sender=User)
def close_sockets_on_password_change(sender, instance: User, **kwargs) -> None:
    if instance.pk is None:
        return
    old = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if old is not None and old != instance.password:
        close_user_sockets(instance.pk, "password_changed")
