"""WeCom channels: the self-built app ("wecom") and WeChat Customer Service ("wecom_kf").

The composition root calls ``create`` and ``create_kf`` (one channel per factory); each returns
None when its credentials are not set and raises ``ConfigError`` naming the missing setting when
it is half-configured. Both use the same callback URL by default: the app channel serves it and
hands ``kf_msg_or_event`` callbacks to the kf channel.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.wecom.settings import WeComSettings, load_wecom_settings

if TYPE_CHECKING:
    from adapters.wecom.app_channel import WeComAppChannel
    from adapters.wecom.kf_channel import WeComKfChannel
    from bot.engine import Engine
    from bot.settings import Settings


def create(engine: Engine, settings: Settings, wecom: WeComSettings | None = None) -> WeComAppChannel | None:
    """The self-built app channel, or None when ``WECOM_AGENT_ID`` is not set."""
    wecom = wecom or load_wecom_settings()
    if not wecom.app_enabled():
        return None
    from adapters.wecom.app_channel import WeComAppChannel

    return WeComAppChannel(engine, settings, wecom)


def create_kf(engine: Engine, settings: Settings, wecom: WeComSettings | None = None) -> WeComKfChannel | None:
    """The WeChat Customer Service channel, or None when ``WECOM_KF_OPEN_KFIDS`` is not set."""
    wecom = wecom or load_wecom_settings()
    if not wecom.kf_enabled():
        return None
    from adapters.wecom.kf_channel import WeComKfChannel

    return WeComKfChannel(engine, settings, wecom)


__all__ = ["WeComSettings", "create", "create_kf", "load_wecom_settings"]
