"""Webhooks: subscriptions, signed deliveries from the transactional outbox, the sender.

models   tables (webhook, event, webhook_delivery, webhook_attempt) and API models
service  the subscription and delivery operations behind the routes
signing  secrets and Standard Webhooks signatures
ssrf     which URLs the server may call
sender   fan-out of events into deliveries, claiming, sending, retrying
"""
