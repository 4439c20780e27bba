"""The parts of the compliance scan, one job each; :mod:`compliance.scanner` runs them in order.

* :mod:`.context`  — options, and what a scan loads once (register, catalogue, scoring, waivers);
* :mod:`.shard`    — which systems a shard of a sharded scan judges (``xzgov scan --shard K/N``);
* :mod:`.hosts`    — the Ansible inventory's hosts as scan targets, and the SSH transport per host;
* :mod:`.gather`   — host facts gathered in parallel, per-host timeouts, a progress callback;
* :mod:`.points`   — the rules run at each enforcement point (manifest, planned resources, hosts);
* :mod:`.items`    — the state machine of one catalogue item (rules, waivers, attestations);
* :mod:`.dengbao`  — the 等保 score card;
* :mod:`.miping`   — the 密评 D/A/K test objects and score card;
* :mod:`.collector` — garbage-collector settings for a scan's span (loaded inputs frozen).
"""
