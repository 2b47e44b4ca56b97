# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network modules' options, documented once in a generated fragment, say what the argument spec says."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.docknet.fabric.plugins.doc_fragments._network_options import ModuleDocFragment
from ansible_collections.docknet.fabric.plugins.module_utils._network_spec import network_argument_spec, network_spec
from ansible_collections.docknet.fabric.tests.unit.plugins.test_documentation import without_version_added

BLOCKS = ('DOCUMENTATION', 'BRIDGE', 'OVERLAY', 'MACVLAN')


def documented(driver):
    """The options a ``<driver>_network`` module shows: the common block merged with the driver's."""
    options = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options'])
    options.update(yaml.safe_load(getattr(ModuleDocFragment, driver.upper()))['options'])
    return options


@pytest.mark.parametrize('block', BLOCKS)
def test_every_generated_option_says_when_it_was_added(block):
    assert without_version_added(yaml.safe_load(getattr(ModuleDocFragment, block))['options']) == []


@pytest.mark.parametrize('driver', ['bridge', 'overlay', 'macvlan'])
def test_the_documented_options_are_the_argument_spec(driver):
    options = documented(driver)
    spec = network_argument_spec(driver, {})
    assert sorted(options) == sorted(spec)
    entries = options['networks']['suboptions']
    assert sorted(entries) == sorted(network_spec(driver))
    for name, entry in entries.items():
        assert entry.get('type') == spec['networks']['options'][name].get('type'), name
        assert entry.get('choices') == spec['networks']['options'][name].get('choices'), name
    assert entries['name']['required'] is True
