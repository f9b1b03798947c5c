"""The cache of each signed-in account's DMs. Every row has an owner; nothing is shared between
owners, even when two of them are in the same conversation (each keeps their own copy).

X's ids are kept as given (strings of up to 19 digits). Where order matters they are compared as
numbers through `sort_id`, the id left-padded to 19 digits, so string order is numeric order
(conversations/xids.py holds X's id rules). Rows are written by conversations/store.py only.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone

from conversations.xids import ID_DIGITS


class XUser(models.Model):
    """An X account seen in includes.users: a sender, a participant, a post's author."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    x_id = models.CharField("X user id", max_length=ID_DIGITS)
    username = models.CharField(max_length=15, blank=True)
    name = models.CharField(max_length=100, blank=True)
    profile_image_url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    location = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    protected = models.BooleanField(default=False)
    verified = models.BooleanField(default=False)
    verified_type = models.CharField(max_length=20, blank=True)
    public_metrics = models.JSONField(default=dict, blank=True)
    # X reported the account missing (deactivated, suspended): kept so old messages still show who
    # wrote them, with whatever we knew before.
    unavailable = models.BooleanField(default=False)
    raw = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "X user"
        constraints = [
            models.UniqueConstraint(fields=["owner", "x_id"], name="xuser_owner_xid_unique"),
        ]

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else f"user {self.x_id}"


class Conversation(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    # "{smaller}-{larger}" by number for one-to-one, a plain snowflake for groups.
    x_id = models.CharField("X conversation id", max_length=2 * ID_DIGITS + 1)
    is_group = models.BooleanField(default=False)
    participants = models.ManyToManyField(XUser, related_name="conversations", blank=True)
    # The newest cached event, for the inbox order and its preview line.
    last_event = models.ForeignKey(
        "DmEvent", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_event_at = models.DateTimeField(null=True, blank=True)
    # Paging older history through /2/dm_conversations/{id}/dm_events when the cache runs out.
    history_token = models.CharField(max_length=200, blank=True)
    # X has nothing older to give (the start of the conversation or of its 30-day window).
    history_complete = models.BooleanField(default=False)
    # A group's name. The owner's own (the rename form; "" for none) wins over the one X's
    # archive gives (its latest conversationNameUpdate, with that event's time so an older import
    # never undoes a newer rename); without either the title is made from the participants
    # (rendering.title). X's API sends no group names, so an archive is their only source.
    name = models.CharField(max_length=100, blank=True)
    archive_name = models.CharField(max_length=200, blank=True)
    archive_name_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "x_id"], name="conversation_owner_xid_unique"),
        ]
        indexes = [
            # The inbox: an owner's conversations, latest activity first.
            models.Index(fields=["owner", "-last_event_at", "-id"], name="conversation_inbox"),
        ]

    def __str__(self) -> str:
        return self.x_id


