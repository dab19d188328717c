"""Is this message a request for a human / technology-transfer service, or a question?

Rules decide the clear cases; in LLM mode an ambiguous one (a transfer-service topic without a
clear request or question form) is classified by the model. Questions *about* the services are
answered, not handed off.
"""
from __future__ import annotations

import re
from enum import StrEnum


class Intent(StrEnum):
    HANDOFF = "handoff"
    QUESTION = "question"
    UNSURE = "unsure"


_HUMAN = re.compile(
    r"转人工|人工客服|人工服务|找人工|真人|人工坐席|人工帮|^/human\b|^/manager\b|联系技术经理人$|"
    r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+)?(human|person|someone|agent|manager|staff)|"
    r"\b(human|real person|live agent)\b\s*(please)?\s*$|^human$",
    re.I,
)
_TOPIC = re.compile(
    r"成果转化|科技成果|转化|转让|技术转移|技术转让|专利|知识产权|技术许可|许可使用|技术经理人|技术经纪人|中试|概念验证|"
    r"产学研|技术对接|项目对接|成果对接|技术入股|孵化|投融资|融资对接|"
    r"technology[- ]transfer|tech[- ]transfer|licens|patent|commerciali[sz]|technology manager|"
    r"pilot[- ](scale|plant|platform|test)|proof[- ]of[- ]concept|spin[- ]?off|joint r&d",
    re.I,
)
_REQUEST = re.compile(
    r"帮我|帮忙|帮我们|替我|给我(们)?(联系|对接|介绍|推荐|安排)|联系(一下|一位|个|上)?|对接|找人|找个|找一位|找一个|想找|"
    r"我想|我们想|想要|需要(找|一位|一个|人|帮助|对接|服务)|我(们)?(公司|团队|单位|学校|实验室|课题组)?有(一|个|项|几|些)|"
    r"我(们)?(公司|团队|单位|实验室|课题组)|(能不能|能否)(帮|安排|给|请|介绍|推荐|联系)|可以帮|怎么联系|如何联系|联系方式|预约|申请服务|想转化|想转让|想许可|"
    r"\bI(['’]d| would| want| need| am looking| have)\b|\bwe(['’]d| would| want| need| are looking| have)\b|"
    r"\b(help|connect|introduce|put)\s+(me|us)\b|\b(contact|reach|talk|speak)\b|looking for|\bmy\b|\bour\b",
    re.I,
)
_ABOUT = re.compile(
    r"什么|哪|如何申请|怎么申请|是做什么|做什么的|干什么的|是指|含义|定义|作用|职责|有哪些|有什么|多少|几家|几个|政策|条件|标准|流程|"
    r"规定|是否|合规|合法|允许|有权|能不能自己|可不可以|可以.{0,12}吗|"
    r"what (is|are|does|do)|how many|how much|which|policy|policies|requirements?",
    re.I,
)


def classify_rules(text: str) -> Intent:
    """HANDOFF for an explicit human request or a personal transfer-service request; QUESTION when
    it is a plain question; UNSURE for a transfer topic whose form is ambiguous."""
    t = text.strip()
    if _HUMAN.search(t):
        return Intent.HANDOFF
    if not _TOPIC.search(t):
        return Intent.QUESTION
    request, about = bool(_REQUEST.search(t)), bool(_ABOUT.search(t))
    if request and not about:
        return Intent.HANDOFF
    if request and about:
        return Intent.HANDOFF if _strong_request(t) else Intent.UNSURE
    return Intent.QUESTION if about else Intent.UNSURE


_STRONG = re.compile(
    r"帮我|帮我们|联系|对接|找人|想找|怎么联系|如何联系|联系方式|预约|connect (me|us)|help (me|us)|"
    r"\b(contact|talk to|speak (to|with)|reach)\b",
    re.I,
)


def _strong_request(text: str) -> bool:
    return bool(_STRONG.search(text))


def parse_llm_label(raw: str) -> Intent:
    """Map the classifier's one-word output to an intent (anything unexpected counts as a question)."""
    word = raw.strip().upper()
    return Intent.HANDOFF if word.startswith("HANDOFF") else Intent.QUESTION
