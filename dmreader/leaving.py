"""People leave: a signed-in person deletes everything DM Reader holds about them and revokes its
access at X (the account page), and the admin does the same for anyone (UserAdmin's delete).

A cache can hold a million rows, more than one request or one transaction should delete: the
rows go in a background task, in batches, each batch its own short transaction, so readers of
other accounts never wait behind one big delete. What runs at once is small: the tokens are
revoked at X and forgotten, and the person is signed out and can no longer sign in as that user.

This app knows nothing of the cache: apps holding a person's data connect to `erasing` and
delete their rows and files there (conversations/erase.py), before the user row itself goes.
"""

import logging

from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.tasks import task
from django.views.decorators.http import require_GET, require_http_methods

from dmreader import accounts
from dmreader.admin_tables import capped_count
from dmreader.models import XAccount

logger = logging.getLogger(__name__)

# Sent by erase_user with `user_id`, outside any transaction: each receiver deletes what its app
# holds for that user, in batches of its own transactions, files included. Whatever a receiver
# leaves (or a sync wrote meanwhile) goes with the user row afterwards, through the FK cascade.
erasing = Signal()


def revoke_and_forget(user: AbstractBaseUser) -> None:
    """Revoke the tokens at X (best effort, as at sign-out) and delete the X account row with
    them, so nothing can use them again and the X account may sign in afresh as a new user."""
    account = accounts.account_of(user)
    if account is not None:
        accounts.sign_out(account)
        XAccount.objects.filter(pk=account.pk).delete()


def request_erasure(user: AbstractBaseUser) -> None:
    """What happens at once when a person leaves, or the admin deletes them: the user can no
    longer sign in (inactive) and the erasure is queued. The tokens are revoked by the task, so
    an admin deleting a hundred users does not wait on X two hundred times in one request."""
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    user_id = user.pk
    transaction.on_commit(lambda: erase_user_task.enqueue(user_id))


def erase_user(user_id: int) -> None:
    """Everything about one user, in order: tokens revoked at X, each app's rows and files in
    batches (the `erasing` receivers), then the user row, cascading whatever is left."""
    User = get_user_model()
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    revoke_and_forget(user)
    erasing.send(sender=User, user_id=user_id)
    User.objects.filter(pk=user_id).delete()
    logger.info("Erased user %s", user_id)


@task()
def erase_user_task(user_id: int) -> None:
    erase_user(user_id)


# The account page -------------------------------------------------------------------------------


@require_GET
@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "account.html", _context(request.user))


@require_http_methods(["GET", "POST"])
@login_required
def delete_account(request: HttpRequest) -> HttpResponse:
    """GET asks to confirm; POST with the confirming button deletes. Nothing is deleted by a GET
    or by a POST that did not come from the confirmation page's button."""
    if request.method == "GET":
        return render(request, "account.html", {**_context(request.user), "confirming": True})
    if request.POST.get("confirm") != "delete":
        context = {**_context(request.user), "confirming": True, "unconfirmed": True}
        return render(request, "account.html", context, status=400)
    user = request.user
    name = f"@{user.x_account.username}" if accounts.account_of(user) else user.get_username()
    # At once: X's access revoked and the tokens gone, the session ended. Then, in the
    # background, the cache.
    revoke_and_forget(user)
    with transaction.atomic():
        request_erasure(user)
    logout(request)
    messages.success(
        request,
        f"DM Reader's access to {name} at X is revoked, and everything it held about you is "
        "being deleted. Signing in again would start from nothing.",
    )
    return redirect("home")


def _context(user: AbstractBaseUser) -> dict:
    """What is held, kind by kind (each count stops at 10,000, as in the admin)."""
    held = [
        (model._meta.verbose_name_plural, capped_count(model.objects.filter(owner=user)))
        for model in accounts.owned_models()
    ]
    return {"account": accounts.account_of(user), "held": [(name, n) for name, n in held if n]}
