"""Import every domain's tables so metadata is complete for migrations and queries."""

from backend.audit.models import AuditEntry  # noqa: F401
from backend.auth.models import (  # noqa: F401
    AdminLoginFailure,
    AdminSession,
    ApiToken,
    CadreInvitation,
    SigninTicket,
    User,
)
from backend.idempotency import IdempotencyRecord  # noqa: F401
from backend.inbox.models import Notification  # noqa: F401
from backend.jobs.models import OutboxJob  # noqa: F401
from backend.jobs.schedule import ScheduleRun  # noqa: F401
from backend.org.imports.models import ImportRun  # noqa: F401
from backend.org.models import Cadre, County, Grid, Household, Pairing, Posting, Resident, Town, Village  # noqa: F401
from backend.photos.models import Photo, PhotoSettings  # noqa: F401
from backend.points.models import (  # noqa: F401
    Claim,
    ClaimReview,
    LedgerEntry,
    MonthlyNotice,
    NoticeLine,
    Objection,
    PointsAccount,
    RuleBook,
    RuleItem,
)
from backend.ratings.models import CompileRun, RatingResult  # noqa: F401
from backend.records.models import (  # noqa: F401
    CadreWorkSettings,
    Checkin,
    DailyRecord,
    DailyRecordAmendment,
    LeaveRequest,
    Problem,
    Visit,
)
from backend.shop.models import Product, Redemption, RedemptionWindow, ShopSetting, StockEntry  # noqa: F401
from backend.surveys.models import (  # noqa: F401
    Survey,
    SurveyAlert,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyReceipt,
    SurveyResponse,
    SurveyResult,
    SurveySetting,
    SurveyTemplate,
)
