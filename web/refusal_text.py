"""What a refusal means, in the reader's language, keyed by the use case's error code.

Why a table of its own: the use cases explain themselves in one language (English, with the field names a
script or a log reader needs); a page read by a sponsor in Chinese needs the meaning in Chinese, and the exact
English line only as a detail to quote to the PMO. Codes missing here fall back to that English line alone.
"""

from __future__ import annotations

from collections.abc import Mapping

REFUSALS: Mapping[str, tuple[str, str]] = {
    "round.closed": (
        "This approval round is closed: it was decided or cancelled, so votes are no longer taken.",
        "该审批轮次已结束（已决策或已取消），不再接受投票。",
    ),
    "vote.duplicate": ("You have already voted in this round.", "您已在本轮次中投过票。"),
    "vote.not_approver": ("You do not hold a seat in this approval round.", "您不是本审批轮次的审批人。"),
    "vote.not_your_turn": (
        "This gate takes votes in order, and it is not your turn yet.",
        "本阶段门按顺序投票，尚未轮到您。",
    ),
    "vote.evidence_mismatch": (
        "The evidence changed since this page was shown; open the link again to see what you sign.",
        "页面显示后证据已发生变化；请重新打开链接，查看您要签署的内容。",
    ),
    "vote.request_closed": (
        "Your request for changes was already answered; vote on the current evidence.",
        "您的修改请求已得到处理；请就当前证据投票。",
    ),
    "vote.condition_person_unknown": (
        "A condition names an owner or verifier who is not a known person.",
        "某项条件指定的负责人或核验人不是系统中的人员。",
    ),
    "security.refused": (
        "Refused by the gate's segregation-of-duties or delegation rules; the attempt was recorded.",
        "因阶段门的职责分离或授权规则被拒绝；此次尝试已记录在审计日志中。",
    ),
    "auth.role": ("Your roles do not allow this act.", "您的角色不允许执行此操作。"),
    "auth.conflict_of_interest": (
        "Nobody judges their own project: as its manager you may not do this.",
        "任何人不得评判自己的项目：作为项目经理，您不能执行此操作。",
    ),
    "auth.disabled": ("This account is disabled and can no longer act.", "该账户已停用，不能再执行任何操作。"),
    "auth.voter": ("A vote is its voter's own act.", "投票只能由投票人本人进行。"),
    "signature.throttled": (
        "Too many wrong signatures in the last 15 minutes; wait, then sign again.",
        "过去 15 分钟内签名错误次数过多；请稍后再签署。",
    ),
    "request.too_large": (
        "The request was larger than this server accepts, so nothing was recorded.",
        "请求超出了服务器可接受的大小，未记录任何内容。",
    ),
    "round.not_found": ("There is no such approval round.", "不存在该审批轮次。"),
}


def explain(code: str | None, locale: str) -> str | None:
    """The meaning of refusal ``code`` in ``locale`` (``en`` or ``zh-CN``), or None when the table lacks it."""
    said = REFUSALS.get(code or "")
    if said is None:
        return None
    return said[1] if locale == "zh-CN" else said[0]
