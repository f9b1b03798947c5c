# Placeholder: media bytes are being written.
from django.http import HttpResponse


def dm_media(request, **kwargs):
    return HttpResponse(status=501)


avatar = dm_video = dm_media
