"""The translation page at ``/``: static files served by the node and the coordinator alike."""

from .page import CONTENT_SECURITY_POLICY, add_translation_page

__all__ = ["CONTENT_SECURITY_POLICY", "add_translation_page"]
