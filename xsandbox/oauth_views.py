# Placeholder
from django.http import HttpResponse


def authorize(request):
    return HttpResponse(status=501)


token = revoke = users_me = home = authorize
