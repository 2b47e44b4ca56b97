# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: records every task result as JSON for the pytest harness."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: recorder
type: aggregate
short_description: Write every task result to the JSON file named by DOCKNET_RECORD_FILE
description:
  - Used by docknet.fabric's integration tests to read results without parsing screen output.
requirements:
  - enabled in callbacks_enabled
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'recorder'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._records = []

    def _record(self, result, status):
        recorded = self._clean(result._result)
        # ansible-core 2.19 no longer keeps 'failed' in the result it hands
        # callbacks; the status says it, so put it back where tests look.
        if status == 'failed':
            recorded['failed'] = True
        self._records.append({
            'task': result._task.get_name(),
            'host': result._host.get_name(),
            'status': status,
            'result': recorded,
        })

    @staticmethod
    def _clean(value):
        return json.loads(json.dumps(value, default=str))

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('DOCKNET_RECORD_FILE')
        if path:
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump(self._records, handle)
