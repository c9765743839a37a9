"""Policy: access control (Cedar), data-usage rules, rate limits, approvals, guards."""
