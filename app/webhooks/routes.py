"""/webhooks: subscriptions and their deliveries.

Every operation needs an `admin` key: a subscription makes this server send data to a URL
of the caller's choosing, from inside the operator's network, so it is as powerful as the
server's own network position (SSRF, OWASP API7), and the deliveries list holds the data
sent. The URL checks in app/webhooks/ssrf.py are the second line of defence, not the first.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.core.auth import Scope, require
from app.core.config import Settings
from app.core.deps import ReadSession, WriteSession
from app.core.pagination import MAX_REPEATS, Paging
from app.http.conditional import IfNoneMatch, respond, tagged
from app.http.operation_kinds import (
    create_one,
    delete_one,
    operation,
    read_one,
    read_page,
    update_one,
)
from app.http.unchanged import unchanged
from app.webhooks import service
from app.webhooks.models import (
    DeliveryStatus,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPage,
    WebhookDeliveryPublic,
    WebhookPage,
    WebhookPublic,
    WebhookSecret,
    WebhookUpdate,
)

router = APIRouter(
    prefix="/webhooks", tags=["webhooks"], dependencies=[Depends(require(Scope.admin))]
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]


@router.post("", **create_one("create_webhook", WebhookCreated))
def create_webhook(
    data: WebhookCreate, response: Response, session: WriteSession, settings: AppSettings
) -> WebhookCreated:
    """Subscribe a URL to events. The answer carries the signing `secret`, shown only once:
    every delivery is signed with it (Standard Webhooks `webhook-signature`)."""
    webhook = service.create_webhook(session=session, data=data, settings=settings)
    response.headers["Location"] = f"/webhooks/{webhook.id}"
    return WebhookCreated(**service.webhook_public(webhook).model_dump(), secret=webhook.secret)


@router.get("", **read_page("list_webhooks", WebhookPage))
def list_webhooks(session: ReadSession, paging: Paging) -> WebhookPage:
    """Subscriptions, oldest first. Secrets are never listed."""
    rows, next_cursor = service.list_webhooks(session=session, window=paging)
    return paging.page(WebhookPage, [service.webhook_public(row) for row in rows], next_cursor)


@router.get("/{webhook_id}", **read_one("get_webhook", WebhookPublic))
def get_webhook(
    webhook_id: str, response: Response, session: ReadSession, if_none_match: IfNoneMatch = None
) -> WebhookPublic | Response:
    """One subscription (without its secret)."""
    webhook = service.get_webhook(session=session, webhook_id=webhook_id)
    return respond(response, service.webhook_public(webhook), if_none_match)


WebhookUnchanged = Annotated[
    None, unchanged(service.get_webhook, service.webhook_public, "webhook_id")
]


@router.patch("/{webhook_id}", **update_one("update_webhook", WebhookPublic))
def update_webhook(
    webhook_id: str,
    data: WebhookUpdate,
    response: Response,
    session: WriteSession,
    settings: AppSettings,
    _unchanged: WebhookUnchanged,
) -> WebhookPublic:
    """Change the URL, events, filter or description; `enabled: false` pauses deliveries
    and `enabled: true` resumes them (also after a 410 Gone disabled the subscription).
    With `If-Match`, only if the subscription is still as you read it."""
    webhook = service.update_webhook(
        session=session, webhook_id=webhook_id, data=data, settings=settings
    )
    return tagged(response, service.webhook_public(webhook))


@router.delete("/{webhook_id}", **delete_one("delete_webhook"))
def delete_webhook(webhook_id: str, session: WriteSession, _unchanged: WebhookUnchanged) -> None:
    """Unsubscribe; pending deliveries are dropped with the subscription. With `If-Match`,
    only if the subscription is still as you read it."""
    service.delete_webhook(session=session, webhook_id=webhook_id)


@router.post(
    "/{webhook_id}/rotate-secret", **operation("rotate_webhook_secret", WebhookSecret, 404)
)
def rotate_webhook_secret(webhook_id: str, session: WriteSession) -> WebhookSecret:
    """A new signing secret, shown once. For 24 hours deliveries carry two signatures, one
    with each secret, so the receiver can switch without missing a delivery."""
    webhook = service.rotate_secret(session=session, webhook_id=webhook_id)
    return WebhookSecret(
        secret=webhook.secret,
        previous_secret_expires_at=webhook.previous_secret_expires_at,  # type: ignore[arg-type]
    )


@router.get(
    "/{webhook_id}/deliveries", **read_page("list_webhook_deliveries", WebhookDeliveryPage, 404)
)
def list_webhook_deliveries(
    webhook_id: str,
    session: ReadSession,
    paging: Paging,
    status_: Annotated[
        list[DeliveryStatus],
        Query(alias="status", max_length=MAX_REPEATS, description="Repeat for OR."),
    ] = [],
) -> WebhookDeliveryPage:
    """The subscription's deliveries, newest first, each with its payload and attempts
    (status code, error, duration): what was sent, when, and how the receiver answered."""
    items, next_cursor = service.list_deliveries(
        session=session,
        webhook_id=webhook_id,
        status=status_,
        window=paging,
    )
    return paging.page(WebhookDeliveryPage, items, next_cursor)


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}",
    **operation("get_webhook_delivery", WebhookDeliveryPublic, 404),
)
def get_webhook_delivery(
    webhook_id: str, delivery_id: str, session: ReadSession
) -> WebhookDeliveryPublic:
    """One delivery with its payload and attempts."""
    return service.get_delivery(session=session, webhook_id=webhook_id, delivery_id=delivery_id)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    **operation("redeliver_webhook_delivery", WebhookDeliveryPublic, 404, 409),
)
def redeliver_webhook_delivery(
    webhook_id: str, delivery_id: str, session: WriteSession
) -> WebhookDeliveryPublic:
    """Send a delivery again, now, whatever its state: same `webhook-id` and payload, a
    fresh retry schedule. 409 while it is being sent, or when the subscription is disabled."""
    return service.redeliver(session=session, webhook_id=webhook_id, delivery_id=delivery_id)
