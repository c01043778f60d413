"""Every table of the desk (and of `arbitration`), in dependency order: what the migrations must build and what the
schema test compares them with. A new model module adds its list here."""
from arbitration.evidence_models import EVIDENCE_MODELS
from arbitration.health_models import HEALTH_MODELS
from arbitration.models import ARBITRATION_MODELS
from arbitration.penalty_models import PENALTY_MODELS
from desk.complaint_models import COMPLAINT_MODELS
from desk.credit_models import CREDIT_MODELS
from desk.models import MODELS
from desk.queue_models import QUEUE_MODELS
from desk.rating_models import RATING_MODELS

ALL_MODELS = (MODELS + COMPLAINT_MODELS + QUEUE_MODELS + ARBITRATION_MODELS + EVIDENCE_MODELS + RATING_MODELS
              + PENALTY_MODELS + CREDIT_MODELS + HEALTH_MODELS)
