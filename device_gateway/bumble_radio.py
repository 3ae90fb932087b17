"""A simulated radio on Google's bumble stack: virtual controllers on one local link.

bumble's virtual controller reports every advertisement at RSSI −50 dBm and does not answer
HCI Read RSSI; :class:`RssiController` sets both from the :class:`Radio`'s table (one value per
advertiser address, settable at any time), which is what proximity needs. The gateway's side
of the radio is a controller like any other; :meth:`Radio.serve_hci` exposes one over bumble's
TCP HCI transport so a gateway in another process can use it (``hideez-idp key-sim``).
"""

from __future__ import annotations

import socket
from typing import Any

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink, Transport
from bumble.transport.tcp_server import open_tcp_server_transport_with_socket

DEFAULT_RSSI = -50


class Radio:
    """One shared medium: a bumble local link and what each advertiser's signal strength is."""

    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self._rssi: dict[str, int] = {}
        self._addresses = 0

    def rssi(self, address: hci.Address | str) -> int:
        return self._rssi.get(_key(address), DEFAULT_RSSI)

    def set_rssi(self, address: hci.Address | str, rssi: int) -> None:
        if not -127 <= rssi <= 20:
            raise ValueError(f"rssi: -127 to 20 dBm, got {rssi}")
        self._rssi[_key(address)] = rssi

    def next_address(self) -> hci.Address:
        """A fresh static random address for a device on this radio."""
        self._addresses += 1
        n = self._addresses
        return hci.Address(f"C0:00:00:{(n >> 16) & 0xFF:02X}:{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}")

    def device(self, name: str, address: hci.Address | None = None) -> Device:
        """A bumble device (host + controller) on this radio; call ``power_on`` before use."""
        controller = RssiController(name, radio=self)
        host = Host(controller, AsyncPipeSink(controller))
        return Device(name=name, address=address or self.next_address(), host=host)

    async def serve_hci(
        self, name: str, *, host: str = "127.0.0.1", port: int = 0
    ) -> tuple[Transport, int]:
        """A controller on this radio behind a TCP HCI server; returns it and its port."""
        sock = socket.create_server((host, port))
        bound = int(sock.getsockname()[1])
        transport = await open_tcp_server_transport_with_socket(sock)
        RssiController(name, radio=self, host_source=transport.source, host_sink=transport.sink)
        return transport, bound


def _is_scan_response(report: Any) -> bool:
    legacy = hci.HCI_LE_Advertising_Report_Event.EventType.SCAN_RSP
    extended = hci.HCI_LE_Extended_Advertising_Report_Event.EventType.SCAN_RESPONSE
    if isinstance(report, hci.HCI_LE_Advertising_Report_Event.Report):
        return bool(report.event_type == legacy)
    return bool(report.event_type & extended)


def _key(address: hci.Address | str) -> str:
    # bumble renders a random address with a "/P" suffix for public ones; compare bare
    return str(address).split("/")[0].upper()


class RssiController(Controller):
    """bumble's controller, with RSSI from the radio's table and an answer to Read RSSI."""

    def __init__(self, name: str, *, radio: Radio, **kwargs: Any) -> None:
        super().__init__(name, link=radio.link, **kwargs)
        self.radio = radio
        self._advertiser: hci.Address | None = None

    def on_advertising_pdu(self, pdu: Any) -> None:
        self._advertiser = pdu.advertiser_address
        try:
            super().on_advertising_pdu(pdu)
        finally:
            self._advertiser = None

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        advertiser = self._advertiser
        if advertiser is not None and isinstance(
            packet,
            hci.HCI_LE_Advertising_Report_Event | hci.HCI_LE_Extended_Advertising_Report_Event,
        ):
            rssi = self.radio.rssi(advertiser)
            for report in packet.reports:
                report.rssi = rssi
                if _is_scan_response(report):
                    # bumble answers a scan with the advertising data again; a real
                    # controller sends the advertiser's scan response (the key's name)
                    report.data = self._scan_response_of(advertiser)
        super().send_hci_packet(packet)

    def _scan_response_of(self, address: hci.Address) -> bytes:
        peer = self.link.find_le_controller(address)
        if peer is None:
            return b""
        if peer.le_legacy_advertiser.enabled:
            return bytes(peer.le_legacy_advertiser.scan_response_data)
        for advertising_set in peer.advertising_sets.values():
            if advertising_set.enabled and advertising_set.address == address:
                return bytes(advertising_set.scan_response_data)
        return b""

    def on_hci_read_rssi_command(
        self, command: hci.HCI_Read_RSSI_Command
    ) -> hci.HCI_Read_RSSI_ReturnParameters:
        connection = self.find_connection_by_handle(command.handle)
        if connection is None:
            return hci.HCI_Read_RSSI_ReturnParameters(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                handle=command.handle,
                rssi=0,
            )
        return hci.HCI_Read_RSSI_ReturnParameters(
            status=hci.HCI_ErrorCode.SUCCESS,
            handle=command.handle,
            rssi=self.radio.rssi(connection.peer_address),
        )
