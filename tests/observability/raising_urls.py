"""A URL configuration whose one view fails: the server-error tests."""

from django.urls import path


def fail(request):
    raise RuntimeError("the view failed")


urlpatterns = [path("fail/", fail)]

handler500 = "core.errors.server_error"
