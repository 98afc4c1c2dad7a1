"""Rows a rule names: agents (`assigned_to`) and points of sale (ids or codes). Validated
with an account, they must be its own (a foreign or unknown id is a 400 on that value,
as everywhere in the API), and points of sale named by code are stored by id."""

from dataclasses import dataclass, field
from typing import Any

from accounts.models import Account, Agent
from crm_project.tenancy import account_scope
from orders.models import PointOfSale
from segments.rules.errors import Errors
from segments.rules.values import as_uuid


@dataclass
class References:
    agents: list[tuple[str, str]] = field(default_factory=list)  # (path, id)
    points_of_sale: list[tuple[str, str]] = field(default_factory=list)  # (path, id or code)
    pos_ids: dict[str, str] = field(default_factory=dict)  # id or code -> id, once checked

    def check(self, account: Account, errors: Errors) -> None:
        """One query per kind of reference."""
        with account_scope(account):
            if self.agents:
                known = {
                    str(pk)
                    for pk in Agent.objects.filter(
                        pk__in={ref for _, ref in self.agents}
                    ).values_list("pk", flat=True)
                }
                for path, ref in self.agents:
                    if ref not in known:
                        errors.add(path, f"No agent {ref} in this account.", "does_not_exist")
            if self.points_of_sale:
                refs = {ref for _, ref in self.points_of_sale}
                ids = {ref for ref in refs if as_uuid(ref) is not None}
                rows = PointOfSale.objects.filter(pk__in=ids) | PointOfSale.objects.filter(
                    code__in=refs - ids
                )
                for pk, code in rows.values_list("pk", "code"):
                    self.pos_ids[str(pk)] = self.pos_ids[code] = str(pk)
                for path, ref in self.points_of_sale:
                    if ref not in self.pos_ids:
                        errors.add(
                            path, f"No point of sale {ref!r} in this account.", "does_not_exist"
                        )

    def by_id(self, node: Any) -> Any:
        """`node` with its points of sale named by id: the rule keeps meaning the same
        point of sale, and its SQL compares ids (which the orders' (account, pos) index
        and the planner's statistics serve best)."""
        if not self.pos_ids or not isinstance(node, dict):
            return node
        if "rules" in node:
            return {**node, "rules": [self.by_id(child) for child in node["rules"]]}
        if node.get("type") == "bought_in_pos":
            ids = [self.pos_ids.get(ref, ref) for ref in node["pos_ids"]]
            return {**node, "pos_ids": list(dict.fromkeys(ids))}
        if node.get("type") == "transaction_percent_in_pos":
            return {**node, "pos_id": self.pos_ids.get(node["pos_id"], node["pos_id"])}
        return node
