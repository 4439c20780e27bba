"""CrossGuard policy pack entry point (``pulumi preview --policy-pack policies``).

Thin by design: the policies are the compliance engine's resource-level rules, adapted in
``policies.crossguard``. Constructing ``PolicyPack`` serves the pack to the Pulumi engine (it blocks),
so nothing else may import this module.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.crossguard import PACK_NAME, build_policies

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.ADVISORY)
