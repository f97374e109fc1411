"""The domain model. Importing this package registers every table on SQLModel.metadata."""

from crm.models.audit import AuditAction, AuditEvent
from crm.models.base import (
    CLOSED_STAGES,
    FUNNEL_STAGES,
    Channel,
    ConsentScope,
    EnquiryChannel,
    ReasonKind,
    Role,
    Stage,
)
from crm.models.carer_status import CarerBreak, CarerLeaving
from crm.models.carers import Carer, CarerStatus, FosteringType, Placement, Specialism
from crm.models.households import Applicant, Consent, Household
from crm.models.imports import SavedImportMapping
from crm.models.knowledge import KnowledgeEdit
from crm.models.messages import (
    ChatChannel,
    ChatConversation,
    ChatMessage,
    CheckIn,
    NotifyReceivedText,
    OutboxMessage,
    OutboxStatus,
    SmsOptOut,
    TelegramChatLink,
)
from crm.models.organisation import (
    Area,
    AreaPostcodeDistrict,
    Campaign,
    Hub,
    Reason,
    Source,
    StaffArea,
    StaffUser,
)
from crm.models.pipeline import StageEvent
from crm.models.scheduling import SchedulerJob, SchedulerJobRun, SchedulerLease
from crm.models.second_factor import StaffRecoveryCode, StaffTotp
from crm.models.sessions import SessionEndReason, SignInCounter, SignInMethod, StaffSession
from crm.models.timeline import Activity, ActivityKind, CallOutcome, Task, TaskKind, TaskPriority
from crm.models.visits import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AvailabilityException,
    AvailabilityPattern,
)
from crm.models.web_indexes import WEB_INDEXES  # noqa: F401  (migration 0003_web)

__all__ = [
    "CLOSED_STAGES",
    "FUNNEL_STAGES",
    "Activity",
    "ActivityKind",
    "Applicant",
    "Appointment",
    "AppointmentKind",
    "AppointmentStatus",
    "Area",
    "AreaPostcodeDistrict",
    "AuditAction",
    "AuditEvent",
    "AvailabilityException",
    "AvailabilityPattern",
    "CallOutcome",
    "Campaign",
    "Carer",
    "CarerBreak",
    "CarerLeaving",
    "CarerStatus",
    "Channel",
    "ChatChannel",
    "ChatConversation",
    "ChatMessage",
    "CheckIn",
    "Consent",
    "ConsentScope",
    "EnquiryChannel",
    "FosteringType",
    "Household",
    "Hub",
    "KnowledgeEdit",
    "NotifyReceivedText",
    "OutboxMessage",
    "OutboxStatus",
    "Placement",
    "Reason",
    "SavedImportMapping",
    "ReasonKind",
    "Role",
    "SchedulerJob",
    "SchedulerJobRun",
    "SchedulerLease",
    "SessionEndReason",
    "SignInCounter",
    "SignInMethod",
    "SmsOptOut",
    "Source",
    "Specialism",
    "StaffArea",
    "StaffRecoveryCode",
    "StaffSession",
    "StaffTotp",
    "StaffUser",
    "Stage",
    "StageEvent",
    "Task",
    "TaskKind",
    "TaskPriority",
    "TelegramChatLink",
]
