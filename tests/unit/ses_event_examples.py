"""SES event records as AWS documents them ("Examples of event data that Amazon SES publishes to
Amazon SNS", SES Developer Guide), one per event type, with the message tags the sender puts
on every entry (`campaign`, `bulkmail-id`). `eventbridge(event)` wraps one as EventBridge
delivers it to the events queue, `sns(event)` as SNS does.
"""

from __future__ import annotations

import copy
import json
from typing import Any

CONFIGURATION_SET = "ConfigSet"


def _mail(timestamp: str, destination: list[str], **more: Any) -> dict[str, Any]:
    mail = {
        "timestamp": timestamp,
        "source": "Sender Name <sender@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": destination,
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Sender Name <sender@example.com>"},
            {"name": "To", "value": ", ".join(destination)},
            {"name": "Subject", "value": "Message sent from Amazon SES"},
            {"name": "MIME-Version", "value": "1.0"},
        ],
        "commonHeaders": {
            "from": ["Sender Name <sender@example.com>"],
            "to": destination,
            "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "subject": "Message sent from Amazon SES",
        },
        "tags": {
            "ses:configuration-set": [CONFIGURATION_SET],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["example.com"],
            "ses:caller-identity": ["ses_user"],
        },
    }
    mail.update(more)
    return mail


BOUNCE = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": _mail("2017-08-05T00:40:02.012Z", ["recipient@example.com"]),
}
# The same bounce for an email to three recipients, two of which bounced.
BOUNCE_SEVERAL = copy.deepcopy(BOUNCE)
BOUNCE_SEVERAL["mail"] = _mail(
    "2017-08-05T00:40:02.012Z",
    ["recipient@example.com", "second@example.com", "third@example.com"],
)
BOUNCE_SEVERAL["bounce"]["bouncedRecipients"].append(
    {
        "emailAddress": "second@example.com",
        "action": "failed",
        "status": "5.1.1",
        "diagnosticCode": "smtp; 550 5.1.1 <second@example.com>... User unknown",
    }
)
TRANSIENT_BOUNCE = copy.deepcopy(BOUNCE)
TRANSIENT_BOUNCE["bounce"].update(bounceType="Transient", bounceSubType="MailboxFull")

COMPLAINT = {
    "eventType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2017-08-05T00:41:02.669Z",
    },
    "mail": _mail("2017-08-05T00:40:01.123Z", ["recipient@example.com"]),
}
# Feedback reports need not carry a Feedback-Type: SES then omits complaintFeedbackType.
COMPLAINT_WITHOUT_FEEDBACK_TYPE = copy.deepcopy(COMPLAINT)
del COMPLAINT_WITHOUT_FEEDBACK_TYPE["complaint"]["complaintFeedbackType"]
del COMPLAINT_WITHOUT_FEEDBACK_TYPE["complaint"]["userAgent"]

DELIVERY = {
    "eventType": "Delivery",
    "mail": _mail("2016-10-19T23:20:52.240Z", ["recipient@example.com"]),
    "delivery": {
        "timestamp": "2016-10-19T23:21:04.133Z",
        "processingTimeMillis": 11893,
        "recipients": ["recipient@example.com"],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com",
    },
}

SEND = {
    "eventType": "Send",
    "mail": _mail("2016-10-14T05:02:16.645Z", ["recipient@example.com"]),
    "send": {},
}

REJECT = {
    "eventType": "Reject",
    "mail": _mail("2016-10-14T17:38:15.211Z", ["recipient@example.com"]),
    "reject": {"reason": "Bad content"},
}

OPEN = {
    "eventType": "Open",
    "mail": _mail("2017-08-09T21:59:49.927Z", ["recipient@example.com"]),
    "open": {
        "ipAddress": "192.0.2.1",
        "timestamp": "2017-08-09T22:00:19.652Z",
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X)",
    },
}

CLICK = {
    "eventType": "Click",
    "click": {
        "ipAddress": "192.0.2.1",
        "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        "linkTags": {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]},
        "timestamp": "2017-08-09T23:51:25.570Z",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
    },
    "mail": _mail("2017-08-09T23:50:05.795Z", ["recipient@example.com"]),
}

RENDERING_FAILURE = {
    "eventType": "Rendering Failure",
    "mail": _mail("2018-01-22T18:43:06.197Z", ["recipient@example.com"]),
    "failure": {
        "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
        "templateName": "MyTemplate",
    },
}

DELIVERY_DELAY = {
    "eventType": "DeliveryDelay",
    "mail": _mail("2020-06-16T00:15:40.641Z", ["recipient@example.com"]),
    "deliveryDelay": {
        "timestamp": "2020-06-16T00:25:40.095Z",
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2020-06-16T00:25:40.914Z",
        "delayedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
            }
        ],
    },
}

SUBSCRIPTION = {
    "eventType": "Subscription",
    "mail": _mail("2022-01-12T01:00:14.340Z", ["recipient@example.com"]),
    "subscription": {
        "contactList": "ContactListName",
        "timestamp": "2022-01-12T01:00:17.910Z",
        "source": "UnsubscribeHeader",
        "newTopicPreferences": {
            "unsubscribeAll": True,
            "topicSubscriptionStatus": [
                {"topicName": "ExampleTopicName", "subscriptionStatus": "OptOut"}
            ],
        },
        "oldTopicPreferences": {
            "unsubscribeAll": False,
            "topicSubscriptionStatus": [
                {"topicName": "ExampleTopicName", "subscriptionStatus": "OptOut"}
            ],
        },
    },
}

# EventBridge's detail-type per SES event type.
DETAIL_TYPES = {
    "Send": "Email Sent",
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Reject": "Email Rejected",
    "Rendering Failure": "Email Rendering Failed",
    "DeliveryDelay": "Email Delivery Delayed",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Subscription": "Email Subscribed",
}


def tagged(event: dict[str, Any], key: str | None, campaign: str | None = "spring") -> dict:
    """The event with the sender's tags on its mail (None leaves a tag off)."""
    event = copy.deepcopy(event)
    if key is not None:
        event["mail"]["tags"]["bulkmail-id"] = [key]
    if campaign is not None:
        event["mail"]["tags"]["campaign"] = [campaign]
    return event


def eventbridge(event: dict[str, Any], event_id: str = "e-1") -> str:
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": DETAIL_TYPES[event["eventType"]],
            "source": "aws.ses",
            "account": "123456789012",
            "time": event["mail"]["timestamp"],
            "region": "us-east-1",
            "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/ConfigSet"],
            "detail": event,
        }
    )


def sns(event: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "sns-1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:Events",
            "Message": json.dumps(event),
        }
    )
