"""Policy-as-code: pure rules over named facts."""
