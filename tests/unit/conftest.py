# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the checkout importable as ansible_collections.docknet.fabric for plain pytest."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINK = REPO / '.build' / 'collections' / 'ansible_collections' / 'docknet' / 'fabric'

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(REPO, target_is_directory=True)
if str(LINK.parents[2]) not in sys.path:
    sys.path.insert(0, str(LINK.parents[2]))
