"""The dispute floor of Arbiter Desk: negotiation with the merchant's 24 hours, platform
intervention and the evidence period, evidence, rulings and appeals, merchant penalties
(`penalties/`: violations, standing, deposit, penalty appeals, complaint spike) and merchant
health (`health/`).

It imports `desk` (the platform floor) and never `web`; `desk` never imports it (import-linter
contracts check both). It plugs into the platform through the hooks `desk` offers, all in
`init_app`: lifecycle actions and guards, deadlines, timeline and standing listeners, what
starts with a negotiation or an arbitration, who may not take an appeal, evidence at filing.
"""
from arbitration import evidence, filing_evidence, intervention, negotiation, rulings
from arbitration.health import merchant_health
from arbitration.health import models as health_models
from arbitration.penalties import models as penalties_models
from arbitration.penalties import penalty_appeals, spike, standing
from desk.cases import complaints

#: Every table of this floor, in dependency order (after `desk.MODELS`).
MODELS = penalties_models.MODELS + health_models.MODELS


def init_app(app):
    """Register the dispute side with the platform: its actions, guards, timers, listeners,
    notification texts and hooks."""
    negotiation.init_app(app)
    intervention.init_app(app)
    rulings.init_app(app)
    evidence.init_app(app)
    complaints.use_filing_evidence(filing_evidence)
    penalty_appeals.init_app(app)
    standing.init_app(app)
    merchant_health.init_app(app)
    spike.init_app(app)
