# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assertions on the recorded tasks of a play, shared by the swarm_service tests (single and list form)."""

from __future__ import annotations

import json


def ok(run, index, changed=None):
    """Task ``index`` of a play succeeded (by the recorder's status: ansible-core 2.19 drops ``failed``)."""
    record = run.records[index]
    assert record['status'] == 'ok', record
    if changed is not None:
        assert record['result'].get('changed') is changed, record
    return record['result']


def failed(run, index, *fragments):
    """Task ``index`` failed with a one-line message holding every fragment, and no traceback."""
    record = run.records[index]
    assert record['status'] == 'failed', record
    msg = record['result'].get('msg', '')
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)
    assert '\n' not in msg and 'Traceback' not in json.dumps(record['result']), record
    return record['result']
