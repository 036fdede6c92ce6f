"""Domain errors with stable machine codes; the API turns them into its error envelope.

No Flask here: services raise these, front ends render them.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    status = 400
    message = "请求无法完成"

    def __init__(self, message: str | None = None, *, errors: dict | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.errors = errors

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def _error(name: str, code: str, status: int, message: str) -> type[DomainError]:
    return type(name, (DomainError,), {"code": code, "status": status, "message": message})


InvalidRequest = _error("InvalidRequest", "invalid_request", 422, "请求参数有误")
Unauthenticated = _error("Unauthenticated", "unauthenticated", 401, "请先登录")
Forbidden = _error("Forbidden", "forbidden", 403, "没有权限执行此操作")
NotInScope = _error("NotInScope", "not_in_scope", 403, "无权访问该范围的数据")
NotFound = _error("NotFound", "not_found", 404, "记录不存在")
Conflict = _error("Conflict", "conflict", 409, "操作与当前状态冲突")
InsufficientPoints = _error("InsufficientPoints", "insufficient_points", 409, "积分不足")
OutOfStock = _error("OutOfStock", "out_of_stock", 409, "库存不足")
RedemptionClosed = _error("RedemptionClosed", "redemption_closed", 409, "当前不在兑换时间内")
IdempotencyMismatch = _error("IdempotencyMismatch", "idempotency_mismatch", 409, "重复请求的内容与首次不一致")
PayloadTooLarge = _error("PayloadTooLarge", "payload_too_large", 413, "提交的内容过大")
StorageFull = _error("StorageFull", "storage_full", 507, "服务器存储空间已满，照片暂时无法保存，请稍后重试")
UnsupportedImage = _error("UnsupportedImage", "unsupported_image", 415, "不支持的图片格式或图片已损坏")
RateLimited = _error("RateLimited", "rate_limited", 429, "操作过于频繁，请稍后再试")
WechatCodeInvalid = _error("WechatCodeInvalid", "wechat_code_invalid", 401, "微信登录凭证无效或已使用，请重新登录")
WechatUnavailable = _error("WechatUnavailable", "wechat_unavailable", 503, "微信服务暂时不可用，请稍后重试")
BindingCodeInvalid = _error("BindingCodeInvalid", "binding_code_invalid", 422, "绑定码无效或已作废")
BindingFull = _error("BindingFull", "binding_full", 409, "本户绑定的手机数已达家庭人数，请联系村里解绑不用的手机")
InvitationInvalid = _error("InvitationInvalid", "invitation_invalid", 422, "邀请码无效、已使用或已过期，请重新索取")
ServiceUnavailable = _error("ServiceUnavailable", "service_unavailable", 503, "服务暂时不可用，请稍后重试")
InternalError = _error("InternalError", "internal_error", 500, "服务器内部错误，请稍后重试")
MethodNotAllowed = _error("MethodNotAllowed", "method_not_allowed", 405, "不支持该请求方法")
ClaimAlreadyDecided = _error("ClaimAlreadyDecided", "claim_already_decided", 409, "该申报已审核，不能重复处理")
AlreadyReviewed = _error("AlreadyReviewed", "already_reviewed", 409, "您已审核过该申报")
CapReached = _error("CapReached", "cap_reached", 409, "该事项本周期已达上限")
DuplicateClaim = _error("DuplicateClaim", "duplicate_claim", 409, "同一事项同一天已申报过")
NoRuleBook = _error("NoRuleBook", "no_rule_book", 404, "本村尚未设置积分规则")
SurveyNotInvited = _error("SurveyNotInvited", "survey_not_invited", 403, "您家不在本次测评的抽样范围内")
SurveyNotOpen = _error("SurveyNotOpen", "survey_not_open", 409, "本次测评尚未开始")
SurveyClosed = _error("SurveyClosed", "survey_closed", 409, "本次测评已结束，不能再提交")
SurveyAlreadyAnswered = _error("SurveyAlreadyAnswered", "survey_already_answered", 409, "您家已提交过本次测评")
InvalidAnswer = _error("InvalidAnswer", "invalid_answer", 422, "答卷内容不符合题目要求")
NotPosted = _error("NotPosted", "not_posted", 403, "您当前没有驻村任务")
RecordLocked = _error("RecordLocked", "record_locked", 409, "纪实只能在填写当天修改，之后请提交补正说明")
LeaveOverlap = _error("LeaveOverlap", "leave_overlap", 409, "请假时间与已有的请假重叠")
LeaveAlreadyDecided = _error("LeaveAlreadyDecided", "leave_already_decided", 409, "该请假已审批，不能重复处理")
ProblemStateConflict = _error("ProblemStateConflict", "problem_state_conflict", 409, "问题当前状态不能执行该操作")
MonthAlreadyClosed = _error("MonthAlreadyClosed", "month_already_closed", 409, "该月已公示，不能重复关账")
ObjectionWindowClosed = _error("ObjectionWindowClosed", "objection_window_closed", 409, "公示期已过，不能再提出申诉")
ObjectionWindowOpen = _error("ObjectionWindowOpen", "objection_window_open", 409, "公示期尚未结束，暂不能锁定")
ObjectionsPending = _error("ObjectionsPending", "objections_pending", 409, "还有未处理的申诉，请先处理")
ObjectionAlreadyDecided = _error("ObjectionAlreadyDecided", "objection_already_decided", 409, "该申诉已处理")
PhotoNotFound = _error("PhotoNotFound", "photo_not_found", 422, "照片不存在或不是您上传的，请重新上传")
PhotoAlreadyUsed = _error("PhotoAlreadyUsed", "photo_already_used", 409, "照片已用于其他记录，请重新上传")
PhotoUnusable = _error("PhotoUnusable", "photo_unusable", 422, "照片已损坏无法处理，请重新拍摄上传")
TooManyPhotos = _error("TooManyPhotos", "too_many_photos", 422, "照片数量超过上限")
PhotoRequired = _error("PhotoRequired", "photo_required", 422, "请上传照片")
RedemptionVetoed = _error("RedemptionVetoed", "redemption_vetoed", 409, "本户本月有一票否决事项，本月不能兑换")
RedemptionLimitReached = _error("RedemptionLimitReached", "redemption_limit_reached", 409, "该商品本期兑换数量已达上限")
ProductUnavailable = _error("ProductUnavailable", "product_unavailable", 409, "该商品已下架")
RedemptionNotPending = _error("RedemptionNotPending", "redemption_not_pending", 409, "该兑换已处理，不能再取消或审核")
RedemptionNotApproved = _error("RedemptionNotApproved", "redemption_not_approved", 409, "该兑换不在待领取状态")
PickupCodeInvalid = _error("PickupCodeInvalid", "pickup_code_invalid", 422, "取货码不正确")
PickupCodeAmbiguous = _error("PickupCodeAmbiguous", "pickup_code_ambiguous", 409, "您管的几个村都有这个取货码")
RuleVersionInForce = _error("RuleVersionInForce", "rule_version_in_force", 409, "该版本已生效，不能修改，请新建版本")
