# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the user's and Docker's values in one form (pure, tested by tables).

Every engine reads durations, booleans and addresses written several ways:
``1m30s`` or ``90``, ``"true"`` or ``"1"``, ``2001:DB8::1`` or ``2001:db8::1``,
an address with or without a prefix length. This module is the one place that
turns them into one form, so two engines never disagree on what a value means.
Nothing here talks to Docker.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

SECOND = 10 ** 9   # Docker's durations are nanoseconds

_DURATION_UNITS = {'ns': 1, 'us': 10 ** 3, 'µs': 10 ** 3, 'ms': 10 ** 6, 's': SECOND,
                   'm': 60 * SECOND, 'h': 3600 * SECOND, 'd': 86400 * SECOND}
_DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)')
_PLAIN_NUMBER = re.compile(r'\d+(?:\.\d+)?')

_TRUE = ('true', 'yes', 'on', '1', 'y', 't')
_FALSE = ('false', 'no', 'off', '0', 'n', 'f')


# --- durations -----------------------------------------------------------------

def parse_duration(value, field, positive=False):
    """``'1m30s'``, ``'90d'``, ``'500ms'``, ``'10'`` or ``10`` (seconds) -> nanoseconds.

    One grammar for every option (Go's units plus ``d`` for days, spaces
    between parts allowed). ``positive=True`` refuses zero, for settings where
    Docker reads zero as "not set" (certificate expiry, dispatcher heartbeat).
    """
    example = 'write it like 10s, 1m30s, 500ms or 90d'
    if isinstance(value, bool) or value is None:
        raise FabricError('%s: %r is not a duration; %s.' % (field, value, example))
    if isinstance(value, (int, float)):
        if value < 0:
            raise FabricError('%s: %r is not a duration: it is negative; %s.' % (field, value, example))
        nanos = int(round(value * SECOND))
    else:
        text = str(value).strip().replace(' ', '')
        parts = _DURATION_PART.findall(text)
        if _PLAIN_NUMBER.fullmatch(text):
            nanos = int(round(float(text) * SECOND))
        elif text and ''.join(number + unit for number, unit in parts) == text:
            nanos = int(round(sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)))
        else:
            raise FabricError('%s: %r is not a duration; %s.' % (field, value, example))
    if positive and nanos <= 0:
        raise FabricError('%s: the duration must be longer than zero, got %r.' % (field, value))
    return nanos


def format_duration(nanos):
    """Nanoseconds -> the shortest readable form (``'90d'``, ``'1h30m'``, ``'0s'``); None stays None."""
    if nanos is None:
        return None
    nanos = int(nanos)
    if nanos == 0:
        return '0s'
    parts = []
    for unit in ('d', 'h', 'm', 's', 'ms', 'us', 'ns'):
        size = _DURATION_UNITS[unit]
        if nanos >= size:
            parts.append('%d%s' % (nanos // size, unit))
            nanos %= size
    return ''.join(parts)


# --- booleans ------------------------------------------------------------------

def to_bool(value, empty=False):
    """Docker stores booleans as strings (``"true"``, ``"1"``, for ``encrypted`` even ``""``).

    ``empty`` is what an empty string means. Raises ValueError for anything else.
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text == '':
        return empty
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError('%r is not a boolean' % (value,))


# --- addresses -----------------------------------------------------------------

def normalise_ip(text):
    """``'2001:DB8:0:0::1'`` -> ``'2001:db8::1'``. Raises ValueError for anything but a plain address."""
    return ipaddress.ip_address(str(text).strip()).compressed


def normalise_cidr(text):
    """``'2001:0db8::/64'`` -> ``'2001:db8::/64'``. Host bits set is an error: Docker wants the network."""
    text = str(text).strip()
    if '/' not in text:
        raise ValueError('%r is not in CIDR form (address/prefix length)' % text)
    try:
        return ipaddress.ip_network(text, strict=True).compressed
    except ValueError:
        network = ipaddress.ip_network(text, strict=False)  # raises for garbage
        raise ValueError('%r has host bits set; the network is %s' % (text, network.compressed))


def ip_or_none(text):
    """The canonical form of an address Docker reported, or None when it is not one.

    Docker 20.10 may keep a prefix length on a gateway (``10.0.0.1/24``): it is dropped.
    """
    try:
        return ipaddress.ip_address(str(text).strip().partition('/')[0]).compressed
    except ValueError:
        return None


def lenient_ip(text):
    """Like ``ip_or_none`` but keeps a value that is not an address as it is (for comparing Docker's view)."""
    return ip_or_none(text) or str(text).strip()


def lenient_cidr(text):
    """The canonical form of a subnet Docker reported (host bits allowed), or the text as it is."""
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False).compressed
    except ValueError:
        return str(text)


def is_ip(text):
    """Is ``text`` a plain IPv4 or IPv6 address (no prefix length, no brackets)?"""
    try:
        ipaddress.ip_address(str(text).strip())
    except ValueError:
        return False
    return True


def address_of_family(text, version, field):
    """A user's address that must be IPv``version``, canonical; FabricError that says what to give."""
    try:
        address = ipaddress.ip_address(str(text).strip())
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise FabricError('%s: %r is not an IPv%d address. Give a plain address like %s, without a prefix length.'
                          % (field, text, version, '10.0.0.5' if version == 4 else 'fd00::5'))
    return address.compressed


def split_host_port(addr, default_port):
    """``'10.0.0.1'`` -> ``('10.0.0.1', default_port)``; ``'[fe80::1]:2377'`` -> ``('fe80::1', 2377)``."""
    text = str(addr).strip()
    if text.startswith('['):
        host, _sep, rest = text[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else ''
    elif text.count(':') == 1:
        host, port = text.split(':')
    else:
        host, port = text, ''
    return host, int(port) if port.isdigit() else default_port