class Media(models.Model):
    PHOTO, VIDEO, ANIMATED_GIF = "photo", "video", "animated_gif"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    media_key = models.CharField(max_length=40)
    type = models.CharField(max_length=20, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    preview_image_url = models.URLField(max_length=1000, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    alt_text = models.TextField(blank=True)
    variants = models.JSONField(default=list, blank=True)
    public_metrics = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "media"
        constraints = [
            models.UniqueConstraint(fields=["owner", "media_key"], name="media_owner_key_unique"),
        ]

    def __str__(self) -> str:
        return self.media_key


class SharedPost(models.Model):
    """A post shared into a DM (includes.tweets), kept even after it is deleted on X."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    x_id = models.CharField("X post id", max_length=ID_DIGITS)
    author = models.ForeignKey(XUser, models.SET_NULL, null=True, blank=True, related_name="+")
    author_x_id = models.CharField(max_length=ID_DIGITS, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    lang = models.CharField(max_length=10, blank=True)
    entities = models.JSONField(default=dict, blank=True)
    referenced_tweets = models.JSONField(default=list, blank=True)
    public_metrics = models.JSONField(default=dict, blank=True)
    # X reported it missing: shown as "This post is unavailable" unless we had it before.
    unavailable = models.BooleanField(default=False)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "x_id"], name="sharedpost_owner_xid_unique"),
        ]

    def __str__(self) -> str:
        return self.x_id


class DmEvent(models.Model):
    MESSAGE_CREATE = "MessageCreate"
    PARTICIPANTS_JOIN = "ParticipantsJoin"
    PARTICIPANTS_LEAVE = "ParticipantsLeave"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, models.CASCADE, related_name="events")
    x_id = models.CharField("X event id", max_length=ID_DIGITS)
    sort_id = models.CharField(max_length=ID_DIGITS, editable=False)
    # Unknown future types are stored as sent, and shown as a neutral line.
    event_type = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    text = models.TextField(blank=True)
    # The text folded for search (case, accents, compatibility forms: search.normalize). Indexed
    # by SQLite FTS5 or a PostgreSQL tsvector column (migration 0002).
    search_text = models.TextField(blank=True, editable=False)
    # A link of its own, not the one X adds for an attachment or a shared post (has:link).
    has_link = models.BooleanField(default=False, editable=False)
    # The kinds of media attached, one letter each in order (media_kinds_of: "p" photo, "v" video,
    # "g" GIF, "o" any other type; "gp" for an archive's message with a GIF and a photo), "" for
    # none: has:photo, has:video, has:gif and has:media read it from the row (and through
    # dmevent_owner_media_time), where a join to the media checked each row (issue 13).
    media_kinds = models.CharField(max_length=8, blank=True, editable=False)
    # The characters of search_text outside ASCII, each once, in order, between spaces
    # (search.characters_of): emoji, symbols and Chinese, Japanese and Korean text, which no word
    # index serves, are found through an index of these (migration 0015; search._substring_newest).
    characters = models.TextField(blank=True, editable=False)
    sender = models.ForeignKey(XUser, models.SET_NULL, null=True, blank=True, related_name="+")
    sender_x_id = models.CharField(max_length=ID_DIGITS, blank=True)
    participant_ids = models.JSONField(default=list, blank=True)
    entities = models.JSONField(default=dict, blank=True)
    media = models.ManyToManyField(Media, related_name="events", blank=True)
    shared_posts = models.ManyToManyField(SharedPost, related_name="events", blank=True)
    # Everything X sent for this event, exactly as received.
    raw = models.JSONField(default=dict)
    # The message as the reader shows it (its text with links, link cards, media and shared
    # posts), rendered by the store when it writes the event or anything the message shows, and
    # served as it is: Zulip's rendered_content. `body_version` names the rendering code that
    # made it (rendering.body_version()); a body made by other code is rendered again on read.
    body_html = models.TextField(blank=True, editable=False)
    # Its line in the inbox, made with it: "Photo", "Post" and the text as one plain line.
    preview_html = models.TextField(blank=True, editable=False)
    body_version = models.CharField(max_length=16, blank=True, editable=False)
    cached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DM event"
        constraints = [
            models.UniqueConstraint(fields=["owner", "x_id"], name="dmevent_owner_xid_unique"),
        ]
        indexes = [
            # Reading a conversation by keyset, newest or oldest first: events_before(anchor),
            # and search's walk through one (in:). The owner is in it so that every read's
            # owner_id = ... is answered from the index: without it the walk's edge (OFFSET
            # 16,639 in a 100,000-event conversation) read each row from the table, 115 ms.
            models.Index(
                fields=["conversation", "created_at", "sort_id", "owner"],
                name="dmevent_conversation_time",
            ),
            # Incremental sync: the owner's newest cached event id.
            models.Index(fields=["owner", "sort_id"], name="dmevent_owner_sort"),
            # Search results newest first, and operator-only searches (from:, has:, after:),
            # read in order and stopped at a page (bench/search_bench.py: 560 ms to 0.2 ms).
            models.Index(fields=["owner", "-created_at", "-sort_id"], name="dmevent_owner_time"),
            # from:@user, newest first: search._scoped() filters sender_x_id and reads the
            # sender's events in date order, stopping at a page (bench/search_bench.py).
            models.Index(
                fields=["owner", "sender_x_id", "-created_at", "-sort_id"],
                name="dmevent_owner_sender_time",
            ),
            # has:photo, has:video, has:gif, has:media newest first: the owner's events with
            # media only (3% of a cache), in date order, with their kinds, so search walks
            # these instead of the whole timeline ("you has:photo" at a million events: 19,000
            # rows checked for a photo). Only a query that says media_kinds <> '' may use it
            # (search._has): neither planner infers that from media_kinds LIKE '%p%'.
            # PostgreSQL has one for each kind besides (migration 0014): it checks the kind on
            # the table's row, not on this index.
            models.Index(
                fields=["owner", "-created_at", "-sort_id", "media_kinds"],
                condition=~models.Q(media_kinds=""),
                name="dmevent_owner_media_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.x_id}"


# DmEvent.media_kinds: the letter of each media type; every other type (X may add some) is "o",
# so has:media still finds it.
MEDIA_KIND_LETTERS = {Media.PHOTO: "p", Media.VIDEO: "v", Media.ANIMATED_GIF: "g"}
OTHER_MEDIA_KIND = "o"


def media_kinds_of(types: Iterable[str]) -> str:
    """DmEvent.media_kinds for media of these types: each kind's letter once, in order."""
    return "".join(sorted({MEDIA_KIND_LETTERS.get(t, OTHER_MEDIA_KIND) for t in types}))


class SyncState(models.Model):
    """Where an account's sync stands: cursors, progress, the rate-limit window, the last error."""

    IDLE, RUNNING, WAITING, FAILED, NEEDS_REAUTH = "idle", "running", "waiting", "failed", "reauth"
    INTERRUPTED = "interrupted"  # shown only (shown_status), never stored
    STATUSES = [
        (IDLE, "Up to date"),
        (RUNNING, "Syncing"),
        (WAITING, "Waiting for X's rate limit"),
        (FAILED, "Failed"),
        (NEEDS_REAUTH, "Needs sign-in"),
    ]

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="sync_state"
    )
    status = models.CharField(max_length=10, choices=STATUSES, default=IDLE)
    # The /2/dm_events pass under way: where to continue, where it ends (the watermark when it
    # began; "" walks to the end of X's window) and the newest event of its first page (the
    # watermark once it ends). Saved with every page's rows.
    pass_token = models.CharField(max_length=200, blank=True)
    pass_stop_id = models.CharField(max_length=ID_DIGITS, blank=True)
    pass_top_id = models.CharField(max_length=ID_DIGITS, blank=True)
    pass_started_at = models.DateTimeField(null=True, blank=True)
    # The newest event (as a sort_id) below which inbox passes have cached everything X's window
    # holds, with no gap. Only an inbox pass that walked down to X's end or to the previous
    # watermark moves it; events a conversation fetch cached prove nothing about the rest.
    inbox_watermark = models.CharField(max_length=ID_DIGITS, blank=True)
    backfill_complete = models.BooleanField(default=False)
    # Only one sync of an account runs at a time, whatever the number of workers: the holder
    # renews a short lease while it works (sync.LEASE_SECONDS), so one killed lets go soon.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_holder = models.CharField(max_length=32, blank=True)
    pages = models.PositiveIntegerField(default=0)
    events_stored = models.PositiveIntegerField(default=0)
    requests_made = models.PositiveIntegerField(default=0)
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    rate_remaining = models.PositiveIntegerField(null=True, blank=True)
    rate_reset_at = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # A failed or rate-limited sync continues by itself at retry_at (a task is queued for then);
    # failures in a row lengthen the wait.
    retry_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    # When the scheduler next syncs the account with nobody visiting (schedule.py claims due rows
    # by moving this forward with a conditional UPDATE, so two schedulers never both enqueue it).
    next_sync_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # schedule.claim_due: WHERE next_sync_at <= now ORDER BY next_sync_at
            models.Index(fields=["next_sync_at"], name="syncstate_next_sync"),
        ]

    def __str__(self) -> str:
        return f"sync of user {self.owner_id}: {self.status}"

    @property
    def shown_status(self) -> str:
        """What the person is told: a sync whose worker stopped renewing its lease (killed,
        restarted) is "interrupted", not still running; it resumes by itself (tasks.py)."""
        lease_gone = self.lease_until is not None and self.lease_until < timezone.now()
        if self.status in (self.RUNNING, self.WAITING) and lease_gone:
            return self.INTERRUPTED
        return self.status


