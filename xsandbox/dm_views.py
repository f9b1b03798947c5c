# Placeholder: the DM lookup endpoints are being written.
from django.http import HttpResponse


def dm_events(request):
    return HttpResponse(status=501)


dm_event = dm_events_with = conversation_events = dm_events
