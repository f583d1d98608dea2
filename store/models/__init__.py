"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from store.models.audit import AuditEntry
from store.models.base import Base
from store.models.campaign import Campaign, Delivery, EarlyDeliveryReport
from store.models.engagement import EmailEngagement
from store.models.event import Event
from store.models.guest import ConsentRecord, Guest, GuestGroup
from store.models.inbound import InboundMessage
from store.models.ledger import Suppression
from store.models.monitoring import Alert, AlertRule, MetricBucket, WorkLease
from store.models.organisation import Member, Organisation
from store.models.slack import Conversation, SlackEventReceipt, SlackMessage
from store.models.slack_install import slack_bots, slack_installations, slack_oauth_states
from store.models.wedding import Wedding

__all__ = [
    "Alert",
    "AlertRule",
    "AuditEntry",
    "Base",
    "Campaign",
    "ConsentRecord",
    "Conversation",
    "Delivery",
    "EarlyDeliveryReport",
    "EmailEngagement",
    "Event",
    "Guest",
    "GuestGroup",
    "InboundMessage",
    "Member",
    "MetricBucket",
    "Organisation",
    "SlackEventReceipt",
    "SlackMessage",
    "Suppression",
    "Wedding",
    "WorkLease",
    "slack_bots",
    "slack_installations",
    "slack_oauth_states",
]
