"""Zeroconf (mDNS) advertisement as ``_wyoming._tcp``, so Home Assistant finds the server by itself."""

from __future__ import annotations

import logging
import socket

from zeroconf import Error as ZeroconfError
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger("assistant.wyoming")

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


class Advertiser:
    """The registered service; ``close`` withdraws it so Home Assistant does not keep a stale entry."""

    def __init__(self, zeroconf: AsyncZeroconf, info: AsyncServiceInfo) -> None:
        self._zeroconf = zeroconf
        self._info = info

    async def close(self) -> None:
        await self._zeroconf.async_unregister_service(self._info)
        await self._zeroconf.async_close()


async def advertise(name: str, port: int, host: str) -> Advertiser | None:
    """Announce ``name`` on ``port``; a wildcard ``host`` is replaced by the address other machines reach.

    None (with a warning) when there is no network to announce on: the server still serves.
    """
    try:
        address = _lan_address() if host in ("0.0.0.0", "::", "") else host
        info = AsyncServiceInfo(
            SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", addresses=[socket.inet_aton(address)], port=port,
        )
        zeroconf = AsyncZeroconf()
        await zeroconf.async_register_service(info)
    except (OSError, ZeroconfError) as exc:
        log.warning("cannot advertise on zeroconf (%s): add the server in Home Assistant by its address", exc)
        return None
    log.info("advertised as %s on %s:%d (zeroconf)", name, address, port)
    return Advertiser(zeroconf, info)


def _lan_address() -> str:
    """The address this machine sends multicast from: the one Home Assistant on the LAN can reach."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((_MDNS_GROUP, 1))
        return probe.getsockname()[0]
