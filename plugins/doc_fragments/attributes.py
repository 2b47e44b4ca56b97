# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """PRIVATE to docknet.fabric: attribute descriptions; each module states its own support level."""

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing anything.
  diff_mode:
    description: Reports what changed (or would change in check mode) as a before/after diff.
'''

    ACTIONGROUP_DOCKER = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/docknet.fabric.docker) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - docknet.fabric.docker
'''

    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module only reads, so it runs the same in check mode.
  diff_mode:
    support: N/A
    details:
      - This module only reads.
'''
