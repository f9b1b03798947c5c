from django.urls import include, path, re_path

from xsandbox import archive, control_views, dm_views, oauth_views, users_views

ID = r"(?P<{}>[^/]+)"  # validated by the views, so a bad id gets X's 400 body rather than a 404

urlpatterns = [
    # OAuth 2.0 authorization server. X serves the consent page on x.com and tokens on api.x.com.
    path("i/oauth2/authorize", oauth_views.authorize, name="authorize"),
    path("2/oauth2/token", oauth_views.token, name="token"),
    path("2/oauth2/revoke", oauth_views.revoke, name="revoke"),
    path("2/users/me", users_views.users_me, name="users_me"),
    path("2/users", users_views.users_by_ids, name="users_by_ids"),
    re_path(
        r"^2/users/by/username/" + ID.format("username") + "$",
        users_views.user_by_username,
        name="user_by_username",
    ),
    # Direct Message lookup.
    path("2/dm_events", dm_views.dm_events, name="dm_events"),
    re_path(r"^2/dm_events/" + ID.format("event_id") + "$", dm_views.dm_event, name="dm_event"),
    re_path(
        r"^2/dm_conversations/with/" + ID.format("participant_id") + "/dm_events$",
        dm_views.dm_events_with,
        name="dm_events_with",
    ),
    re_path(
        r"^2/dm_conversations/" + ID.format("conversation_id") + "/dm_events$",
        dm_views.conversation_events,
        name="conversation_events",
    ),
    # Media bytes: the DM media download endpoint and what X's CDNs serve (pbs/video.twimg.com).
    path("", include("xsandbox.media_urls")),
    # Each seeded account's "Download an archive of your data" ZIP (x.com's settings page hands
    # it out by e-mail; here it is a plain download): its whole history, past the API's 30 days.
    re_path(
        r"^archives/(?P<username>[A-Za-z0-9_]{1,15})\.zip$",
        archive.archive_download,
        name="archive",
    ),
    # Test controls: faults, the clock, clients, new events, ground truth. Admin bearer token only.
    path("_sandbox/faults", control_views.faults, name="faults"),
    path("_sandbox/clock", control_views.clock_view, name="clock"),
    path("_sandbox/clients", control_views.clients, name="clients"),
    path("_sandbox/tokens", control_views.tokens_view, name="tokens"),
    path("_sandbox/events", control_views.events, name="events"),
    path("_sandbox/truth/<str:username>", control_views.truth, name="truth"),
    path("", oauth_views.home, name="home"),
]
