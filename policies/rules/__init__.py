"""Rule modules: ``manifest`` (design), ``resources`` (planned Kubernetes resources), ``hosts`` (live hosts)."""
