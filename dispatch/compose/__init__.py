"""Message composition and compliance: what each guest receives, and proof it is compliant.

Pure code over the store's rows: templates and tokens, email and SMS bodies,
unsubscribe tokens, accessibility and spam checks, cost, and the compliance
report that gates approval.
"""

from dispatch.compose.sms_segments import SmsSegments, sms_segments

__all__ = ["SmsSegments", "sms_segments"]
