"""The admin: staff only, never a token on a page, read-only cache pages that escape what X sent,
and changelists whose query count stays flat as the cache grows."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations.models import (
    Conversation,
    DmEvent,
    ImportJob,
    Media,
    SharedPost,
    SyncRun,
    SyncState,
    XUser,
)
from conversations.sync import Progress, store_page
from dmreader import leaving
from dmreader.admin_tables import CappedCountPaginator
from dmreader.models import XAccount
from tests.signin_helpers import sign_in

pytestmark = pytest.mark.django_db

User = get_user_model()
MODELS = (XAccount, Conversation, DmEvent, XUser, Media, SharedPost, SyncState, SyncRun, User)
# Session, user, the capped count, the page, and on some pages a prefetch, the chosen row of a
# filter or a related row of a detail page. The user delete page counts each kind of row a user
# owns, one capped count each (twelve: the cache's eight, history gaps, archive imports, read
# marks and exports), whatever the size.
MAX_QUERIES = 7
MAX_QUERIES_DELETE_PAGE = 16
FRIENDS = [str(700 + n) for n in range(8)]
GROUP = "1900000000000000001"
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def admin_url(model, view: str = "changelist", *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def make_account(n: int, **fields) -> User:
    user = User.objects.create_user(f"x{100 + n}")
    fields = {"token_expires_at": timezone.now() + timedelta(hours=2), **fields}
    XAccount.objects.create(
        user=user,
        x_user_id=str(100 + n),
        username=f"reader{n}",
        name=f"Reader {n}",
        access_token=f"access-token-{n}",
        refresh_token=f"refresh-token-{n}",
        scopes="dm.read tweet.read users.read offline.access",
        **fields,
    )
    return user


def fill_cache(owner: User, events: int, first: int = 0) -> None:
    """`events` events for `owner` in one-to-ones with eight friends and one group, stored by
    sync.store_page 100 a page: every tenth with a photo, every tenth a shared post, every
    fiftieth someone joining the group; then a sync state and runs, as sync leaves them."""
    me = owner.x_account.x_user_id
    for start in range(first, first + events, 100):
        data, media, posts = [], [], []
        for i in range(start, min(start + 100, first + events)):
            friend = FRIENDS[i % len(FRIENDS)]
            event = {
                "id": str(10**15 + i),
                "event_type": "MessageCreate",
                "text": f"message {i} about the book club",
                "created_at": timestamp(START - timedelta(minutes=i)),
                "dm_conversation_id": "-".join(sorted([me, friend], key=int)),
                "sender_id": friend if i % 2 else me,
            }
            if i % 7 == 0:
                event["dm_conversation_id"] = GROUP
            if i % 10 == 3:
                key = f"3_{2 * 10**15 + i}"
                event["attachments"] = {"media_keys": [key]}
                media.append({"media_key": key, "type": "photo", "width": 1200, "height": 800})
            if i % 10 == 6:
                post = str(3 * 10**15 + i)
                event["referenced_tweets"] = [{"id": post}]
                posts.append({"id": post, "text": f"post {i}", "author_id": friend})
            if i % 50 == 49:
                event.update(
                    event_type="ParticipantsJoin",
                    participant_ids=[friend],
                    dm_conversation_id=GROUP,
                )
                del event["text"]
            data.append(event)
        users = [{"id": x, "username": f"friend{x}", "name": f"Friend {x}"} for x in FRIENDS]
        page = {"data": data, "includes": {"users": users, "media": media, "tweets": posts}}
        store_page(owner.pk, page, progress=Progress())
    SyncState.objects.update_or_create(
        owner=owner,
        defaults={
            "last_success_at": timezone.now(),
            "events_stored": events,
            "backfill_complete": True,
        },
    )
    SyncRun.objects.bulk_create(
        SyncRun(
            owner=owner,
            kind=("inbox", "full", "conversation")[n % 3],
            finished_at=timezone.now(),
            outcome=("idle", "failed", "waiting")[n % 3],
            error="" if n % 3 == 0 else f"X answered 503 on request {n}",
            events_stored=100,
        )
        for n in range(max(3, events // 50))
    )
    ImportJob.objects.bulk_create(
        ImportJob(
            owner=owner,
            file_name=f"twitter-archive-{n}.zip",
            status=(ImportJob.DONE, ImportJob.FAILED, ImportJob.IMPORTING)[n % 3],
            messages_done=n * 100,
            messages_total=300,
            error="" if n % 3 != 1 else "This archive is of @someone_else, not of you.",
        )
        for n in range(3)
    )


def pages_to_check(owner: User) -> list[str]:
    """Every changelist, its filters and search, deep pages, and a detail page of each kind."""
    conversation = Conversation.objects.filter(owner=owner, x_id=GROUP).get()
    event = DmEvent.objects.filter(owner=owner).order_by("sort_id").last()
    sender = XUser.objects.filter(owner=owner).first()
    account = owner.x_account
    events = admin_url(DmEvent)
    return [
        reverse("admin:index"),
        admin_url(XAccount),
        admin_url(XAccount) + "?tokens=ok&q=reader",
        admin_url(Conversation),
        admin_url(Conversation) + f"?owner__id__exact={owner.pk}&is_group__exact=1",
        admin_url(Conversation) + f"?q={conversation.x_id}",
        events,
        events + "?p=2",
        events + f"?conversation__id__exact={conversation.pk}",
        events + f"?sender__id__exact={sender.pk}&event_type=MessageCreate",
        events + f"?owner__id__exact={owner.pk}&event_type=__other__",
        events
        + "?created_at__gte=2026-10-01T00:00:00%2B00:00&created_at__lt=2026-11-02T00:00:00%2B00:00",
        events + f"?q={event.x_id}",
        events + "?q=book+club",
        admin_url(XUser),
        admin_url(XUser) + "?q=friend",
        admin_url(Media),
        admin_url(Media) + "?type=photo",
        admin_url(SharedPost),
        admin_url(SyncState),
        admin_url(SyncRun),
        admin_url(SyncRun) + "?outcome=failed&kind=full&has_error=yes",
        admin_url(User),
        admin_url(XAccount, "change", account.pk),
        admin_url(Conversation, "change", conversation.pk),
        admin_url(DmEvent, "change", event.pk),
        admin_url(XUser, "change", sender.pk),
        admin_url(Media, "change", Media.objects.filter(owner=owner).first().pk),
        admin_url(SharedPost, "change", SharedPost.objects.filter(owner=owner).first().pk),
        admin_url(SyncState, "change", owner.sync_state.pk),
        admin_url(SyncRun, "change", SyncRun.objects.filter(owner=owner).first().pk),
        admin_url(User, "change", owner.pk),
        admin_url(ImportJob),
        admin_url(ImportJob) + "?status=failed&q=someone",
        admin_url(ImportJob, "change", ImportJob.objects.filter(owner=owner).first().pk),
        admin_url(User, "delete", owner.pk),
    ]


def queries_per_page(client: Client, owner: User) -> list[tuple[str, int]]:
    counts = []
    for url in pages_to_check(owner):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
        counts.append((url, len(captured)))
        for query in captured.captured_queries:
            sql = query["sql"].upper()
            # No page counts a whole table, nor lists its distinct values.
            assert "COUNT(" not in sql or "LIMIT" in sql, (url, sql)
            assert "DISTINCT" not in sql, (url, sql)
    return counts


def test_staff_can_open_every_changelist_and_detail_page(admin_client):
    owner = make_account(1)
    fill_cache(owner, events=120)
    for url in pages_to_check(owner):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    events = admin_client.get(admin_url(DmEvent))
    assert events.context["cl"].result_count == 120
    assert b"message 119 about the book club" in events.content


def test_changelists_run_as_many_queries_for_a_big_cache_as_for_a_small_one(
    admin_client, django_assert_max_num_queries
):
    owners = [make_account(n) for n in range(2)]
    for owner in owners:
        fill_cache(owner, events=120)
    # Once to warm what Django caches per process (content types, for each change page's history
    # link), so both measurements count only what the pages themselves query.
    queries_per_page(admin_client, owners[0])
    small = queries_per_page(admin_client, owners[0])

    owners += [make_account(n) for n in range(2, 4)]
    for owner in owners:
        fill_cache(owner, events=1000, first=120)
    assert DmEvent.objects.count() == 4 * 1000 + 2 * 120
    big = queries_per_page(admin_client, owners[0])

    table = "\n".join(f"{a:3} {b:3}  {url}" for (url, a), (_, b) in zip(small, big, strict=True))
    assert [count for _, count in big] == [count for _, count in small], table
    for url in pages_to_check(owners[0]):
        limit = MAX_QUERIES_DELETE_PAGE if url.endswith("/delete/") else MAX_QUERIES
        with django_assert_max_num_queries(limit):
            admin_client.get(url)


def test_the_event_count_stops_at_the_cap_and_says_so(admin_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 150)
    fill_cache(make_account(1), events=300)
    page = admin_client.get(admin_url(DmEvent))
    assert page.context["cl"].result_count == 150
    assert b"150+ DM events" in page.content
    assert admin_client.get(admin_url(DmEvent) + "?p=2").status_code == 200
    # Past the cap there are no pages: the list asks to be narrowed instead.
    assert admin_client.get(admin_url(DmEvent) + "?p=3")["Location"].endswith("?e=1")
    narrowed = admin_client.get(admin_url(DmEvent) + "?event_type=ParticipantsJoin")
    assert narrowed.context["cl"].result_count == 6


def test_events_are_filtered_by_a_conversation_chosen_by_link_never_listed(admin_client):
    owner = make_account(1)
    fill_cache(owner, events=200)
    group = Conversation.objects.get(owner=owner, x_id=GROUP)
    unfiltered = admin_client.get(admin_url(DmEvent)).content.decode()
    assert "conversation__id__exact" in unfiltered  # the conversation column links to its events
    assert "By conversation" not in unfiltered

    conversations = admin_client.get(admin_url(Conversation)).content.decode()
    assert f"?conversation__id__exact={group.pk}" in conversations

    page = admin_client.get(admin_url(DmEvent) + f"?conversation__id__exact={group.pk}")
    shown = page.context["cl"].result_list
    assert {event.conversation_id for event in shown} == {group.pk}
    assert len(shown) == DmEvent.objects.filter(conversation=group).count()
    assert [e.created_at for e in shown] == sorted((e.created_at for e in shown), reverse=True)
    assert "By conversation" in page.content.decode()
    chosen = next(f for f in page.context["cl"].filter_specs if f.title == "conversation")
    assert chosen.lookup_choices == [(group.pk, GROUP)]


def test_lists_sort_only_by_what_an_index_sorts_whatever_the_url_asks(admin_client):
    owner = make_account(1)
    fill_cache(owner, events=150)
    group = Conversation.objects.get(owner=owner, x_id=GROUP)

    def listed(query: str) -> list[int]:
        page = admin_client.get(admin_url(DmEvent) + query)
        return [event.pk for event in page.context["cl"].result_list]

    newest_cached_first = list(DmEvent.objects.order_by("-pk").values_list("pk", flat=True)[:100])
    assert listed("") == newest_cached_first
    for column in range(7):  # x_id, type, created_at, account, conversation, sender, text
        assert listed(f"?o={column}") == newest_cached_first
    in_group = DmEvent.objects.filter(conversation=group)
    oldest_first = list(in_group.order_by("created_at", "sort_id").values_list("pk", flat=True))
    assert listed(f"?conversation__id__exact={group.pk}&o=2") == oldest_first
    by_x_id = DmEvent.objects.filter(owner=owner).order_by("-sort_id")
    assert listed(f"?owner__id__exact={owner.pk}") == list(
        by_x_id.values_list("pk", flat=True)[:100]
    )


def test_an_event_id_is_found_exactly_and_words_by_text(admin_client):
    fill_cache(make_account(1), events=120)
    by_id = admin_client.get(admin_url(DmEvent), {"q": str(10**15 + 17)})
    assert [e.text for e in by_id.context["cl"].result_list] == ["message 17 about the book club"]
    by_text = admin_client.get(admin_url(DmEvent), {"q": "message 11"})
    assert {e.text for e in by_text.context["cl"].result_list} == {
        f"message {n} about the book club" for n in (11, *range(110, 120))
    }


def test_raw_json_is_shown_pretty_and_escaped(admin_client):
    owner = make_account(1)
    hostile = "<script>alert(1)</script>"
    event = {
        "id": "42",
        "event_type": "MessageCreate",
        "text": hostile,
        "created_at": timestamp(START),
        "dm_conversation_id": "101-700",
        "sender_id": "700",
        "entities": {"hashtags": [{"tag": '"><img src=x onerror=alert(2)>'}]},
    }
    store_page(owner.pk, {"data": [event]}, progress=Progress())
    detail = admin_client.get(admin_url(DmEvent, "change", DmEvent.objects.get().pk))
    html = detail.content.decode()
    assert hostile not in html
    assert "<img src=x" not in html
    assert "<pre>{\n  &quot;id&quot;: &quot;42&quot;,\n" in html
    assert "&quot;text&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in html
    listing = admin_client.get(admin_url(DmEvent)).content.decode()
    assert hostile not in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing


def test_cached_rows_cannot_be_added_changed_or_deleted_through_the_admin(admin_client):
    owner = make_account(1)
    fill_cache(owner, events=20)
    event = DmEvent.objects.filter(owner=owner).first()
    for model in (XAccount, Conversation, DmEvent, XUser, Media, SharedPost, SyncState, SyncRun):
        assert admin_client.get(admin_url(model, "add")).status_code == 403
    detail = admin_client.get(admin_url(DmEvent, "change", event.pk))
    assert b'name="_save"' not in detail.content
    changed = admin_client.post(admin_url(DmEvent, "change", event.pk), {"text": "edited"})
    assert changed.status_code == 403
    assert admin_client.post(admin_url(DmEvent, "delete", event.pk)).status_code == 403
    event.refresh_from_db()
    assert event.text != "edited"


def test_deleting_a_user_counts_their_cache_instead_of_listing_it(admin_client):
    owner = make_account(1)
    fill_cache(owner, events=300)
    confirm = admin_client.get(admin_url(User, "delete", owner.pk))
    html = confirm.content.decode()
    assert "DM events: 300" in html
    assert "Sync runs: 6" in html
    assert "Sync states: 1" in html
    assert not re.search(r"/admin/conversations/dmevent/\d+/change/", html)
    admin_client.post(admin_url(User, "delete", owner.pk), {"post": "yes"})
    # Deactivated at once; the rows go in batches in the background (tests/test_leaving.py).
    assert not User.objects.get(pk=owner.pk).is_active
    leaving.erase_user(owner.pk)
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not DmEvent.objects.filter(owner_id=owner.pk).exists()
    assert not XAccount.objects.filter(user_id=owner.pk).exists()


def test_sync_now_and_full_resync_queue_a_task_per_account_with_tokens(
    admin_client, django_capture_on_commit_callbacks
):
    ready = [make_account(n) for n in range(2)]
    lost = make_account(2, needs_reauth=True)
    selected = [user.x_account.pk for user in [*ready, lost]]
    for action, full in (("sync_now", False), ("full_resync", True)):
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                admin_url(XAccount),
                {"action": action, "_selected_action": selected, "index": "0"},
                follow=True,
            )
        what = "full resync" if full else "sync"
        shown = [str(m) for m in response.context["messages"]]
        assert shown == [
            f"Queued a {what} for 2 accounts: @reader0, @reader1.",
            "Skipped @reader2: needs to sign in with X again first.",
        ]
        queued = DBTaskResult.objects.filter(
            task_path="conversations.tasks.sync_account", args_kwargs__kwargs__full=full
        )
        assert sorted(task.args_kwargs["args"][0] for task in queued) == [u.pk for u in ready]


def test_staff_who_may_only_view_accounts_cannot_queue_syncs(
    client, django_capture_on_commit_callbacks
):
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_xaccount"))
    client.force_login(viewer)
    account = make_account(1).x_account
    page = client.get(admin_url(XAccount))
    assert page.status_code == 200
    assert b"reader1" in page.content and b"sync_now" not in page.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            admin_url(XAccount),
            {"action": "sync_now", "_selected_action": [account.pk], "index": "0"},
        )
    assert not DBTaskResult.objects.exists()


def test_token_status_expiry_and_sync_state_are_listed(admin_client):
    fresh = make_account(1)
    expired = make_account(2, token_expires_at=timezone.now() - timedelta(minutes=5))
    make_account(3, needs_reauth=True)
    SyncState.objects.create(owner=fresh, status=SyncState.FAILED, last_error="X said 503")
    SyncState.objects.create(owner=expired, last_success_at=START)
    page = admin_client.get(admin_url(XAccount))
    rows = {
        account.username: page.context["cl"].model_admin.tokens(account)
        for account in page.context["cl"].result_list
    }
    assert rows == {"reader1": "Has tokens", "reader2": "Expired", "reader3": "Needs sign-in"}
    html = page.content.decode()
    assert "Failed" in html and "Never synced" in html and "Up to date" in html
    only_expired = admin_client.get(admin_url(XAccount), {"tokens": "expired"})
    assert [a.username for a in only_expired.context["cl"].result_list] == ["reader2"]
    detail = admin_client.get(admin_url(XAccount, "change", expired.x_account.pk))
    assert b"Has tokens" not in detail.content and b"Expired" in detail.content


def test_no_token_value_reaches_any_admin_page(admin_client, sandbox):
    sign_in(Client(), sandbox, "maya_reads")
    account = XAccount.objects.get(username="maya_reads")
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM dmreader_xaccount")
        stored = cursor.fetchone()
    secrets = [account.access_token, account.refresh_token, *stored]
    assert all(secrets)
    fill_cache(account.user, events=20)
    pages = [
        *pages_to_check(account.user),
        admin_url(XAccount) + "?q=maya_reads",
        admin_url(XAccount) + f"?q={account.x_user_id}",
        admin_url(XAccount, "history", account.pk),
    ]
    for url in pages:
        html = admin_client.get(url).content.decode()
        for secret in secrets:
            assert secret not in html, url
        assert 'name="access_token"' not in html and 'name="refresh_token"' not in html
    for lookup in ("access_token", "refresh_token__startswith"):
        probe = admin_client.get(admin_url(XAccount), {lookup: account.access_token[:4]})
        assert probe.status_code == 400
    acted = admin_client.post(
        admin_url(XAccount),
        {"action": "sync_now", "_selected_action": [account.pk], "index": "0"},
        follow=True,
    ).content.decode()
    assert not any(secret in acted for secret in secrets)


def every_admin_url() -> list[str]:
    owner = make_account(1)
    fill_cache(owner, events=20)
    urls = [reverse(f"admin:{view}") for view in ("index", "password_change", "autocomplete")]
    urls += [reverse("admin:app_list", args=[app]) for app in ("conversations", "dmreader", "auth")]
    for model in MODELS:
        row = model.objects.order_by("pk").first()
        urls += [admin_url(model), admin_url(model, "add")]
        urls += [admin_url(model, view, row.pk) for view in ("change", "history", "delete")]
    return urls


def test_a_signed_in_reader_who_is_not_staff_is_sent_to_the_admin_login(client, sandbox):
    sign_in(client, sandbox, "maya_reads")
    assert "_auth_user_id" in client.session
    for url in every_admin_url():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login") + "?next="), url


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client):
    for url in every_admin_url():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login") + "?next="), url


def test_an_import_job_shows_where_it_stands_and_why_it_failed(admin_client):
    owner = make_account(1)
    job = ImportJob.objects.create(
        owner=owner,
        file_name="<img src=x onerror=alert(1)>.zip",
        status=ImportJob.FAILED,
        messages_done=1200,
        messages_total=4800,
        conversations_done=3,
        conversations_total=9,
        error="data/direct-messages.js is damaged: <script>alert(1)</script>",
    )
    listing = admin_client.get(admin_url(ImportJob)).content.decode()
    assert "1,200 of 4,800 messages, 3 of 9 conversations" in listing
    assert "<img src=x" not in listing and "&lt;img src=x onerror=alert(1)&gt;.zip" in listing
    page = admin_client.get(admin_url(ImportJob, "change", job.pk)).content.decode()
    assert "data/direct-messages.js is damaged: &lt;script&gt;" in page
    assert "<script>alert(1)" not in page