class SyncRun(models.Model):
    """One sync, for operators: what it did and how it ended."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)  # inbox, full, conversation
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requests_made = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    events_stored = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-started_at"], name="syncrun_owner_recent")]

    def __str__(self) -> str:
        return f"{self.kind} sync of user {self.owner_id} at {self.started_at:%Y-%m-%d %H:%M}"


class UnstoredEvent(models.Model):
    """An event X sent that the database refused even on its own (conversations/store.py), set
    aside with its payload and the reason so the rest of the history could be stored. Operators
    see it here; a later sync that stores the event deletes the row."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    x_id = models.CharField("X event id", max_length=ID_DIGITS)
    conversation_x_id = models.CharField(max_length=2 * ID_DIGITS + 1, blank=True)
    reason = models.TextField()
    # The event as X sent it, as ASCII JSON (NUL and all escaped): this row can always be written.
    payload = models.TextField()
    first_failed_at = models.DateTimeField(auto_now_add=True)
    last_failed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "x_id"], name="unstoredevent_owner_xid_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"unstored event {self.x_id}"


class HistoryGap(models.Model):
    """Messages X no longer holds that were never cached: an inbox pass walked down to the end of
    X's window without meeting the events cached before it (the server was off, the token was
    revoked, the account stayed away longer than X's 30 days). Between `after_at` (the newest
    cached event before it) and `before_at` (the oldest event fetched after it). Per conversation
    where the cache shows one on both sides; `conversation` empty for the inbox as a whole."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, models.CASCADE, null=True, blank=True, related_name="gaps"
    )
    after_at = models.DateTimeField()
    before_at = models.DateTimeField()
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # queries.gaps: WHERE owner = … AND conversation = … ORDER BY after_at
            models.Index(fields=["owner", "conversation", "after_at"], name="historygap_place"),
        ]

    def __str__(self) -> str:
        return f"gap of user {self.owner_id}: {self.after_at:%Y-%m-%d} to {self.before_at:%Y-%m-%d}"


class ImportJob(models.Model):
    """An X archive a person uploaded on the Import page, imported by the task worker
    (conversations/import_jobs.py): where it stands, for the progress bar, and where it resumes.

    The upload lies on disk under IMPORT_DIR/<owner>/ until the job ends (done or failed), then it
    is deleted. A job runs in two passes: it reads the whole archive once without storing anything
    (so a damaged archive is refused with the cache as it was, and the totals are known), then
    stores its events in batches, each committed with `messages_done`; a worker that dies leaves
    the lease to run out and a check-back resumes from there (tasks.resume_import)."""

    QUEUED, CHECKING, IMPORTING, DONE, FAILED = "queued", "checking", "importing", "done", "failed"
    STATUSES = [
        (QUEUED, "Waiting for the worker"),
        (CHECKING, "Checking the archive"),
        (IMPORTING, "Importing"),
        (DONE, "Imported"),
        (FAILED, "Failed"),
    ]
    UNFINISHED = (QUEUED, CHECKING, IMPORTING)
    # What was uploaded, told by its content (conversations/backup.py's `is_backup`): X's archive,
    # or a backup DM Reader made (a JSON export, or the backup ZIP of it with its media files).
    ARCHIVE, BACKUP = "archive", "backup"
    KINDS = [(ARCHIVE, "X archive"), (BACKUP, "DM Reader backup")]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=KINDS, default=ARCHIVE)
    # The upload under IMPORT_DIR: the ZIP, or the folder of data files; "" once deleted.
    path = models.CharField(max_length=500, blank=True)
    file_name = models.CharField(max_length=255)  # what the person uploaded, as shown
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED)
    # The first pass: bytes of the DM data files read (uncompressed).
    bytes_read = models.PositiveBigIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    # The second pass. "Messages" are the archive's DM events (joins and renames included);
    # messages_done is committed with each batch's rows: the resume point.
    conversations_done = models.PositiveIntegerField(default=0)
    conversations_total = models.PositiveIntegerField(default=0)
    messages_done = models.PositiveBigIntegerField(default=0)
    messages_total = models.PositiveBigIntegerField(default=0)
    messages_new = models.PositiveBigIntegerField(default=0)  # not in the cache before
    # The archive holds everything up to here (its generation date, or its newest event): the
    # history gaps that end before it are closed once the import is done.
    covered_until = models.DateTimeField(null=True, blank=True)
    gaps_closed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where this run of the current pass began, for the time left (a resumed run starts anew).
    run_started_at = models.DateTimeField(null=True, blank=True)
    run_started_done = models.PositiveBigIntegerField(default=0)
    # One worker at a time: the runner renews this while it works; a dead one's runs out.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The Import page: an owner's jobs, newest first.
            models.Index(fields=["owner", "-created_at"], name="importjob_owner_recent"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} of user {self.owner_id}: {self.status}"

    @property
    def finished(self) -> bool:
        return self.status not in self.UNFINISHED

    @property
    def percent(self) -> int:
        if self.status == self.DONE:
            return 100
        if self.status == self.CHECKING:
            return min(99, self.bytes_read * 100 // self.bytes_total) if self.bytes_total else 0
        if self.status == self.IMPORTING and self.messages_total:
            return min(99, self.messages_done * 100 // self.messages_total)
        return 0

    @property
    def seconds_left(self) -> int | None:
        """From this run's pace so far; None until there is one to go by."""
        if self.status not in (self.CHECKING, self.IMPORTING) or self.run_started_at is None:
            return None
        if self.status == self.CHECKING:
            done, total, since = self.bytes_read, self.bytes_total, 0
        else:
            done, total, since = self.messages_done, self.messages_total, self.run_started_done
        elapsed = (timezone.now() - self.run_started_at).total_seconds()
        if done <= since or elapsed < 1:
            return None
        return int((total - done) * elapsed / (done - since))


class ReadMark(models.Model):
    """How far the owner has read one conversation: the newest event DM Reader has shown them
    there. X's API has no read state, so this is DM Reader's own, per owner; inbox rows with
    anything newer from someone else are bold, and the thread puts a "New" line before it.
    Written by conversations/read_state.py only; it never moves back."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, models.CASCADE, related_name="read_marks")
    # The newest event seen, as the thread orders events: (created_at, sort_id).
    last_seen_at = models.DateTimeField()
    last_seen_sort_id = models.CharField(max_length=ID_DIGITS)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Also the index of queries.inbox's subquery: WHERE owner = … AND conversation = ….
            models.UniqueConstraint(
                fields=["owner", "conversation"], name="readmark_owner_conversation_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"read mark of user {self.owner_id} in {self.conversation_id}"
