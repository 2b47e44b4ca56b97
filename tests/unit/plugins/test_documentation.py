# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' documentation: every option says when it was added, examples pull nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

PLUGINS = Path(__file__).resolve().parents[3] / 'plugins'
DOCUMENTED = sorted(PLUGINS.glob('modules/*.py')) + sorted(PLUGINS.glob('doc_fragments/*.py'))


def documentation(path):
    """Every DOCUMENTATION block of a file (a doc fragment may hold several)."""
    return [yaml.safe_load(block) for block in re.findall(r"DOCUMENTATION = r'''(.*?)'''", path.read_text(), re.S)]


def without_version_added(options, path=''):
    missing = []
    for name, option in (options or {}).items():
        if 'version_added' not in option:
            missing.append(path + name)
        missing += without_version_added(option.get('suboptions'), '%s%s.' % (path, name))
    return missing


@pytest.mark.parametrize('path', sorted(PLUGINS.glob('modules/*.py')), ids=lambda p: p.name)
def test_documentation_examples_and_return_are_yaml(path):
    for block in ('DOCUMENTATION', 'EXAMPLES', 'RETURN'):
        text = re.search(r"%s = r'''(.*?)'''" % block, path.read_text(), re.S).group(1)
        assert yaml.safe_load(text), (path.name, block)


@pytest.mark.parametrize('path', DOCUMENTED, ids=lambda p: p.name)
def test_every_option_and_suboption_says_when_it_was_added(path):
    # ansible-doc prints "added in" for suboptions only, unless run with -v: the data is there for all.
    for doc in documentation(path):
        assert without_version_added(doc.get('options')) == [], path.name


@pytest.mark.parametrize('path', sorted(PLUGINS.glob('modules/*.py')), ids=lambda p: p.name)
def test_examples_use_the_lab_image_nothing_is_pulled(path):
    examples = re.search(r"EXAMPLES = r'''(.*?)'''", path.read_text(), re.S).group(1)
    assert 'busybox:stable' not in examples, path.name
