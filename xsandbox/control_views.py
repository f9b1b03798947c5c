# Placeholder
from django.http import HttpResponse


def faults(request, **kwargs):
    return HttpResponse(status=501)


clock_view = clients = tokens_view = events = truth = faults
