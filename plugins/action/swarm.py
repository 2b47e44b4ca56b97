# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs docknet.fabric.swarm and hides a result that carries swarm secrets.

A module cannot mark its own result no_log, and masking the tokens inside the
module would make them useless to later tasks. So this action plugin runs the
module unchanged and, when the result holds a join token or an unlock key,
marks it ``_ansible_no_log``: callbacks (every verbosity, the log file) show
only ``changed``, while ``register`` keeps the whole result.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

SECRET_KEYS = ('join_tokens', 'unlock_key')


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        result.update(self._execute_module(module_name=self._task.resolved_action or 'docknet.fabric.swarm',
                                           task_vars=task_vars))
        if any(result.get(key) for key in SECRET_KEYS):
            result['_ansible_no_log'] = True
        return result
