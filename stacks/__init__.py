"""The Pulumi program of the government cloud: tenancies, extranet segments and disaster recovery.

Layout: :mod:`stacks.settings` (typed configuration), :mod:`stacks.render` (pure: register → Kubernetes
objects as plain dicts, the single source of truth), :mod:`stacks.components` (Pulumi
``ComponentResource`` wrappers that create exactly the rendered objects), :mod:`stacks.program` (builds
the components for one site), :mod:`stacks.mocks` (offline evaluation under recording mocks) and
:mod:`stacks.plan` (``plan_site``: the planned resources for ``xzgov plan`` and the scanner).
``stacks/__main__.py`` is the thin Pulumi entry point; nothing here creates resources at import time.
"""
