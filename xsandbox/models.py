"""The sandbox's world: X accounts, their DM conversations and events, media, posts, OAuth grants.

Ids are X snowflakes kept as integers here (the sandbox mints them); the API renders them as strings.
"""

from django.db import models


class Client(models.Model):
    """An app registered with X. An empty secret makes it a public client (PKCE, no Basic auth)."""

    client_id = models.CharField(primary_key=True, max_length=100)
    client_secret = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=100)
    redirect_uris = models.JSONField(default=list)

    @property
    def is_confidential(self) -> bool:
        return bool(self.client_secret)


class User(models.Model):
    id = models.BigIntegerField(primary_key=True)
    username = models.CharField(max_length=15, unique=True)
    name = models.CharField(max_length=50)
    description = models.TextField(blank=True)
    location = models.CharField(max_length=100, blank=True)
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    protected = models.BooleanField(default=False)
    verified = models.BooleanField(default=False)
    verified_type = models.CharField(max_length=20, default="none")
    public_metrics = models.JSONField(default=dict)
    # Offered as a sign-in choice on the consent page.
    can_sign_in = models.BooleanField(default=False)
    # A deactivated or suspended account: never in includes, reported in `errors` instead.
    gone = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"@{self.username}"


class Conversation(models.Model):
    # "{smaller}-{larger}" by number for one-to-one, a plain snowflake for groups (seed 003).
    id = models.CharField(primary_key=True, max_length=40)
    is_group = models.BooleanField(default=False)
    # Everyone who can read the conversation's events.
    participants = models.ManyToManyField(User, related_name="conversations")


class Event(models.Model):
    MESSAGE_CREATE = "MessageCreate"
    PARTICIPANTS_JOIN = "ParticipantsJoin"
    PARTICIPANTS_LEAVE = "ParticipantsLeave"
    TYPES = [(t, t) for t in (MESSAGE_CREATE, PARTICIPANTS_JOIN, PARTICIPANTS_LEAVE)]

    id = models.BigIntegerField(primary_key=True)
    conversation = models.ForeignKey(Conversation, models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=20, choices=TYPES)
    created_at = models.DateTimeField()
    text = models.TextField(blank=True)
    # MessageCreate: the author; ParticipantsJoin: who added them; ParticipantsLeave: none.
    sender = models.ForeignKey(User, models.CASCADE, null=True, related_name="+")
    participant_ids = models.JSONField(default=list)  # strings, Join/Leave only
    media_keys = models.JSONField(default=list)
    referenced_tweet_ids = models.JSONField(default=list)  # strings
    # {"urls": [...], "mentions": [...], "hashtags": [...], "cashtags": [...]}, X's entity shapes.
    entities = models.JSONField(default=dict)

    class Meta:
        indexes = [
            # Paging a conversation newest first by id: /2/dm_conversations/{id}/dm_events.
            models.Index(fields=["conversation", "-id"], name="sbx_event_conv_id"),
        ]


class Media(models.Model):
    PHOTO, VIDEO, ANIMATED_GIF = "photo", "video", "animated_gif"

    media_key = models.CharField(primary_key=True, max_length=40)
    type = models.CharField(max_length=20)
    # The DM that carries it and the resource name, for the DM media download endpoint.
    event = models.ForeignKey(Event, models.CASCADE, null=True, related_name="media")
    resource_id = models.CharField(max_length=50)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    duration_ms = models.PositiveIntegerField(null=True)
    alt_text = models.TextField(blank=True)
    public_metrics = models.JSONField(default=dict)
    # [{"bit_rate": int | None, "content_type": str, "path": "/dm_video/..."}]; rendered with the host.
    variants = models.JSONField(default=list)


class Tweet(models.Model):
    """A post shared into a DM (includes.tweets)."""

    id = models.BigIntegerField(primary_key=True)
    author = models.ForeignKey(User, models.CASCADE, related_name="tweets")
    text = models.TextField()
    created_at = models.DateTimeField()
    lang = models.CharField(max_length=10, default="en")
    conversation_id = models.BigIntegerField()
    in_reply_to_user_id = models.BigIntegerField(null=True)
    referenced_tweets = models.JSONField(
        default=list
    )  # [{"type": "quoted"|"replied_to", "id": str}]
    entities = models.JSONField(default=dict)
    public_metrics = models.JSONField(default=dict)
    possibly_sensitive = models.BooleanField(default=False)
    # Deleted on X: reported in `errors`, absent from includes.
    deleted = models.BooleanField(default=False)


class Grant(models.Model):
    """An authorization code, access token or refresh token. Only a hash of the value is stored."""

    CODE, ACCESS, REFRESH = "code", "access", "refresh"

    token_hash = models.CharField(primary_key=True, max_length=64)
    kind = models.CharField(max_length=10)
    client = models.ForeignKey(Client, models.CASCADE)
    user = models.ForeignKey(User, models.CASCADE, related_name="grants")
    scopes = models.CharField(max_length=300)  # space-separated
    # Tokens minted from one authorization share a family; reusing a spent refresh token kills it.
    family = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True)
    used_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)
    # Authorization codes only.
    redirect_uri = models.CharField(max_length=500, blank=True)
    code_challenge = models.CharField(max_length=200, blank=True)
    code_challenge_method = models.CharField(max_length=10, blank=True)

    class Meta:
        indexes = [models.Index(fields=["family"], name="sbx_grant_family")]


class RateWindow(models.Model):
    """How much of a user's 15-minute budget is spent, per bucket."""

    user = models.ForeignKey(User, models.CASCADE)
    bucket = models.CharField(max_length=20)
    window_start = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "bucket"], name="sbx_rate_user_bucket")
        ]


class Fault(models.Model):
    """A misbehaviour switched on for one account's API calls, for tests."""

    KINDS = ["429", "500", "503", "slow", "malformed", "drop"]

    user = models.ForeignKey(User, models.CASCADE, related_name="faults")
    kind = models.CharField(max_length=20)
    # How many requests it still affects; null means until cleared.
    remaining = models.PositiveIntegerField(null=True)
    seconds = models.FloatField(default=0)  # for "slow"
    created_at = models.DateTimeField(auto_now_add=True)


class SandboxState(models.Model):
    """A single row: the sandbox clock's offset and when the seed data was anchored."""

    clock_offset_seconds = models.FloatField(default=0)
    seeded_at = models.DateTimeField(null=True)
