# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's meta/argument_specs.yml is in sync with its defaults/main.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / 'roles'


@pytest.mark.parametrize('role', sorted(p.name for p in ROLES.iterdir() if (p / 'defaults' / 'main.yml').exists()))
def test_argument_specs_match_defaults(role):
    defaults = yaml.safe_load((ROLES / role / 'defaults' / 'main.yml').read_text()) or {}
    specs = yaml.safe_load((ROLES / role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']
    options = specs['main']['options']
    assert set(options) == set(defaults), (set(options) ^ set(defaults))
    for name, value in defaults.items():
        assert all(k.startswith(role + '_') for k in (name,)), name
        if 'default' in options[name]:
            assert options[name]['default'] == value, name
        else:
            assert value is None, '%s has a default but the spec gives none' % name
