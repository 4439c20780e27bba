"""Pure render: register + settings → Kubernetes objects as plain dicts (no Pulumi here)."""

from stacks.render.context import SiteContext, site_context
from stacks.render.site import RenderedSegment, RenderedTenant, SiteRender, render_site

__all__ = ["RenderedSegment", "RenderedTenant", "SiteContext", "SiteRender", "render_site", "site_context"]
