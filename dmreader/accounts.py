"""Creating, updating and loading the DM Reader user behind an X account."""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models import Model
from django.dispatch import Signal

from dmreader import xauth
from dmreader.models import XAccount

REQUIRED_SCOPES = {"dm.read", "tweet.read", "users.read"}

# Sent by sign_in with `user` and `account` once the account holds its new tokens, inside sign_in's
# transaction. The conversations app connects to it to queue a sync: the sign-in side knows nothing
# of syncing, and what a receiver defers to transaction.on_commit waits for the account's rows.
signed_in = Signal()


def account_of(user: AbstractBaseUser | None) -> XAccount | None:
    """This user's X account, or None (a staff user made with createsuperuser has none)."""
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.x_account
    except XAccount.DoesNotExist:
        return None


class AccountBackend(ModelBackend):
    """Django's ModelBackend, whose signed-in user comes with their X account in the same query:
    every reader page names its owner by it (account_of), and a query less is a page's
    milliseconds on PostgreSQL (bench/reader_bench.py)."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("x_account")
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


def missing_scopes(tokens: xauth.Tokens) -> set[str]:
    return REQUIRED_SCOPES - set(tokens.scopes.split())


@transaction.atomic
def sign_in(*, me: dict, tokens: xauth.Tokens) -> AbstractBaseUser:
    """One Django user per X account, found by X's user id (usernames can change)."""
    account = XAccount.objects.select_for_update().filter(x_user_id=me["id"]).first()
    if account is None:
        user = get_user_model().objects.create_user(username=f"x{me['id']}")
        user.set_unusable_password()
        account = XAccount(user=user, x_user_id=me["id"])
    account.username = me["username"]
    account.name = me.get("name") or me["username"]
    account.profile_image_url = me.get("profile_image_url", "")
    user = account.user
    user.first_name = account.name[:150]
    user.save()
    xauth.store(account, tokens)
    signed_in.send(sender=XAccount, user=user, account=account)
    return user


def sign_out(account: XAccount) -> None:
    """Revoke at X (best effort), then forget the tokens. Cached messages stay, for next time."""
    for token, hint in (
        (account.refresh_token, "refresh_token"),
        (account.access_token, "access_token"),
    ):
        if token:
            xauth.revoke(token, hint=hint)
    account.access_token = account.refresh_token = ""
    account.token_expires_at = None
    account.save(update_fields=["access_token", "refresh_token", "token_expires_at", "updated_at"])


def owned_models(app_label: str = "") -> list[type[Model]]:
    """Every kind of row kept for one user (in one app, with `app_label`): the models with an
    `owner` foreign key to the user (each cached row has one, and goes with its user), found
    through the app registry, so a new model is counted and erased without being listed."""
    models = apps.get_app_config(app_label).get_models() if app_label else apps.get_models()
    owned = []
    for model in models:
        try:
            owner = model._meta.get_field("owner")
        except FieldDoesNotExist:
            continue
        if owner.is_relation and owner.related_model is get_user_model():
            owned.append(model)
    return owned
