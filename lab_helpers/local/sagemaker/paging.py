"""List* helpers with SageMaker's semantics: ``MaxResults``/``NextToken`` pages, sorting, time filters."""

import base64
import json
from datetime import datetime

from ..errors import validation


def paginate(items, params, key, default_max=50):
    """Slice ``items`` with AWS-style ``MaxResults``/``NextToken``; returns the response dict."""
    max_results = params.get("MaxResults", default_max)
    if not 1 <= int(max_results) <= 100:
        raise validation(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
            "constraint: Member must have value less than or equal to 100"
        )
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(json.loads(base64.b64decode(token.encode()).decode())["offset"])
        except Exception as exc:
            raise validation("Invalid pagination token: NextToken is not one this service returned.") from exc
    page = items[start : start + int(max_results)]
    out = {key: page}
    if start + int(max_results) < len(items):
        out["NextToken"] = base64.b64encode(json.dumps({"offset": start + int(max_results)}).encode()).decode()
    return out


def sort_items(items, params, fields, default_field, default_order="Descending"):
    """Sort by the request's ``SortBy`` (mapped through ``fields``) and ``SortOrder``."""
    field = fields.get(params.get("SortBy") or default_field, fields[default_field])
    reverse = (params.get("SortOrder") or default_order) == "Descending"
    return sorted(items, key=lambda item: (item.get(field) is None, item.get(field)), reverse=reverse)


def filter_created(items, params, after="CreatedAfter", before="CreatedBefore", field="CreationTime"):
    """Keep the items created strictly between the request's ``after`` and ``before`` times."""
    lo, hi = params.get(after), params.get(before)
    out = []
    for item in items:
        t = item.get(field)
        if lo is not None and t <= _epoch(lo):
            continue
        if hi is not None and t >= _epoch(hi):
            continue
        out.append(item)
    return out


def _epoch(value):
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
