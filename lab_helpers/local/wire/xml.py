"""XML documents of the AWS REST-XML and query protocols (S3, STS): building them and reading their children."""

from __future__ import annotations

from xml.etree import ElementTree as ET

__all__ = ["child_text", "children", "local_name", "sub", "xml_bytes", "xml_root"]


def xml_root(tag: str, ns: str | None = None) -> ET.Element:
    """A new document element ``tag``, with ``xmlns=ns`` when a namespace is given."""
    root = ET.Element(tag)
    if ns:
        root.set("xmlns", ns)
    return root


def sub(parent: ET.Element, tag: str, text=None) -> ET.Element:
    """Append the child ``tag`` to ``parent``, with ``text`` (converted to str) unless it is None."""
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text if isinstance(text, str) else str(text)
    return element


def xml_bytes(root: ET.Element) -> bytes:
    """The UTF-8 document for ``root``, with the XML declaration AWS sends."""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8")


def local_name(tag: str) -> str:
    """``tag`` without its ``{namespace}`` prefix."""
    return tag.rsplit("}", 1)[-1]


def child_text(element: ET.Element, name: str) -> str | None:
    """The text of ``element``'s first child named ``name`` (any namespace): '' if empty, None if absent."""
    for child in element:
        if local_name(child.tag) == name:
            return child.text or ""
    return None


def children(element: ET.Element, name: str) -> list[ET.Element]:
    """``element``'s children named ``name`` (any namespace), in document order."""
    return [child for child in element if local_name(child.tag) == name]
